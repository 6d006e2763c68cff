package advisor

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
)

type helpBody struct {
	Note         string `json:"note"`
	ShareContact bool   `json:"share_contact"` // let the room's advisors see the profile's phone
}

// HelpRequestedData is the help.requested event: ids only.
type HelpRequestedData struct {
	RoomID   live.RoomID `json:"room_id"`
	SeekerID live.UserID `json:"seeker_id"`
}

// help: POST /api/rooms/:room/help — a seeker taps "I need help". Asking
// again refreshes the note; the room's advisors are told live.
func (s *Service) help(c *gin.Context) {
	room, acc, ok := s.access(c)
	if !ok {
		return
	}
	var b helpBody
	if !httpx.Bind(c, &b) {
		return
	}
	if !acc.Can(live.ActWatch) {
		httpx.Fail(c, live.Forbidden("you are banned from this room"))
		return
	}
	if acc.Role() != live.RoleSeeker {
		httpx.Fail(c, live.Forbidden("only job seekers ask for an advisor's help"))
		return
	}
	b.Note = strings.TrimSpace(b.Note)
	if utf8.RuneCountInString(b.Note) > MaxHelpNote {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "note is too long (max 500 characters)", Fields: []string{"note"}})
		return
	}
	ctx := c.Request.Context()
	user := acc.Identity.UserID
	if !s.allow(c, s.helpLimit, user) {
		return
	}
	if err := s.db.RecordVisit(ctx, room.ID, user, true); err != nil {
		httpx.Fail(c, err)
		return
	}
	h, err := s.db.AskHelp(ctx, room.ID, user, b.Note, b.ShareContact)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	staff, err := s.db.Staff(ctx, room.ID)
	if err != nil {
		s.log.Warn("listing advisors to notify", "room", room.ID, "err", err)
	}
	ev := live.NewEvent(EvHelpRequested, HelpRequestedData{RoomID: room.ID, SeekerID: user})
	for _, m := range staff {
		if m.Role == store.StaffAdvisor {
			s.notifyUser(ctx, room.ID, m.UserID, ev)
		}
	}
	c.JSON(http.StatusCreated, gin.H{"help": h})
}
