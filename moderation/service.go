package moderation

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"jobcast/live"
	"jobcast/store"
)

// Channel is what moderation needs of the real-time channel. chat.Service
// implements it; tests may use a fake. Implementations are safe for
// concurrent use and never block on a client.
type Channel interface {
	live.Publisher
	// ToUser sends an ephemeral event to one user's connections in room.
	ToUser(ctx context.Context, room live.RoomID, user live.UserID, ev live.Event) error
	// ToStaff sends an ephemeral event to the room's staff connections.
	ToStaff(ctx context.Context, room live.RoomID, ev live.Event) error
	// Kick closes user's connections in room on every node after ev.
	Kick(ctx context.Context, room live.RoomID, user live.UserID, ev live.Event) error
	// ChatMessage returns the chat message at seq still in history.
	ChatMessage(ctx context.Context, room live.RoomID, seq uint64) (live.ChatData, error)
	// DeleteMessage removes the message at seq from history and
	// publishes chat.deleted.
	DeleteMessage(ctx context.Context, room live.RoomID, seq uint64) error
}

// Config configures a Service.
type Config struct {
	// AdminEmails are the accounts that are admins (JOBCAST_ADMIN_EMAILS):
	// nobody may moderate them.
	AdminEmails []string
	// MaxMute caps a time-out [7 days].
	MaxMute time.Duration
	// Now is the clock [time.Now].
	Now func() time.Time
}

// Limits of moderation input.
const (
	MaxReasonChars = 500
	DefaultMaxMute = 7 * 24 * time.Hour
)

// EvHeldDecided tells the room's staff that a held message was approved
// or rejected, so every moderator's queue drops it (ephemeral, staff only).
const EvHeldDecided live.EventType = "chat.held.decided"

// HeldDecidedData is the payload of chat.held.decided.
type HeldDecidedData struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Service runs moderation actions. Create it with New. Every method blocks
// for a few database round trips and, after the change is committed, one
// broker call; all are safe for concurrent use.
type Service struct {
	db     *store.DB
	rooms  live.Rooms
	ch     Channel
	admins map[string]bool
	cfg    Config
	log    *slog.Logger
}

// New returns a moderation service over db, answering room access through
// rooms and announcing changes through ch.
func New(db *store.DB, rooms live.Rooms, ch Channel, cfg Config, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	if cfg.MaxMute <= 0 {
		cfg.MaxMute = DefaultMaxMute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	admins := map[string]bool{}
	for _, e := range cfg.AdminEmails {
		if e = store.NormalizeEmail(e); e != "" {
			admins[e] = true
		}
	}
	return &Service{db: db, rooms: rooms, ch: ch, admins: admins, cfg: cfg, log: log}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// actor loads the room and the actor's access and checks act: 401 for
// visitors, 404 for an unknown room, 403 when not allowed.
func (s *Service) actor(ctx context.Context, id live.Identity, room live.RoomID, act live.Action) (live.Room, live.RoomAccess, error) {
	if !id.SignedIn() {
		return live.Room{}, live.RoomAccess{}, live.Unauthenticated()
	}
	r, acc, err := s.rooms.Access(ctx, room, id)
	if err != nil {
		return r, acc, err
	}
	if !acc.Can(act) {
		return r, acc, live.Forbidden("only the room's host, its moderators or an admin can do this")
	}
	return r, acc, nil
}

// target loads what user is in room (with the admin flag from config).
func (s *Service) target(ctx context.Context, room live.RoomID, user live.UserID) (live.RoomAccess, error) {
	u, err := s.db.UserByID(ctx, user)
	if errors.Is(err, live.ErrNotFound) {
		return live.RoomAccess{}, &live.Error{Kind: live.KindNotFound, Code: "user_not_found", Message: "no such user", Fields: []string{"user_id"}}
	}
	if err != nil {
		return live.RoomAccess{}, err
	}
	id := live.Identity{UserID: u.ID, Name: u.Name, Admin: s.admins[store.NormalizeEmail(u.Email)]}
	_, acc, err := s.rooms.Access(ctx, room, id)
	return acc, err
}

// mayModerate explains why actor may not act on target, or returns nil.
func mayModerate(actor, target live.RoomAccess) error {
	if actor.CanModerate(target) {
		return nil
	}
	deny := func(msg string) error {
		return &live.Error{Kind: live.KindForbidden, Code: "cannot_moderate", Message: msg}
	}
	switch {
	case target.Identity.UserID == actor.Identity.UserID:
		return deny("you cannot moderate yourself")
	case target.Identity.Admin || target.Host:
		return deny("nobody can moderate the room's host or an admin")
	case target.Moderator:
		return deny("moderators cannot moderate each other; ask the host")
	}
	return deny("you cannot moderate this user")
}

func notEnded(r live.Room) error {
	if r.Status == live.RoomEnded {
		return live.InvalidState("room_ended", "the room has ended")
	}
	return nil
}

// cleanReason trims a reason and checks its length and characters.
func cleanReason(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", fieldErr("reason", "reason must be valid UTF-8")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > MaxReasonChars {
		return "", fieldErr("reason", "reason is at most 500 characters")
	}
	return s, nil
}

func fieldErr(field, msg string) *live.Error {
	return &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: msg, Fields: []string{field}}
}

// entry builds the audit row of an action: the actor's role and any extra
// facts go into Data (ids and settings only, never personal data).
func entry(r live.Room, acc live.RoomAccess, action, target, reason string, extra map[string]any) store.AuditEntry {
	data := map[string]any{"role": acc.Role()}
	for k, v := range extra {
		data[k] = v
	}
	b, _ := json.Marshal(data)
	return store.AuditEntry{RoomID: r.ID, OrgID: r.OrgID, ActorID: acc.Identity.UserID, Action: action,
		TargetID: target, Reason: reason, Data: string(b)}
}

// Audit actions.
const (
	ActionMessageDeleted = "message.deleted"
	ActionMuted          = "user.muted"
	ActionUnmuted        = "user.unmuted"
	ActionBanned         = "user.banned"
	ActionUnbanned       = "user.unbanned"
	ActionSettings       = "settings.changed"
	ActionHeldApproved   = "held.approved"
	ActionHeldRejected   = "held.rejected"
)

// announce runs a best-effort broker call after a committed change: the
// database is the truth and every node reads it on the next message or
// connection, so a failed announcement is logged, not returned.
func (s *Service) announce(ctx context.Context, room live.RoomID, what string, err error) {
	if err != nil {
		s.log.WarnContext(ctx, "moderation: announcing a change failed", "room", room, "what", what, "err", err)
	}
}

// DeleteMessage removes the chat message at seq from room's history (late
// joiners and recovering clients never get it) and tells every viewer
// (chat.deleted). Staff may delete their own messages; others' only when
// they may moderate the author. The audit row is written after the
// message is gone (history lives in the broker, not in the database).
func (s *Service) DeleteMessage(ctx context.Context, id live.Identity, room live.RoomID, seq uint64, reason string) error {
	reason, err := cleanReason(reason)
	if err != nil {
		return err
	}
	r, acc, err := s.actor(ctx, id, room, live.ActModerate)
	if err != nil {
		return err
	}
	msg, err := s.ch.ChatMessage(ctx, room, seq)
	if err != nil {
		return err
	}
	if msg.UserID != id.UserID {
		tgt, err := s.target(ctx, room, msg.UserID)
		if err != nil {
			return err
		}
		if err := mayModerate(acc, tgt); err != nil {
			return err
		}
	}
	if err := s.ch.DeleteMessage(ctx, room, seq); err != nil {
		return err
	}
	return s.db.AppendAudit(ctx, entry(r, acc, ActionMessageDeleted, string(msg.UserID), reason,
		map[string]any{"seq": seq, "message_id": msg.ID}))
}

// Mute times user out of room's chat for d and tells them (muted, with
// until) on whichever node they are connected. It returns the mute.
func (s *Service) Mute(ctx context.Context, id live.Identity, room live.RoomID, user live.UserID, d time.Duration, reason string) (store.Mute, error) {
	reason, err := cleanReason(reason)
	if err != nil {
		return store.Mute{}, err
	}
	if d < time.Second || d > s.cfg.MaxMute {
		return store.Mute{}, fieldErr("seconds", "seconds must be between 1 and "+itoa(int64(s.cfg.MaxMute/time.Second)))
	}
	r, acc, err := s.actor(ctx, id, room, live.ActModerate)
	if err != nil {
		return store.Mute{}, err
	}
	if err := notEnded(r); err != nil {
		return store.Mute{}, err
	}
	tgt, err := s.target(ctx, room, user)
	if err != nil {
		return store.Mute{}, err
	}
	if err := mayModerate(acc, tgt); err != nil {
		return store.Mute{}, err
	}
	now := s.now()
	until := now.Add(d)
	a := entry(r, acc, ActionMuted, string(user), reason, map[string]any{"seconds": int64(d / time.Second), "until": until})
	if err := s.db.MuteAudited(ctx, room, user, id.UserID, until, reason, a); err != nil {
		return store.Mute{}, err
	}
	s.announce(ctx, room, "muted", s.ch.ToUser(ctx, room, user, live.NewEvent(live.EvMuted, live.MutedData{Until: until, Reason: reason})))
	return store.Mute{UserID: user, Name: tgt.Identity.Name, Until: until, By: id.UserID, Reason: reason, CreatedAt: now}, nil
}

// Unmute lifts a running time-out early and tells the user (a muted event
// whose until is now).
func (s *Service) Unmute(ctx context.Context, id live.Identity, room live.RoomID, user live.UserID, reason string) error {
	reason, err := cleanReason(reason)
	if err != nil {
		return err
	}
	r, acc, err := s.actor(ctx, id, room, live.ActModerate)
	if err != nil {
		return err
	}
	tgt, err := s.target(ctx, room, user)
	if err != nil {
		return err
	}
	if err := mayModerate(acc, tgt); err != nil {
		return err
	}
	now := s.now()
	if err := s.db.UnmuteAudited(ctx, room, user, now, entry(r, acc, ActionUnmuted, string(user), reason, nil)); err != nil {
		if errors.Is(err, live.ErrNotFound) {
			return &live.Error{Kind: live.KindNotFound, Code: "not_muted", Message: "this user is not timed out"}
		}
		return err
	}
	s.announce(ctx, room, "unmuted", s.ch.ToUser(ctx, room, user, live.NewEvent(live.EvMuted, live.MutedData{Until: now})))
	return nil
}

// Ban bans user from room: stored with its audit row, then a banned event
// and a kick close their sockets and media sessions on every node. Chat,
// WebSocket and WHEP refuse them afterwards (read from the database), with
// any session. It reports whether the ban is new (a repeat updates the
// reason).
func (s *Service) Ban(ctx context.Context, id live.Identity, room live.RoomID, user live.UserID, reason string) (bool, error) {
	reason, err := cleanReason(reason)
	if err != nil {
		return false, err
	}
	r, acc, err := s.actor(ctx, id, room, live.ActModerate)
	if err != nil {
		return false, err
	}
	tgt, err := s.target(ctx, room, user)
	if err != nil {
		return false, err
	}
	if err := mayModerate(acc, tgt); err != nil {
		return false, err
	}
	created, err := s.db.BanAudited(ctx, room, user, id.UserID, reason, entry(r, acc, ActionBanned, string(user), reason, nil))
	if err != nil {
		return false, err
	}
	s.announce(ctx, room, "banned", s.ch.Kick(ctx, room, user, live.NewEvent(live.EvBanned, live.BannedData{Reason: reason})))
	return created, nil
}

// Unban lifts a ban; the user may watch and chat again.
func (s *Service) Unban(ctx context.Context, id live.Identity, room live.RoomID, user live.UserID, reason string) error {
	reason, err := cleanReason(reason)
	if err != nil {
		return err
	}
	r, acc, err := s.actor(ctx, id, room, live.ActModerate)
	if err != nil {
		return err
	}
	tgt, err := s.target(ctx, room, user)
	if err != nil {
		return err
	}
	// The target is banned, which takes a moderator's powers away, but
	// the rules are about who they are: check them as if not banned.
	tgt.Banned = false
	if err := mayModerate(acc, tgt); err != nil {
		return err
	}
	if err := s.db.UnbanAudited(ctx, room, user, entry(r, acc, ActionUnbanned, string(user), reason, nil)); err != nil {
		if errors.Is(err, live.ErrNotFound) {
			return &live.Error{Kind: live.KindNotFound, Code: "not_banned", Message: "this user is not banned from the room"}
		}
		return err
	}
	return nil
}

// Bans lists room's bans (staff only).
func (s *Service) Bans(ctx context.Context, id live.Identity, room live.RoomID) ([]store.Ban, error) {
	if _, _, err := s.actor(ctx, id, room, live.ActModerate); err != nil {
		return nil, err
	}
	return s.db.RoomBans(ctx, room)
}

// Mutes lists room's running time-outs (staff only).
func (s *Service) Mutes(ctx context.Context, id live.Identity, room live.RoomID) ([]store.Mute, error) {
	if _, _, err := s.actor(ctx, id, room, live.ActModerate); err != nil {
		return nil, err
	}
	return s.db.RoomMutes(ctx, room, s.now())
}

// SettingsPatch is a partial update of a room's settings; nil fields stay.
type SettingsPatch struct {
	SlowModeSeconds *int           `json:"slow_mode_seconds"`
	Chat            *live.ChatMode `json:"chat"`
	BlockedWords    *[]string      `json:"blocked_words"`
	MaskPII         *bool          `json:"mask_pii"`
	HoldScams       *bool          `json:"hold_scams"`
	Reason          string         `json:"reason"`
}

func (p SettingsPatch) empty() bool {
	return p.SlowModeSeconds == nil && p.Chat == nil && p.BlockedWords == nil && p.MaskPII == nil && p.HoldScams == nil
}

// apply merges p into cur, normalizes and validates the result as a whole.
// It returns the new settings and what changed (for the audit row).
func (p SettingsPatch) apply(cur live.RoomSettings) (live.RoomSettings, map[string]any, error) {
	set := cur
	set.BlockedWords = append([]string(nil), cur.BlockedWords...)
	changed := map[string]any{}
	if p.SlowModeSeconds != nil {
		set.SlowModeSeconds = *p.SlowModeSeconds
		changed["slow_mode_seconds"] = set.SlowModeSeconds
	}
	if p.Chat != nil {
		set.Chat = *p.Chat
		changed["chat"] = set.Chat
	}
	if p.BlockedWords != nil {
		set.BlockedWords = append([]string(nil), (*p.BlockedWords)...)
		changed["blocked_words"] = len(set.BlockedWords)
	}
	if p.MaskPII != nil {
		set.MaskPII = *p.MaskPII
		changed["mask_pii"] = set.MaskPII
	}
	if p.HoldScams != nil {
		set.HoldScams = *p.HoldScams
		changed["hold_scams"] = set.HoldScams
	}
	set.Normalize()
	if err := set.Validate(); err != nil {
		return live.RoomSettings{}, nil, err
	}
	return set, changed, nil
}

// UpdateSettings applies p to room's settings (normalized and validated as
// a whole; invalid input changes nothing), stores them with the audit row
// and publishes a settings event to every viewer. It returns the new
// settings.
func (s *Service) UpdateSettings(ctx context.Context, id live.Identity, room live.RoomID, p SettingsPatch) (live.RoomSettings, error) {
	reason, err := cleanReason(p.Reason)
	if err != nil {
		return live.RoomSettings{}, err
	}
	if p.empty() {
		return live.RoomSettings{}, live.Invalid("empty_patch", "send at least one of slow_mode_seconds, chat, blocked_words, mask_pii, hold_scams")
	}
	r, acc, err := s.actor(ctx, id, room, live.ActModerate)
	if err != nil {
		return live.RoomSettings{}, err
	}
	if err := notEnded(r); err != nil {
		return live.RoomSettings{}, err
	}
	set, changed, err := p.apply(r.Settings)
	if err != nil {
		return live.RoomSettings{}, err
	}
	if err := s.db.SetRoomSettingsAudited(ctx, room, set, entry(r, acc, ActionSettings, "", reason, map[string]any{"changed": changed})); err != nil {
		return live.RoomSettings{}, err
	}
	_, perr := s.ch.Publish(ctx, room, live.NewEvent(live.EvSettings, set))
	s.announce(ctx, room, "settings", perr)
	return set, nil
}

// Held lists room's pending held messages, oldest first (staff only).
func (s *Service) Held(ctx context.Context, id live.Identity, room live.RoomID, limit int) ([]store.HeldMessage, error) {
	if _, _, err := s.actor(ctx, id, room, live.ActModerate); err != nil {
		return nil, err
	}
	return s.db.HeldMessages(ctx, room, limit)
}

// Hold implements chat.HeldQueue: it stores a message the chat path held
// back so that moderators can decide on it from any node.
func (s *Service) Hold(ctx context.Context, room live.RoomID, msg live.ChatData, reason string) error {
	msg.Nonce = ""
	return s.db.HoldMessage(ctx, store.HeldMessage{ID: msg.ID, RoomID: room, UserID: msg.UserID, Message: msg, Reason: reason})
}

// DecideHeld approves (broadcasts as a normal chat message) or rejects
// (drops) a pending held message, with its audit row, and tells the staff
// (chat.held.decided). A message decided already is a 409.
func (s *Service) DecideHeld(ctx context.Context, id live.Identity, room live.RoomID, msgID string, approve bool, reason string) (store.HeldMessage, error) {
	reason, err := cleanReason(reason)
	if err != nil {
		return store.HeldMessage{}, err
	}
	r, acc, err := s.actor(ctx, id, room, live.ActModerate)
	if err != nil {
		return store.HeldMessage{}, err
	}
	status, action := store.HeldRejected, ActionHeldRejected
	if approve {
		if err := notEnded(r); err != nil {
			return store.HeldMessage{}, err
		}
		status, action = store.HeldApproved, ActionHeldApproved
	}
	h, err := s.db.HeldMessage(ctx, room, msgID)
	if err != nil {
		if errors.Is(err, live.ErrNotFound) {
			return h, live.NotFound("held message")
		}
		return h, err
	}
	h, err = s.db.DecideHeld(ctx, room, msgID, status, id.UserID, entry(r, acc, action, string(h.UserID), reason, map[string]any{"message_id": msgID}))
	if err != nil {
		if errors.Is(err, live.ErrNotFound) {
			return h, live.NotFound("held message")
		}
		return h, err
	}
	if approve {
		_, perr := s.ch.Publish(ctx, room, live.NewEvent(live.EvChat, h.Message))
		if perr != nil {
			// Committed as approved: say so rather than pretend it failed.
			s.log.ErrorContext(ctx, "moderation: broadcasting an approved message failed", "room", room, "err", perr)
			return h, &live.Error{Kind: live.KindUnavailable, Code: "broadcast_failed", Message: "approved, but the message could not be broadcast; the channel is unavailable", RetryAfter: time.Second}
		}
	}
	s.announce(ctx, room, "held decided", s.ch.ToStaff(ctx, room, live.NewEvent(EvHeldDecided, HeldDecidedData{ID: msgID, Status: status})))
	return h, nil
}

// AuditRow is one audit log line as the API shows it.
type AuditRow struct {
	ID       int64           `json:"id"`
	At       time.Time       `json:"at"`
	ActorID  live.UserID     `json:"actor_id,omitempty"`
	Role     live.Role       `json:"role,omitempty"`
	Action   string          `json:"action"`
	TargetID string          `json:"target_id,omitempty"`
	Reason   string          `json:"reason"`
	Data     json.RawMessage `json:"data"`
}

// Audit lists room's audit log newest first: at most limit rows with ids
// below before (0: from the newest). Host, moderators and admins only.
func (s *Service) Audit(ctx context.Context, id live.Identity, room live.RoomID, before int64, limit int) ([]AuditRow, error) {
	if _, _, err := s.actor(ctx, id, room, live.ActAudit); err != nil {
		return nil, err
	}
	es, err := s.db.RoomAudit(ctx, room, before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]AuditRow, 0, len(es))
	for _, e := range es {
		row := AuditRow{ID: e.ID, At: e.At, ActorID: e.ActorID, Action: e.Action, TargetID: e.TargetID, Reason: e.Reason, Data: json.RawMessage(e.Data)}
		var d struct {
			Role live.Role `json:"role"`
		}
		if json.Unmarshal([]byte(e.Data), &d) != nil {
			row.Data = json.RawMessage("{}")
		}
		row.Role = d.Role
		out = append(out, row)
	}
	return out, nil
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
