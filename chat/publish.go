package chat

import (
	"context"
	"fmt"
	"time"

	"jobcast/live"
)

// Publish implements live.Publisher: ev (an ordered type) gets the room's
// next seq, goes into history and to every viewer on every node. It
// returns once the broker has accepted it.
func (s *Service) Publish(ctx context.Context, room live.RoomID, ev live.Event) (uint64, error) {
	if !ev.Type.Ordered() {
		return 0, fmt.Errorf("chat: %q is not an ordered event type", ev.Type)
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	tail, err := encodeTail(ev.At, ev.Data)
	if err != nil {
		return 0, err
	}
	p, err := s.broker.Publish(ctx, room, ev.Type, tail)
	if err != nil {
		return 0, err
	}
	s.m.published.Inc()
	return p.Seq, nil
}

// DeleteMessage removes the chat message at seq from room's history (late
// joiners and recovering clients never get it) and publishes chat.deleted.
// A seq that is not a chat message in history is a NotFound *live.Error.
// Permission checks are the caller's (moderation endpoints).
func (s *Service) DeleteMessage(ctx context.Context, room live.RoomID, seq uint64) error {
	now := time.Now()
	ok, err := s.broker.Remove(ctx, room, seq, tombstone(seq, now))
	if err != nil {
		return err
	}
	if !ok {
		return live.NotFound("message")
	}
	_, err = s.Publish(ctx, room, live.Event{Type: live.EvChatDeleted, At: now, Data: []byte(fmt.Sprintf(`{"seq":%d}`, seq))})
	return err
}

func (s *Service) notify(ctx context.Context, n Notice, ev live.Event) error {
	if ev.Type != "" {
		if ev.Type.Ordered() || !validEventName(string(ev.Type)) {
			return fmt.Errorf("chat: %q is not an ephemeral event type", ev.Type)
		}
		b, err := encodeEphemeral(ev)
		if err != nil {
			return err
		}
		n.Event = b
	}
	return s.broker.Notify(ctx, n)
}

func validEventName(t string) bool {
	if t == "" || len(t) > 40 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// ToRoom implements live.Notifier.
func (s *Service) ToRoom(ctx context.Context, room live.RoomID, ev live.Event) error {
	return s.notify(ctx, Notice{Target: ToRoom, Room: room}, ev)
}

// ToUser implements live.Notifier.
func (s *Service) ToUser(ctx context.Context, room live.RoomID, user live.UserID, ev live.Event) error {
	return s.notify(ctx, Notice{Target: ToUser, Room: room, User: user}, ev)
}

// ToOrg implements live.Notifier.
func (s *Service) ToOrg(ctx context.Context, room live.RoomID, org live.OrgID, ev live.Event) error {
	return s.notify(ctx, Notice{Target: ToOrg, Room: room, Org: org}, ev)
}

// ToStaff sends an ephemeral event to the host, moderator and admin
// connections in room on every node (chat.held uses it).
func (s *Service) ToStaff(ctx context.Context, room live.RoomID, ev live.Event) error {
	return s.notify(ctx, Notice{Target: ToStaff, Room: room}, ev)
}

// RefreshAccess makes every node reload what user is in room (every room
// when room is "") for the user's open connections, so that routing of
// staff-only and org-only events follows a role change at once (moderator
// assigned or removed, org membership changed); a user found banned is
// disconnected. Chat messages always re-check access anyway. It returns
// once the broker accepted the notice.
func (s *Service) RefreshAccess(ctx context.Context, room live.RoomID, user live.UserID) error {
	return s.notify(ctx, Notice{Target: ToRefresh, Room: room, User: user}, live.Event{})
}

// refreshAccess reloads c's access off the hub goroutine (it is a storage
// call) on a goroutine the Service owns.
func (s *Service) refreshAccess(c *conn) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.BrokerTimeout)
		defer cancel()
		_, acc, err := s.rooms.Access(ctx, c.room, c.id)
		if err != nil {
			s.log.Warn("chat: refreshing access failed", "room", c.room, "err", err)
			return
		}
		if !acc.Can(live.ActWatch) {
			c.send(mustEphemeral(live.EvBanned, live.BannedData{}))
			c.close(CloseKicked, "banned from this room")
			return
		}
		c.setAccess(acc)
	}()
}

// Kick implements live.Notifier.
func (s *Service) Kick(ctx context.Context, room live.RoomID, user live.UserID, ev live.Event) error {
	reason := "removed from the room"
	switch ev.Type {
	case live.EvBanned:
		reason = "banned from this room"
	case "":
		if room == "" {
			reason = "signed out"
		}
	}
	return s.notify(ctx, Notice{Target: ToKick, Room: room, User: user, Reason: reason}, ev)
}
