package advisor

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
)

type dmBody struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

// DMData is the dm event: ids only; the recipient reads the text through
// GET /api/rooms/:room/messages/direct.
type DMData struct {
	ID        string      `json:"id"`
	RoomID    live.RoomID `json:"room_id"`
	FromID    live.UserID `json:"from_id"`
	SeekerID  live.UserID `json:"seeker_id"`
	AdvisorID live.UserID `json:"advisor_id"`
}

// sendDM: POST /api/rooms/:room/messages/direct {to, text}. An advisor (or
// the host) writes to a seeker of this room; a seeker may reply to an
// advisor of this room who wrote to them. Nobody else may send, and only
// the two ends read the thread.
func (s *Service) sendDM(c *gin.Context) {
	room, acc, ok := s.access(c)
	if !ok {
		return
	}
	var b dmBody
	if !httpx.Bind(c, &b) {
		return
	}
	to, err := live.ParseID[live.UserID](b.To, "to")
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	text := strings.TrimSpace(b.Text)
	if text == "" || utf8.RuneCountInString(text) > MaxMessage {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "text must be 1 to 1000 characters", Fields: []string{"text"}})
		return
	}
	me := acc.Identity.UserID
	if to == me {
		httpx.Fail(c, live.Invalid("invalid_field", "you cannot message yourself"))
		return
	}
	ctx := c.Request.Context()
	m := store.DirectMessage{ID: uuid.NewString(), RoomID: room.ID, FromID: me, Text: text}
	switch {
	case acc.Can(live.ActAdvise):
		isSeeker, err := s.roomSeeker(c, room.ID, to)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		if !isSeeker {
			httpx.Fail(c, live.NotFound("seeker in this room"))
			return
		}
		m.SeekerID, m.AdvisorID = to, me
	case acc.Role() == live.RoleSeeker && acc.Can(live.ActWatch):
		_, toAcc, err := s.rooms.Access(ctx, room.ID, live.Identity{UserID: to})
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		prior, _, err := s.db.DirectThread(ctx, room.ID, me, to, 1, 0)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		if !(toAcc.Advisor || toAcc.Host) || len(prior) == 0 {
			httpx.Fail(c, live.Forbidden("you can reply only to an advisor of this room who wrote to you"))
			return
		}
		m.SeekerID, m.AdvisorID = me, to
	default:
		httpx.Fail(c, live.Forbidden("only this room's career advisors send private messages"))
		return
	}
	if !s.allow(c, s.dmLimit, me) {
		return
	}
	m, err = s.db.AddDirectMessage(ctx, m)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	s.notifyUser(ctx, "", to, live.NewEvent(live.EvDM, DMData{ID: m.ID, RoomID: room.ID, FromID: me, SeekerID: m.SeekerID, AdvisorID: m.AdvisorID}))
	c.JSON(http.StatusCreated, gin.H{"message": m})
}

// thread: GET /api/rooms/:room/messages/direct?with=<user> — the caller's
// own thread with one user: an advisor's with a seeker, a seeker's with an
// advisor. Oldest first, paged.
func (s *Service) thread(c *gin.Context) {
	room, acc, ok := s.access(c)
	if !ok {
		return
	}
	with, err := live.ParseID[live.UserID](c.Query("with"), "with")
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	limit, offset, ok := httpx.Page(c)
	if !ok {
		return
	}
	me := acc.Identity.UserID
	seeker, adv := me, with
	advising := acc.Can(live.ActAdvise)
	switch {
	case advising:
		seeker, adv = with, me
	case acc.Role() == live.RoleSeeker && acc.Can(live.ActWatch):
	default:
		httpx.Fail(c, live.Forbidden("private messages are between this room's advisors and its seekers"))
		return
	}
	list, more, err := s.db.DirectThread(c.Request.Context(), room.ID, seeker, adv, limit, offset)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if advising && len(list) > 0 && !s.auditSeekers(c, room.ID, acc, []live.UserID{seeker}, "messages") {
		return
	}
	c.JSON(http.StatusOK, gin.H{"messages": list, "next_offset": httpx.NextOffset(offset, limit, more)})
}
