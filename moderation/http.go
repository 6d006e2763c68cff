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
	r.DELETE("/api/rooms/:room/messages/:seq", s.handleDeleteMessage)
	r.GET("/api/rooms/:room/mutes", s.handleMutes)
	r.POST("/api/rooms/:room/mutes", s.handleMute)
	r.DELETE("/api/rooms/:room/mutes/:user", s.handleUnmute)
	r.GET("/api/rooms/:room/bans", s.handleBans)
	r.POST("/api/rooms/:room/bans", s.handleBan)
	r.DELETE("/api/rooms/:room/bans", s.handleUnban)
	r.DELETE("/api/rooms/:room/bans/:user", s.handleUnban)
	r.PATCH("/api/rooms/:room/settings", s.handleSettings)
	r.GET("/api/rooms/:room/held", s.handleHeld)
	r.POST("/api/rooms/:room/held/:id/approve", s.handleDecide(true))
	r.POST("/api/rooms/:room/held/:id/reject", s.handleDecide(false))
	r.GET("/api/rooms/:room/audit", s.handleAudit)
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

func room(c *gin.Context) (live.RoomID, bool) {
	return httpx.Param[live.RoomID](c, "room", "room id")
}

// signedIn answers 401 for visitors before the body is read, so that a
// visitor learns to sign in rather than about their input.
func signedIn(c *gin.Context) (live.Identity, bool) { return httpx.RequireUser(c) }

func (s *Service) handleDeleteMessage(c *gin.Context) {
	id, ok := signedIn(c)
	if !ok {
		return
	}
	rm, ok := room(c)
	if !ok {
		return
	}
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil || seq == 0 {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_id", Message: "seq must be a positive integer", Fields: []string{"seq"}})
		return
	}
	reason, ok := optionalReason(c)
	if !ok {
		return
	}
	if err := s.DeleteMessage(c.Request.Context(), id, rm, seq, reason); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"deleted": seq})
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

func (s *Service) handleMute(c *gin.Context) {
	id, ok := signedIn(c)
	if !ok {
		return
	}
	rm, ok := room(c)
	if !ok {
		return
	}
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
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"mute": m})
}

func (s *Service) handleUnmute(c *gin.Context) {
	id, ok := signedIn(c)
	if !ok {
		return
	}
	rm, ok := room(c)
	if !ok {
		return
	}
	user, ok := httpx.Param[live.UserID](c, "user", "user id")
	if !ok {
		return
	}
	reason, ok := optionalReason(c)
	if !ok {
		return
	}
	if err := s.Unmute(c.Request.Context(), id, rm, user, reason); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"unmuted": user})
}

func (s *Service) handleMutes(c *gin.Context) {
	id, ok := signedIn(c)
	if !ok {
		return
	}
	rm, ok := room(c)
	if !ok {
		return
	}
	ms, err := s.Mutes(c.Request.Context(), id, rm)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"mutes": ms})
}

type banReq struct {
	UserID live.UserID `json:"user_id"`
	Reason string      `json:"reason"`
}

func (s *Service) handleBan(c *gin.Context) {
	id, ok := signedIn(c)
	if !ok {
		return
	}
	rm, ok := room(c)
	if !ok {
		return
	}
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
func (s *Service) handleUnban(c *gin.Context) {
	id, ok := signedIn(c)
	if !ok {
		return
	}
	rm, ok := room(c)
	if !ok {
		return
	}
	var user live.UserID
	var reason string
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
	if err := s.Unban(c.Request.Context(), id, rm, user, reason); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"unbanned": user})
}

func (s *Service) handleBans(c *gin.Context) {
	id, ok := signedIn(c)
	if !ok {
		return
	}
	rm, ok := room(c)
	if !ok {
		return
	}
	bs, err := s.Bans(c.Request.Context(), id, rm)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"bans": bs})
}

func (s *Service) handleSettings(c *gin.Context) {
	id, ok := signedIn(c)
	if !ok {
		return
	}
	rm, ok := room(c)
	if !ok {
		return
	}
	var p SettingsPatch
	if !httpx.Bind(c, &p) {
		return
	}
	set, err := s.UpdateSettings(c.Request.Context(), id, rm, p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"settings": set})
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

func (s *Service) handleHeld(c *gin.Context) {
	id, ok := signedIn(c)
	if !ok {
		return
	}
	rm, ok := room(c)
	if !ok {
		return
	}
	limit, ok := limitParam(c)
	if !ok {
		return
	}
	hs, err := s.Held(c.Request.Context(), id, rm, limit)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"held": hs})
}

func (s *Service) handleDecide(approve bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := signedIn(c)
		if !ok {
			return
		}
		rm, ok := room(c)
		if !ok {
			return
		}
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
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"held": h})
	}
}

func (s *Service) handleAudit(c *gin.Context) {
	id, ok := signedIn(c)
	if !ok {
		return
	}
	rm, ok := room(c)
	if !ok {
		return
	}
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
