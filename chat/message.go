package chat

import (
	"context"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"jobcast/live"
)

func pongEvent() []byte { return mustEphemeral(live.EvPong, struct{}{}) }

// handleClientMessage handles one client frame on the connection's reader
// goroutine. Replies and errors go to this connection only.
func (s *Service) handleClientMessage(c *conn, data []byte) {
	m, err := decodeClientMessage(data)
	if err != nil {
		e, _ := live.AsError(err)
		c.send(errorEvent(e.Code, e.Message, ""))
		return
	}
	switch m.Type {
	case "ping":
		c.send(pongEvent())
	case "chat":
		s.chat(c, m)
	default:
		c.send(errorEvent("unknown_type", `type must be "chat" or "ping"`, m.Nonce))
	}
}

func (s *Service) chatRefused(c *conn, outcome, code, msg, nonce string) {
	s.m.chat.WithLabelValues(outcome).Inc()
	c.send(errorEvent(code, msg, nonce))
}

// chat runs the chat message path: shape and length, rate limit, a fresh
// access check (mode, mute, ban — so a moderation change on any node holds
// at once), slow mode, blocked words, PII masking, scam hold-back, publish.
func (s *Service) chat(c *conn, m clientMessage) {
	if !c.id.SignedIn() {
		s.chatRefused(c, "refused", "sign_in_to_chat", "sign in to chat", m.Nonce)
		return
	}
	text, ok := cleanText(m.Text)
	switch {
	case !ok:
		s.chatRefused(c, "invalid", "invalid_text", "text must be valid UTF-8", m.Nonce)
		return
	case text == "":
		s.chatRefused(c, "invalid", "empty_message", "a message needs some text", m.Nonce)
		return
	case utf8.RuneCountInString(text) > s.cfg.MaxChatChars:
		s.chatRefused(c, "invalid", "message_too_long", "a message is at most "+strconv.Itoa(s.cfg.MaxChatChars)+" characters", m.Nonce)
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.BrokerTimeout)
	defer cancel()
	// Limits are buckets in the broker, so they hold across every node the
	// user is connected to.
	every := time.Duration(float64(time.Second) / s.cfg.ChatRate)
	if wait, err := s.broker.Throttle(ctx, "rate:"+string(c.user), every, s.cfg.ChatBurst); err != nil {
		s.log.Error("chat: rate limit check failed", "room", c.room, "err", err)
		s.chatRefused(c, "error", "unavailable", "chat is unavailable right now; try again", m.Nonce)
		return
	} else if wait > 0 {
		s.chatRefused(c, "rate_limited", "rate_limited", "you are sending messages too fast; wait a moment", m.Nonce)
		return
	}
	room, acc, err := s.rooms.Access(ctx, c.room, c.id)
	if err != nil {
		if e, ok := live.AsError(err); ok {
			s.chatRefused(c, "refused", e.Code, e.Message, m.Nonce)
			return
		}
		s.log.Error("chat: access check failed", "room", c.room, "err", err)
		s.chatRefused(c, "error", "unavailable", "chat is unavailable right now; try again", m.Nonce)
		return
	}
	now := time.Now()
	c.setAccess(acc)
	if !acc.Can(live.ActWatch) {
		c.send(mustEphemeral(live.EvBanned, live.BannedData{}))
		c.close(CloseKicked, "banned from this room")
		return
	}
	if err := acc.CanChat(room.Settings, now); err != nil {
		e, _ := live.AsError(err)
		if e.Code == "muted" {
			c.send(mustEphemeral(live.EvMuted, live.MutedData{Until: acc.MutedUntil.UTC()}))
		}
		s.chatRefused(c, "refused", e.Code, e.Message, m.Nonce)
		return
	}
	staff := acc.Identity.Admin || acc.Host || acc.Moderator
	set := room.Settings
	if w := blockedWord(text, set.BlockedWords); w != "" {
		s.chatRefused(c, "blocked", "blocked_word", "your message contains a word that is not allowed in this room; it was not sent", m.Nonce)
		return
	}
	if slow := time.Duration(set.SlowModeSeconds) * time.Second; slow > 0 && !staff {
		wait, err := s.broker.Throttle(ctx, "slow:"+string(c.room)+":"+string(c.user), slow, 1)
		if err != nil {
			s.log.Error("chat: slow mode check failed", "room", c.room, "err", err)
			s.chatRefused(c, "error", "unavailable", "chat is unavailable right now; try again", m.Nonce)
			return
		}
		if wait > 0 {
			secs := int((wait + time.Second - 1) / time.Second)
			s.chatRefused(c, "slow_mode", "slow_mode", "slow mode: wait "+strconv.Itoa(secs)+" s before your next message", m.Nonce)
			return
		}
	}
	msg := live.ChatData{ID: uuid.Must(uuid.NewV7()).String(), UserID: c.user, Name: c.id.Name, Role: acc.Role(), Text: text, Nonce: m.Nonce}
	if set.MaskPII {
		msg.Text, msg.Masked = maskPII(text)
	}
	if set.HoldScams && !staff {
		if p := scamPhrase(text, s.cfg.ScamPhrases); p != "" {
			s.hold(ctx, c.room, msg, "asks for money or off-platform payment ("+p+")")
			s.chatRefused(c, "held", "held_for_review", "your message mentions payments or fees and is waiting for a moderator", m.Nonce)
			return
		}
	}
	if _, err := s.Publish(ctx, c.room, live.NewEvent(live.EvChat, msg)); err != nil {
		s.log.Error("chat: publish failed", "room", c.room, "err", err)
		s.chatRefused(c, "error", "unavailable", "your message could not be sent; try again", m.Nonce)
		return
	}
	s.m.chat.WithLabelValues("sent").Inc()
}
