package moderation

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
)

// Routes registers the moderation endpoints on r (behind the auth and
// CSRF middlewares). See docs/api-moderation.md.
func (s *Service) Routes(r gin.IRouter) {
	r.DELETE("/api/rooms/:room/messages/:seq", inRoom(s.handleDeleteMessage))
	r.GET("/api/rooms/:room/mutes", inRoom(s.handleMutes))
	r.POST("/api/rooms/:room/mutes", inRoom(s.handleMute))
	r.DELETE("/api/rooms/:room/mutes/:user", inRoom(s.handleUnmute))
	r.GET("/api/rooms/:room/bans", inRoom(s.handleBans))
	r.POST("/api/rooms/:room/bans", inRoom(s.handleBan))
	r.DELETE("/api/rooms/:room/bans", inRoom(s.handleUnban))
	r.DELETE("/api/rooms/:room/bans/:user", inRoom(s.handleUnban))
	r.PATCH("/api/rooms/:room/settings", inRoom(s.handleSettings))
	r.GET("/api/rooms/:room/held", inRoom(s.handleHeld))
	r.POST("/api/rooms/:room/held/:id/approve", inRoom(s.handleDecide(true)))
	r.POST("/api/rooms/:room/held/:id/reject", inRoom(s.handleDecide(false)))
	r.GET("/api/rooms/:room/audit", inRoom(s.handleAudit))
}

// reasonReq is the optional body of DELETE requests and decisions.
type reasonReq struct {
	Reason string `json:"reason"`
}

// optionalReason decodes {"reason"} when a body is sent.
func optionalReason(c *gin.Context) (string, bool) {
	if c.Request.ContentLength == 0 {
		return "", true
	}
	var req reasonReq
	if !httpx.Bind(c, &req) {
		return "", false
	}
	return req.Reason, true
}

// roomHandler serves a moderation endpoint for a signed-in caller in a room.
type roomHandler func(c *gin.Context, id live.Identity, rm live.RoomID)

// inRoom answers 401 for visitors before the body is read (so that a visitor
// learns to sign in rather than about their input), then 400 for a malformed
// room id, and otherwise runs h. Whether the caller may moderate the room is
// the service's check, not the handler's.
func inRoom(h roomHandler) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := httpx.RequireUser(c)
		if !ok {
			return
		}
		rm, ok := httpx.Param[live.RoomID](c, "room", "room id")
		if !ok {
			return
		}
		h(c, id, rm)
	}
}

// reply answers err in the error shape, or {key: v} with status.
func reply(c *gin.Context, status int, key string, v any, err error) {
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(status, gin.H{key: v})
}

func (s *Service) handleDeleteMessage(c *gin.Context, id live.Identity, rm live.RoomID) {
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil || seq == 0 {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_id", Message: "seq must be a positive integer", Fields: []string{"seq"}})
		return
	}
	reason, ok := optionalReason(c)
	if !ok {
		return
	}
	reply(c, http.StatusOK, "deleted", seq, s.DeleteMessage(c.Request.Context(), id, rm, seq, reason))
}

type muteReq struct {
	UserID  live.UserID `json:"user_id"`
	Seconds int64       `json:"seconds"`
	Reason  string      `json:"reason"`
}

func userField(v live.UserID, field string) (live.UserID, error) {
	u, err := live.ParseID[live.UserID](string(v), field)
	if err != nil {
		return "", &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: field + " must be a user's UUID", Fields: []string{field}}
	}
	return u, nil
}

func (s *Service) handleMute(c *gin.Context, id live.Identity, rm live.RoomID) {
	var req muteReq
	if !httpx.Bind(c, &req) {
		return
	}
	user, err := userField(req.UserID, "user_id")
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if req.Seconds < 1 || req.Seconds > int64(s.cfg.MaxMute/time.Second) {
		httpx.Fail(c, fieldErr("seconds", "seconds must be between 1 and "+itoa(int64(s.cfg.MaxMute/time.Second))))
		return
	}
	m, err := s.Mute(c.Request.Context(), id, rm, user, time.Duration(req.Seconds)*time.Second, req.Reason)
	reply(c, http.StatusCreated, "mute", m, err)
}

func (s *Service) handleUnmute(c *gin.Context, id live.Identity, rm live.RoomID) {
	user, ok := httpx.Param[live.UserID](c, "user", "user id")
	if !ok {
		return
	}
	reason, ok := optionalReason(c)
	if !ok {
		return
	}
	reply(c, http.StatusOK, "unmuted", user, s.Unmute(c.Request.Context(), id, rm, user, reason))
}

func (s *Service) handleMutes(c *gin.Context, id live.Identity, rm live.RoomID) {
	ms, err := s.Mutes(c.Request.Context(), id, rm)
	reply(c, http.StatusOK, "mutes", ms, err)
}

type banReq struct {
	UserID live.UserID `json:"user_id"`
	Reason string      `json:"reason"`
}

func (s *Service) handleBan(c *gin.Context, id live.Identity, rm live.RoomID) {
	var req banReq
	if !httpx.Bind(c, &req) {
		return
	}
	user, err := userField(req.UserID, "user_id")
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	created, err := s.Ban(c.Request.Context(), id, rm, user, req.Reason)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, gin.H{"ban": gin.H{"user_id": user, "reason": strings.TrimSpace(req.Reason)}})
}

// handleUnban serves DELETE /bans/:user (optional {"reason"}) and
// DELETE /bans with {"user_id","reason"}.
func (s *Service) handleUnban(c *gin.Context, id live.Identity, rm live.RoomID) {
	var user live.UserID
	var reason string
	var ok bool
	if c.Param("user") != "" {
		if user, ok = httpx.Param[live.UserID](c, "user", "user id"); !ok {
			return
		}
		if reason, ok = optionalReason(c); !ok {
			return
		}
	} else {
		var req banReq
		if !httpx.Bind(c, &req) {
			return
		}
		u, err := userField(req.UserID, "user_id")
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		user, reason = u, req.Reason
	}
	reply(c, http.StatusOK, "unbanned", user, s.Unban(c.Request.Context(), id, rm, user, reason))
}

func (s *Service) handleBans(c *gin.Context, id live.Identity, rm live.RoomID) {
	bs, err := s.Bans(c.Request.Context(), id, rm)
	reply(c, http.StatusOK, "bans", bs, err)
}

func (s *Service) handleSettings(c *gin.Context, id live.Identity, rm live.RoomID) {
	var p SettingsPatch
	if !httpx.Bind(c, &p) {
		return
	}
	set, err := s.UpdateSettings(c.Request.Context(), id, rm, p)
	reply(c, http.StatusOK, "settings", set, err)
}

func limitParam(c *gin.Context) (int, bool) {
	v := c.Query("limit")
	if v == "" {
		return store.DefaultPage, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > store.MaxPage {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_query", Message: "limit must be between 1 and " + strconv.Itoa(store.MaxPage), Fields: []string{"limit"}})
		return 0, false
	}
	return n, true
}

func (s *Service) handleHeld(c *gin.Context, id live.Identity, rm live.RoomID) {
	limit, ok := limitParam(c)
	if !ok {
		return
	}
	hs, err := s.Held(c.Request.Context(), id, rm, limit)
	reply(c, http.StatusOK, "held", hs, err)
}

func (s *Service) handleDecide(approve bool) roomHandler {
	return func(c *gin.Context, id live.Identity, rm live.RoomID) {
		msgID, err := live.ParseID[live.UserID](c.Param("id"), "message id")
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		reason, ok := optionalReason(c)
		if !ok {
			return
		}
		h, err := s.DecideHeld(c.Request.Context(), id, rm, string(msgID), approve, reason)
		reply(c, http.StatusOK, "held", h, err)
	}
}

func (s *Service) handleAudit(c *gin.Context, id live.Identity, rm live.RoomID) {
	limit, ok := limitParam(c)
	if !ok {
		return
	}
	var before int64
	if v := c.Query("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_query", Message: "before must be a positive audit id", Fields: []string{"before"}})
			return
		}
		before = n
	}
	rows, err := s.Audit(c.Request.Context(), id, rm, before, limit)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var next *int64
	if len(rows) == limit {
		n := rows[len(rows)-1].ID
		next = &n
	}
	c.JSON(http.StatusOK, gin.H{"entries": rows, "next_before": next})
}
