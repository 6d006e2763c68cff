package rooms

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
)

// Routes registers the room endpoints on r (behind the auth middlewares).
func (s *Service) Routes(r gin.IRouter) {
	r.POST("/api/rooms", s.createRoom)
	r.GET("/api/rooms", s.listRooms)
	r.GET("/api/rooms/:room", s.getRoom)
	r.POST("/api/rooms/:room/exhibitors", s.addExhibitor)
	r.DELETE("/api/rooms/:room/exhibitors/:org", s.removeExhibitor)
	r.GET("/api/rooms/:room/staff", s.listStaff)
	r.POST("/api/rooms/:room/moderators", s.staffHandler(store.StaffModerator, true))
	r.DELETE("/api/rooms/:room/moderators", s.staffHandler(store.StaffModerator, false))
	r.POST("/api/rooms/:room/advisors", s.staffHandler(store.StaffAdvisor, true))
	r.DELETE("/api/rooms/:room/advisors", s.staffHandler(store.StaffAdvisor, false))
	r.GET("/api/rooms/:room/stream-key", s.getStreamKey)
	r.POST("/api/rooms/:room/stream-key/rotate", s.rotateStreamKey)
	r.POST("/api/rooms/:room/end", s.endRoom)
}

// MaxStartsAhead bounds how far ahead a room may be scheduled.
const MaxStartsAhead = 366 * 24 * time.Hour

type createReq struct {
	Title       string     `json:"title"`
	Description string     `json:"description"`
	OrgID       live.OrgID `json:"org_id"`
	StartsAt    string     `json:"starts_at"` // RFC 3339; empty = now
}

func fieldErr(code, field, msg string) *live.Error {
	return &live.Error{Kind: live.KindInvalid, Code: code, Message: msg, Fields: []string{field}}
}

func (s *Service) createRoom(c *gin.Context) {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return
	}
	var req createReq
	if !httpx.Bind(c, &req) {
		return
	}
	title, desc, err := live.ValidateRoom(req.Title, req.Description)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	org, err := live.ParseID[live.OrgID](string(req.OrgID), "org_id")
	if err != nil {
		httpx.Fail(c, fieldErr("invalid_field", "org_id", "org_id must be the UUID of your org"))
		return
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	starts := now
	if req.StartsAt != "" {
		t, err := time.Parse(time.RFC3339, req.StartsAt)
		if err != nil {
			httpx.Fail(c, fieldErr("invalid_field", "starts_at", "starts_at must be an RFC 3339 time like 2026-03-01T09:00:00Z"))
			return
		}
		starts = t.UTC().Truncate(time.Microsecond)
		if starts.After(now.Add(MaxStartsAhead)) || starts.Before(now.Add(-24*time.Hour)) {
			httpx.Fail(c, fieldErr("invalid_field", "starts_at", "starts_at must be within the next year"))
			return
		}
	}
	ctx := c.Request.Context()
	if err := s.requireMember(ctx, id, org); err != nil {
		httpx.Fail(c, err)
		return
	}
	r := live.Room{ID: live.NewID[live.RoomID](), OrgID: org, Title: title, Description: desc, Status: live.RoomScheduled,
		StartsAt: starts, Settings: live.DefaultSettings(), CreatedAt: now}
	if err := s.db.CreateRoom(ctx, r, id.UserID); err != nil {
		httpx.Fail(c, storeErr(err, "org"))
		return
	}
	saved, err := s.db.Room(ctx, r.ID)
	if err != nil {
		httpx.Fail(c, storeErr(err, "room"))
		return
	}
	s.audit(ctx, saved, id, "room.created", "", "")
	c.Header("Location", "/api/rooms/"+string(saved.ID))
	c.JSON(http.StatusCreated, saved)
}

// requireMember checks that id may act for org (member or admin).
func (s *Service) requireMember(ctx context.Context, id live.Identity, org live.OrgID) error {
	if _, err := s.db.Org(ctx, org); err != nil {
		return storeErr(err, "org")
	}
	if id.Admin {
		return nil
	}
	if _, err := s.db.MemberRole(ctx, org, id.UserID); err != nil {
		if errors.Is(err, live.ErrNotFound) {
			return &live.Error{Kind: live.KindForbidden, Code: "not_member", Message: "you are not a member of this org"}
		}
		return err
	}
	return nil
}

type roomsResp struct {
	Rooms      []live.Room `json:"rooms"`
	NextOffset *int        `json:"next_offset"`
}

// publicRoom hides what only staff should see (the blocked-word list would
// teach spammers what to avoid).
func publicRoom(r live.Room) live.Room {
	r.Settings.BlockedWords = []string{}
	return r
}

func (s *Service) listRooms(c *gin.Context) {
	var f store.RoomFilter
	if st := c.Query("status"); st != "" {
		f.Status = live.RoomStatus(st)
		if !f.Status.Valid() {
			httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_query", Message: "status must be live, scheduled or ended", Fields: []string{"status"}})
			return
		}
	}
	if o := c.Query("org"); o != "" {
		org, err := live.ParseID[live.OrgID](o, "org")
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		f.OrgID = org
	}
	var err error
	if f.Limit, f.Offset, err = httpx.ParsePage(c); err != nil {
		httpx.Fail(c, err)
		return
	}
	rooms, more, err := s.db.Rooms(c.Request.Context(), f)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	for i := range rooms {
		rooms[i] = publicRoom(rooms[i])
	}
	resp := roomsResp{Rooms: rooms}
	if more {
		n := f.Offset + len(rooms)
		resp.NextOffset = &n
	}
	c.JSON(http.StatusOK, resp)
}

// snapshotResp is the public room snapshot plus the caller's role.
type snapshotResp struct {
	live.RoomSnapshot
	Viewers int       `json:"viewers"`
	Role    live.Role `json:"role"`
}

func (s *Service) getRoom(c *gin.Context) {
	room, ok := httpx.Param[live.RoomID](c, "room", "room id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	_, acc, err := s.Access(ctx, room, httpx.Identity(c))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	snap, err := s.Snapshot(ctx, room)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if !acc.Can(live.ActModerate) {
		snap.Room = publicRoom(snap.Room)
	}
	c.JSON(http.StatusOK, snapshotResp{RoomSnapshot: snap, Viewers: s.viewerCount(ctx, room), Role: acc.Role()})
}

// allowed loads the room and the caller's access and checks act, aborting
// with 401 (visitor), 403 (not allowed) or 404 (unknown room).
func (s *Service) allowed(c *gin.Context, act live.Action) (live.Room, live.RoomAccess, bool) {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return live.Room{}, live.RoomAccess{}, false
	}
	room, ok := httpx.Param[live.RoomID](c, "room", "room id")
	if !ok {
		return live.Room{}, live.RoomAccess{}, false
	}
	r, acc, err := s.Access(c.Request.Context(), room, id)
	if err != nil {
		httpx.Fail(c, err)
		return r, acc, false
	}
	if !acc.Can(act) {
		msg := "only the room's host can do this"
		switch act {
		case live.ActEnd, live.ActModerate, live.ActAudit:
			msg = "only the room's host or a moderator can do this"
		}
		httpx.Fail(c, live.Forbidden(msg))
		return r, acc, false
	}
	return r, acc, true
}

func (s *Service) audit(ctx context.Context, r live.Room, id live.Identity, action, target, data string) {
	if err := s.db.AppendAudit(ctx, store.AuditEntry{RoomID: r.ID, OrgID: r.OrgID, ActorID: id.UserID, Action: action, TargetID: target, Data: data}); err != nil {
		s.log.ErrorContext(ctx, "audit log write failed", "room", r.ID, "action", action, "err", err)
	}
}

func notEnded(r live.Room) error {
	if r.Status == live.RoomEnded {
		return live.InvalidState("room_ended", "the room has ended")
	}
	return nil
}

type exhibitorReq struct {
	OrgID live.OrgID `json:"org_id"`
}

type exhibitorsResp struct {
	Exhibitors []live.Org `json:"exhibitors"`
}

func (s *Service) addExhibitor(c *gin.Context) {
	r, acc, ok := s.allowed(c, live.ActManageStaff)
	if !ok {
		return
	}
	var req exhibitorReq
	if !httpx.Bind(c, &req) {
		return
	}
	org, err := live.ParseID[live.OrgID](string(req.OrgID), "org_id")
	if err != nil {
		httpx.Fail(c, fieldErr("invalid_field", "org_id", "org_id must be an org's UUID"))
		return
	}
	if err := notEnded(r); err != nil {
		httpx.Fail(c, err)
		return
	}
	if org == r.OrgID {
		httpx.Fail(c, live.Conflict("org_is_host", "the host org is already in the room"))
		return
	}
	ctx := c.Request.Context()
	if err := s.db.AddExhibitor(ctx, r.ID, org); err != nil {
		if errors.Is(err, live.ErrConflict) {
			httpx.Fail(c, live.Conflict("already_exhibitor", "this org is already an exhibitor of the room"))
			return
		}
		httpx.Fail(c, storeErr(err, "org"))
		return
	}
	s.audit(ctx, r, acc.Identity, "room.exhibitor_added", string(org), "")
	s.exhibitorsAnswer(c, r.ID, http.StatusCreated)
}

func (s *Service) removeExhibitor(c *gin.Context) {
	r, acc, ok := s.allowed(c, live.ActManageStaff)
	if !ok {
		return
	}
	org, ok := httpx.Param[live.OrgID](c, "org", "org id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if err := s.db.RemoveExhibitor(ctx, r.ID, org); err != nil {
		httpx.Fail(c, storeErr(err, "exhibitor"))
		return
	}
	s.audit(ctx, r, acc.Identity, "room.exhibitor_removed", string(org), "")
	s.exhibitorsAnswer(c, r.ID, http.StatusOK)
}

func (s *Service) exhibitorsAnswer(c *gin.Context, room live.RoomID, status int) {
	ex, err := s.db.Exhibitors(c.Request.Context(), room)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(status, exhibitorsResp{Exhibitors: ex})
}

// staffReq names the user by id or by email (exactly one).
type staffReq struct {
	UserID live.UserID `json:"user_id"`
	Email  string      `json:"email"`
}

type staffResp struct {
	Staff []store.StaffMember `json:"staff"`
}

func (s *Service) staffHandler(role store.StaffRole, add bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		r, acc, ok := s.allowed(c, live.ActManageStaff)
		if !ok {
			return
		}
		var req staffReq
		if !httpx.Bind(c, &req) {
			return
		}
		ctx := c.Request.Context()
		user, err := s.resolveUser(ctx, req)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		if add {
			if err := notEnded(r); err != nil {
				httpx.Fail(c, err)
				return
			}
			if err := s.db.AddStaff(ctx, r.ID, user, role, acc.Identity.UserID); err != nil {
				if errors.Is(err, live.ErrConflict) {
					httpx.Fail(c, live.Conflict("already_assigned", "this user is already a "+string(role)+" of the room"))
					return
				}
				httpx.Fail(c, storeErr(err, "user"))
				return
			}
			s.audit(ctx, r, acc.Identity, "room."+string(role)+"_added", string(user), "")
		} else {
			if err := s.db.RemoveStaff(ctx, r.ID, user, role); err != nil {
				httpx.Fail(c, storeErr(err, string(role)))
				return
			}
			s.audit(ctx, r, acc.Identity, "room."+string(role)+"_removed", string(user), "")
		}
		status := http.StatusOK
		if add {
			status = http.StatusCreated
		}
		s.staffAnswer(c, r.ID, status)
	}
}

func (s *Service) resolveUser(ctx context.Context, req staffReq) (live.UserID, error) {
	switch {
	case req.UserID != "" && req.Email != "":
		return "", &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "send user_id or email, not both", Fields: []string{"user_id", "email"}}
	case req.UserID != "":
		uid, err := live.ParseID[live.UserID](string(req.UserID), "user_id")
		if err != nil {
			return "", fieldErr("invalid_field", "user_id", "user_id must be a UUID")
		}
		if _, err := s.db.UserByID(ctx, uid); err != nil {
			if errors.Is(err, live.ErrNotFound) {
				return "", &live.Error{Kind: live.KindNotFound, Code: "user_not_found", Message: "no such user"}
			}
			return "", err
		}
		return uid, nil
	case req.Email != "":
		u, _, err := s.db.UserByEmail(ctx, req.Email)
		if err != nil {
			if errors.Is(err, live.ErrNotFound) {
				return "", &live.Error{Kind: live.KindNotFound, Code: "user_not_found", Message: "no account with this email"}
			}
			return "", err
		}
		return u.ID, nil
	}
	return "", &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "user_id or email is required", Fields: []string{"user_id", "email"}}
}

func (s *Service) staffAnswer(c *gin.Context, room live.RoomID, status int) {
	st, err := s.db.Staff(c.Request.Context(), room)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(status, staffResp{Staff: st})
}

func (s *Service) listStaff(c *gin.Context) {
	r, _, ok := s.allowed(c, live.ActModerate)
	if !ok {
		return
	}
	s.staffAnswer(c, r.ID, http.StatusOK)
}

// streamKeyResp describes a room's stream key. Key is present only in the
// answer to rotate.
type streamKeyResp struct {
	Key       string     `json:"key,omitempty"`
	HasKey    bool       `json:"has_key"`
	Hint      string     `json:"hint,omitempty"`
	RotatedAt *time.Time `json:"rotated_at"`
	WHIPURL   string     `json:"whip_url"`
}

func whipURL(room live.RoomID) string { return "/api/rooms/" + string(room) + "/whip" }

func (s *Service) getStreamKey(c *gin.Context) {
	r, _, ok := s.allowed(c, live.ActStreamKey)
	if !ok {
		return
	}
	k, err := s.db.StreamKey(c.Request.Context(), r.ID)
	if err != nil {
		httpx.Fail(c, storeErr(err, "room"))
		return
	}
	c.JSON(http.StatusOK, streamKeyResp{HasKey: k.Hash != "", Hint: k.Hint, RotatedAt: k.RotatedAt, WHIPURL: whipURL(r.ID)})
}

func (s *Service) rotateStreamKey(c *gin.Context) {
	r, acc, ok := s.allowed(c, live.ActStreamKey)
	if !ok {
		return
	}
	if err := notEnded(r); err != nil {
		httpx.Fail(c, err)
		return
	}
	ctx := c.Request.Context()
	key, info, err := s.RotateStreamKey(ctx, r.ID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	s.audit(ctx, r, acc.Identity, "room.stream_key_rotated", "", "")
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, streamKeyResp{Key: key, HasKey: true, Hint: info.Hint, RotatedAt: info.RotatedAt, WHIPURL: whipURL(r.ID)})
}

func (s *Service) endRoom(c *gin.Context) {
	r, acc, ok := s.allowed(c, live.ActEnd)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	ended, err := s.SetStatus(ctx, r.ID, live.RoomEnded)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	s.audit(ctx, r, acc.Identity, "room.ended", "", "")
	c.JSON(http.StatusOK, ended)
}
