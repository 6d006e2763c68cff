package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"jobcast/live"
)

// Moderation migrations use versions from 1001 up so that they never collide
// with the core schema's sequence in schema.go; migrate checks each version
// on its own, so the order of appends does not matter.
func init() {
	migrations = append(migrations, migration{Version: 1001, Name: "moderation: held messages queue", SQL: `
CREATE TABLE room_held_messages (
	id         TEXT PRIMARY KEY,
	room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	message    TEXT NOT NULL,
	reason     TEXT NOT NULL DEFAULT '',
	status     TEXT NOT NULL DEFAULT 'pending',
	created_at BIGINT NOT NULL,
	decided_by TEXT REFERENCES users (id) ON DELETE SET NULL,
	decided_at BIGINT
);
CREATE INDEX room_held_pending ON room_held_messages (room_id, status, created_at)`})
}

// Held message states.
const (
	HeldPending  = "pending"
	HeldApproved = "approved"
	HeldRejected = "rejected"
)

// HeldMessage is a chat message held back for moderators (scam hold-back).
// ID is the chat message's id.
type HeldMessage struct {
	ID        string        `json:"id"`
	RoomID    live.RoomID   `json:"room_id"`
	UserID    live.UserID   `json:"user_id"`
	Message   live.ChatData `json:"message"`
	Reason    string        `json:"reason"`
	Status    string        `json:"status"`
	CreatedAt time.Time     `json:"created_at"`
	DecidedBy live.UserID   `json:"decided_by,omitempty"`
	DecidedAt *time.Time    `json:"decided_at,omitempty"`
}

// Ban is one ban of a room.
type Ban struct {
	UserID    live.UserID `json:"user_id"`
	Name      string      `json:"name"`
	By        live.UserID `json:"by,omitempty"`
	Reason    string      `json:"reason"`
	CreatedAt time.Time   `json:"created_at"`
}

// Mute is one time-out in a room.
type Mute struct {
	UserID    live.UserID `json:"user_id"`
	Name      string      `json:"name"`
	Until     time.Time   `json:"until"`
	By        live.UserID `json:"by,omitempty"`
	Reason    string      `json:"reason"`
	CreatedAt time.Time   `json:"created_at"`
}

// MuteAudited times user out in room until until (replacing an earlier
// mute) and appends audit in the same transaction.
func (db *DB) MuteAudited(ctx context.Context, room live.RoomID, user, by live.UserID, until time.Time, reason string, audit AuditEntry) error {
	return db.tx(ctx, func(x q) error {
		_, err := x.exec(ctx, `INSERT INTO room_mutes (room_id, user_id, until_at, by_user, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (room_id, user_id) DO UPDATE SET until_at = excluded.until_at, by_user = excluded.by_user,
			reason = excluded.reason, created_at = excluded.created_at`,
			room, user, ts(until), nullStr(string(by)), reason, ts(db.nowTime()))
		if err != nil {
			return fmt.Errorf("store: muting: %w", err)
		}
		return appendAudit(ctx, db, x, audit)
	})
}

// UnmuteAudited lifts a mute (live.ErrNotFound if there is none still
// running at now) and appends audit in the same transaction.
func (db *DB) UnmuteAudited(ctx context.Context, room live.RoomID, user live.UserID, now time.Time, audit AuditEntry) error {
	return db.tx(ctx, func(x q) error {
		res, err := x.exec(ctx, "DELETE FROM room_mutes WHERE room_id = ? AND user_id = ? AND until_at > ?", room, user, ts(now))
		if err != nil {
			return fmt.Errorf("store: unmuting: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("mute: %w", live.ErrNotFound)
		}
		return appendAudit(ctx, db, x, audit)
	})
}

// BanAudited bans user from room (a repeat updates reason and actor) and
// appends audit in the same transaction. It reports whether the ban is new.
func (db *DB) BanAudited(ctx context.Context, room live.RoomID, user, by live.UserID, reason string, audit AuditEntry) (bool, error) {
	created := false
	err := db.tx(ctx, func(x q) error {
		var n int
		if err := x.row(ctx, "SELECT COUNT(*) FROM room_bans WHERE room_id = ? AND user_id = ?", room, user).Scan(&n); err != nil {
			return fmt.Errorf("store: banning: %w", err)
		}
		created = n == 0
		_, err := x.exec(ctx, `INSERT INTO room_bans (room_id, user_id, by_user, reason, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (room_id, user_id) DO UPDATE SET by_user = excluded.by_user, reason = excluded.reason`,
			room, user, nullStr(string(by)), reason, ts(db.nowTime()))
		if err != nil {
			return fmt.Errorf("store: banning: %w", err)
		}
		return appendAudit(ctx, db, x, audit)
	})
	return created, err
}

// UnbanAudited lifts a ban (live.ErrNotFound if user was not banned) and
// appends audit in the same transaction.
func (db *DB) UnbanAudited(ctx context.Context, room live.RoomID, user live.UserID, audit AuditEntry) error {
	return db.tx(ctx, func(x q) error {
		res, err := x.exec(ctx, "DELETE FROM room_bans WHERE room_id = ? AND user_id = ?", room, user)
		if err != nil {
			return fmt.Errorf("store: unbanning: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("ban: %w", live.ErrNotFound)
		}
		return appendAudit(ctx, db, x, audit)
	})
}

// SetRoomSettingsAudited replaces a room's moderation settings (validated
// by the caller) and appends audit in the same transaction.
func (db *DB) SetRoomSettingsAudited(ctx context.Context, room live.RoomID, s live.RoomSettings, audit AuditEntry) error {
	return db.tx(ctx, func(x q) error {
		res, err := x.exec(ctx, `UPDATE rooms SET slow_mode_seconds = ?, chat_mode = ?, blocked_words = ?, mask_pii = ?, hold_scams = ?,
			updated_at = ? WHERE id = ?`, s.SlowModeSeconds, s.Chat, encodeList(s.BlockedWords), s.MaskPII, s.HoldScams,
			ts(db.nowTime()), room)
		if err != nil {
			return fmt.Errorf("store: updating room settings: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("room: %w", live.ErrNotFound)
		}
		return appendAudit(ctx, db, x, audit)
	})
}

// RoomBans lists a room's bans, newest first.
func (db *DB) RoomBans(ctx context.Context, room live.RoomID) ([]Ban, error) {
	rows, err := db.r().query(ctx, `SELECT b.user_id, u.name, b.by_user, b.reason, b.created_at FROM room_bans b
		JOIN users u ON u.id = b.user_id WHERE b.room_id = ? ORDER BY b.created_at DESC, b.user_id`, room)
	if err != nil {
		return nil, fmt.Errorf("store: listing bans: %w", err)
	}
	defer rows.Close()
	out := []Ban{}
	for rows.Next() {
		var b Ban
		var by sql.NullString
		var at int64
		if err := rows.Scan(&b.UserID, &b.Name, &by, &b.Reason, &at); err != nil {
			return nil, err
		}
		b.By, b.CreatedAt = live.UserID(by.String), fromTS(at)
		out = append(out, b)
	}
	return out, rows.Err()
}

// RoomMutes lists a room's time-outs still running at now, ending soonest
// first.
func (db *DB) RoomMutes(ctx context.Context, room live.RoomID, now time.Time) ([]Mute, error) {
	rows, err := db.r().query(ctx, `SELECT m.user_id, u.name, m.until_at, m.by_user, m.reason, m.created_at FROM room_mutes m
		JOIN users u ON u.id = m.user_id WHERE m.room_id = ? AND m.until_at > ? ORDER BY m.until_at, m.user_id`, room, ts(now))
	if err != nil {
		return nil, fmt.Errorf("store: listing mutes: %w", err)
	}
	defer rows.Close()
	out := []Mute{}
	for rows.Next() {
		var m Mute
		var by sql.NullString
		var until, at int64
		if err := rows.Scan(&m.UserID, &m.Name, &until, &by, &m.Reason, &at); err != nil {
			return nil, err
		}
		m.Until, m.By, m.CreatedAt = fromTS(until), live.UserID(by.String), fromTS(at)
		out = append(out, m)
	}
	return out, rows.Err()
}

// HoldMessage stores a held message as pending. A repeat of the same id is
// ignored (idempotent).
func (db *DB) HoldMessage(ctx context.Context, h HeldMessage) error {
	msg, err := json.Marshal(h.Message)
	if err != nil {
		return fmt.Errorf("store: encoding held message: %w", err)
	}
	if h.CreatedAt.IsZero() {
		h.CreatedAt = db.nowTime()
	}
	_, err = db.w().exec(ctx, `INSERT INTO room_held_messages (id, room_id, user_id, message, reason, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		h.ID, h.RoomID, h.UserID, string(msg), h.Reason, HeldPending, ts(h.CreatedAt))
	if err != nil {
		return fmt.Errorf("store: holding message: %w", err)
	}
	return nil
}

const heldCols = "id, room_id, user_id, message, reason, status, created_at, decided_by, decided_at"

func scanHeld(sc interface{ Scan(...any) error }, h *HeldMessage) error {
	var msg string
	var created int64
	var by sql.NullString
	var decided sql.NullInt64
	if err := sc.Scan(&h.ID, &h.RoomID, &h.UserID, &msg, &h.Reason, &h.Status, &created, &by, &decided); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(msg), &h.Message); err != nil {
		return fmt.Errorf("store: decoding held message: %w", err)
	}
	h.CreatedAt, h.DecidedBy, h.DecidedAt = fromTS(created), live.UserID(by.String), fromNullTS(decided)
	return nil
}

// HeldMessages lists a room's pending held messages, oldest first, at most
// limit.
func (db *DB) HeldMessages(ctx context.Context, room live.RoomID, limit int) ([]HeldMessage, error) {
	rows, err := db.r().query(ctx, "SELECT "+heldCols+` FROM room_held_messages WHERE room_id = ? AND status = ?
		ORDER BY created_at, id LIMIT ?`, room, HeldPending, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: listing held messages: %w", err)
	}
	defer rows.Close()
	out := []HeldMessage{}
	for rows.Next() {
		var h HeldMessage
		if err := scanHeld(rows, &h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// HeldMessage returns one held message of room (live.ErrNotFound if none).
func (db *DB) HeldMessage(ctx context.Context, room live.RoomID, id string) (HeldMessage, error) {
	var h HeldMessage
	err := scanHeld(db.r().row(ctx, "SELECT "+heldCols+" FROM room_held_messages WHERE room_id = ? AND id = ?", room, id), &h)
	return h, one(err, "held message")
}

// DecideHeld moves a pending held message of room to status (HeldApproved
// or HeldRejected) and appends audit in the same transaction. It returns
// the message after the change; live.ErrNotFound if there is no such
// message, a Conflict *live.Error if it was already decided.
func (db *DB) DecideHeld(ctx context.Context, room live.RoomID, id, status string, by live.UserID, audit AuditEntry) (HeldMessage, error) {
	var h HeldMessage
	err := db.tx(ctx, func(x q) error {
		if err := scanHeld(x.row(ctx, "SELECT "+heldCols+" FROM room_held_messages WHERE room_id = ? AND id = ?", room, id), &h); err != nil {
			return one(err, "held message")
		}
		if h.Status != HeldPending {
			return live.Conflict("already_decided", "this message was already "+h.Status)
		}
		now := db.nowTime()
		res, err := x.exec(ctx, "UPDATE room_held_messages SET status = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = ?",
			status, nullStr(string(by)), ts(now), id, HeldPending)
		if err != nil {
			return fmt.Errorf("store: deciding held message: %w", err)
		}
		// Two moderators deciding at once: on PostgreSQL both may read
		// "pending"; the row lock lets only one UPDATE match.
		if n, _ := res.RowsAffected(); n == 0 {
			return live.Conflict("already_decided", "this message was already decided by another moderator")
		}
		h.Status, h.DecidedBy, h.DecidedAt = status, by, &now
		return appendAudit(ctx, db, x, audit)
	})
	return h, err
}

// ModerationCounts are a room's moderation rows, for tests and dashboards
// that check that nothing changed.
type ModerationCounts struct {
	Bans, Mutes, Held, Audit int
	Settings                 live.RoomSettings
}

// RoomModerationCounts counts a room's bans, mutes (any, even expired),
// pending held messages and audit rows, and reads its settings.
func (db *DB) RoomModerationCounts(ctx context.Context, room live.RoomID) (ModerationCounts, error) {
	var c ModerationCounts
	x := db.r()
	for _, qc := range []struct {
		sql string
		dst *int
	}{
		{"SELECT COUNT(*) FROM room_bans WHERE room_id = ?", &c.Bans},
		{"SELECT COUNT(*) FROM room_mutes WHERE room_id = ?", &c.Mutes},
		{"SELECT COUNT(*) FROM room_held_messages WHERE room_id = ? AND status = 'pending'", &c.Held},
		{"SELECT COUNT(*) FROM audit_log WHERE room_id = ?", &c.Audit},
	} {
		if err := x.row(ctx, qc.sql, room).Scan(qc.dst); err != nil {
			return c, fmt.Errorf("store: counting: %w", err)
		}
	}
	r, err := db.Room(ctx, room)
	if err != nil {
		return c, err
	}
	c.Settings = r.Settings
	return c, nil
}
