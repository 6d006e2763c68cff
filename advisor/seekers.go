package advisor

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
)

// seekers: GET /api/rooms/:room/seekers?filter=help|no_application — the
// advisor's list of the room's seekers. Each seeker shown is audited.
func (s *Service) seekers(c *gin.Context) {
	room, acc, ok := s.advisorAccess(c)
	if !ok {
		return
	}
	f := store.SeekerFilter(c.Query("filter"))
	switch f {
	case store.SeekersAll, store.SeekersAskedHelp, store.SeekersNoApplication:
	default:
		httpx.Fail(c, live.Invalid("invalid_query", "filter must be help or no_application"))
		return
	}
	limit, offset, ok := httpx.Page(c)
	if !ok {
		return
	}
	list, more, err := s.db.RoomSeekers(c.Request.Context(), room.ID, f, "", limit, offset)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if !s.auditViews(c, room.ID, acc, list, "list") {
		return
	}
	c.JSON(http.StatusOK, gin.H{"seekers": list, "next_offset": httpx.NextOffset(offset, limit, more)})
}

// seeker: GET /api/rooms/:room/seekers/:user — one seeker of the room.
func (s *Service) seeker(c *gin.Context) {
	room, acc, ok := s.advisorAccess(c)
	if !ok {
		return
	}
	user, ok := httpx.Param[live.UserID](c, "user", "user id")
	if !ok {
		return
	}
	list, _, err := s.db.RoomSeekers(c.Request.Context(), room.ID, store.SeekersAll, user, 1, 0)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if len(list) == 0 {
		httpx.Fail(c, live.NotFound("seeker in this room"))
		return
	}
	if !s.auditViews(c, room.ID, acc, list, "detail") {
		return
	}
	c.JSON(http.StatusOK, gin.H{"seeker": list[0]})
}

// auditViews writes one audit entry per seeker shown. The view is not
// answered if the audit log cannot be written.
func (s *Service) auditViews(c *gin.Context, room live.RoomID, acc live.RoomAccess, list []store.RoomSeeker, how string) bool {
	ids := make([]live.UserID, len(list))
	for i, sk := range list {
		ids[i] = sk.UserID
	}
	return s.auditSeekers(c, room, acc, ids, how)
}

// auditSeekers writes one audit entry per distinct seeker in ids.
func (s *Service) auditSeekers(c *gin.Context, room live.RoomID, acc live.RoomAccess, ids []live.UserID, how string) bool {
	data, _ := json.Marshal(map[string]string{"view": how})
	seen := map[live.UserID]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		err := s.db.AppendAudit(c.Request.Context(), store.AuditEntry{RoomID: room, ActorID: acc.Identity.UserID,
			Action: AuditViewSeeker, TargetID: string(id), Data: string(data)})
		if err != nil {
			httpx.Fail(c, err)
			return false
		}
	}
	return true
}

// roomSeeker reports whether user came to room as a seeker.
func (s *Service) roomSeeker(c *gin.Context, room live.RoomID, user live.UserID) (bool, error) {
	list, _, err := s.db.RoomSeekers(c.Request.Context(), room, store.SeekersAll, user, 1, 0)
	return len(list) > 0, err
}
