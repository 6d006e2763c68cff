package advisor

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
)

type followUpBody struct {
	SeekerID string `json:"seeker_id"`
	Note     string `json:"note"`
	Outcome  string `json:"outcome"`
	JobID    string `json:"job_id"`
}

// addFollowUp: POST /api/rooms/:room/followups — an advisor records a note
// and an outcome (contacted, referred, hired, needs_training) for a seeker
// of this room; referred names the job. Audited in the same transaction.
func (s *Service) addFollowUp(c *gin.Context) {
	room, acc, ok := s.advisorAccess(c)
	if !ok {
		return
	}
	var b followUpBody
	if !httpx.Bind(c, &b) {
		return
	}
	seeker, err := live.ParseID[live.UserID](b.SeekerID, "seeker_id")
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if !slices.Contains(store.Outcomes, b.Outcome) {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_field",
			Message: "outcome must be one of " + strings.Join(store.Outcomes, ", "), Fields: []string{"outcome"}})
		return
	}
	b.Note = strings.TrimSpace(b.Note)
	if utf8.RuneCountInString(b.Note) > MaxFollowUpNote {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "note is too long (max 2000 characters)", Fields: []string{"note"}})
		return
	}
	f := store.FollowUp{ID: uuid.NewString(), RoomID: room.ID, SeekerID: seeker, AdvisorID: acc.Identity.UserID, Outcome: b.Outcome, Note: b.Note}
	ctx := c.Request.Context()
	switch {
	case b.JobID != "":
		job, err := live.ParseID[live.JobID](b.JobID, "job_id")
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		if _, err := s.db.Job(ctx, job); err != nil {
			if errors.Is(err, live.ErrNotFound) {
				err = &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "job_id names no job", Fields: []string{"job_id"}}
			}
			httpx.Fail(c, err)
			return
		}
		f.JobID = job
	case b.Outcome == store.OutcomeReferred:
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "a referral names the job (job_id)", Fields: []string{"job_id"}})
		return
	}
	isSeeker, err := s.roomSeeker(c, room.ID, seeker)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if !isSeeker {
		httpx.Fail(c, live.NotFound("seeker in this room"))
		return
	}
	data, _ := json.Marshal(map[string]string{"outcome": f.Outcome, "job_id": string(f.JobID), "followup_id": f.ID})
	f, err = s.db.AddFollowUp(ctx, f, store.AuditEntry{RoomID: room.ID, ActorID: f.AdvisorID, Action: AuditFollowUp,
		TargetID: string(seeker), Data: string(data)})
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Header("Location", "/api/rooms/"+string(room.ID)+"/followups?seeker_id="+string(seeker))
	c.JSON(http.StatusCreated, gin.H{"followup": f})
}

// followUps: GET /api/rooms/:room/followups[?seeker_id=] — the room's
// follow-ups, newest first, for its advisors and host only.
func (s *Service) followUps(c *gin.Context) {
	room, acc, ok := s.advisorAccess(c)
	if !ok {
		return
	}
	var seeker live.UserID
	if q := c.Query("seeker_id"); q != "" {
		var err error
		if seeker, err = live.ParseID[live.UserID](q, "seeker_id"); err != nil {
			httpx.Fail(c, err)
			return
		}
	}
	limit, offset, ok := httpx.Page(c)
	if !ok {
		return
	}
	list, more, err := s.db.FollowUps(c.Request.Context(), room.ID, seeker, limit, offset)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	ids := make([]live.UserID, len(list))
	for i, f := range list {
		ids[i] = f.SeekerID
	}
	if !s.auditSeekers(c, room.ID, acc, ids, "followups") {
		return
	}
	c.JSON(http.StatusOK, gin.H{"followups": list, "next_offset": httpx.NextOffset(offset, limit, more)})
}
