package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"jobcast/live"
)

// HeldQueue keeps the chat messages held back for moderators (scam
// hold-back) in storage, so that any moderator on any node can list them
// later and approve (broadcast) or reject (drop) them. Implemented by the
// moderation service; wired with Service.SetHeldQueue. Hold must be safe
// for concurrent use and return within ctx.
type HeldQueue interface {
	Hold(ctx context.Context, room live.RoomID, msg live.ChatData, reason string) error
}

// heldSlot is the Service's HeldQueue, set once at wiring time.
type heldSlot struct {
	q HeldQueue
}

// SetHeldQueue makes the message path persist every held message through q
// before staff are told (chat.held, whose message.id is the queue's id).
// Call it before Run; it is not safe to call concurrently with traffic.
func (s *Service) SetHeldQueue(q HeldQueue) { s.held.q = q }

// hold persists a held message (when a queue is wired) and tells the
// staff connections of room on every node. Failures are logged: the
// sender already learns that the message waits for review.
func (s *Service) hold(ctx context.Context, room live.RoomID, msg live.ChatData, reason string) {
	if q := s.held.q; q != nil {
		if err := q.Hold(ctx, room, msg, reason); err != nil {
			s.log.Error("chat: storing a held message failed", "room", room, "err", err)
		}
	}
	ev := live.NewEvent(live.EvHeld, heldData{Message: msg, Reason: reason})
	if err := s.ToStaff(ctx, room, ev); err != nil {
		s.log.Error("chat: holding a message failed", "room", room, "err", err)
	}
}

// ChatMessage returns the chat message at seq in room's history, for
// moderation (who wrote the message a moderator wants to delete). A seq
// that is not a chat message still in history is a NotFound *live.Error.
// It blocks for one broker round trip; safe for concurrent use.
func (s *Service) ChatMessage(ctx context.Context, room live.RoomID, seq uint64) (live.ChatData, error) {
	if seq == 0 {
		return live.ChatData{}, live.NotFound("message")
	}
	pos, err := s.broker.Position(ctx, room)
	if err != nil {
		return live.ChatData{}, err
	}
	if seq > pos.Seq {
		return live.ChatData{}, live.NotFound("message")
	}
	pubs, _, err := s.broker.History(ctx, room, seq-1, pos.Epoch)
	if err != nil {
		if errors.Is(err, ErrUnrecoverable) {
			return live.ChatData{}, live.NotFound("message")
		}
		return live.ChatData{}, err
	}
	for _, p := range pubs {
		if p.Seq != seq {
			continue
		}
		if p.Type != live.EvChat {
			break
		}
		var ev struct {
			Data live.ChatData `json:"data"`
		}
		if err := json.Unmarshal(p.Data, &ev); err != nil {
			return live.ChatData{}, fmt.Errorf("chat: decoding message %d: %w", seq, err)
		}
		return ev.Data, nil
	}
	return live.ChatData{}, live.NotFound("message")
}
