package auth

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
)

// Identify is the Gin middleware that resolves the caller from an
// Authorization: Bearer token (preferred) or the session cookie and records
// it with httpx.SetIdentity. A bad bearer token is refused with 401; a stale
// cookie is ignored (the caller is a visitor) and cleared. A bearer token
// starting with StreamKeyPrefix is a room stream key, not a session: the
// request continues as a visitor and the WHIP handler checks the key.
func (s *Service) Identify() gin.HandlerFunc {
	return func(c *gin.Context) {
		if tok := httpx.BearerToken(c.Request); tok != "" {
			if strings.HasPrefix(tok, StreamKeyPrefix) {
				c.Next()
				return
			}
			id, err := s.IdentifyToken(c.Request.Context(), tok)
			if err != nil {
				httpx.Fail(c, err)
				return
			}
			httpx.SetIdentity(c, id, false)
			c.Next()
			return
		}
		if tok := httpx.CookieToken(c.Request); tok != "" {
			id, err := s.IdentifyToken(c.Request.Context(), tok)
			if err != nil {
				if _, ok := live.AsError(err); !ok {
					httpx.Fail(c, err)
					return
				}
				s.clearCookie(c)
			} else {
				httpx.SetIdentity(c, id, true)
			}
		}
		c.Next()
	}
}

// CSRF is the Gin middleware that refuses cross-origin unsafe requests
// (POST, PUT, PATCH, DELETE) from browsers — by Sec-Fetch-Site, or Origin
// against Host — unless the origin is trusted. Requests authenticated with
// a bearer token carry no ambient credentials and are not checked; nor are
// requests from non-browser clients that send neither header.
func (s *Service) CSRF() gin.HandlerFunc {
	return func(c *gin.Context) {
		if httpx.BearerToken(c.Request) != "" {
			c.Next()
			return
		}
		if err := s.csrf.Check(c.Request); err != nil {
			httpx.Fail(c, &live.Error{Kind: live.KindForbidden, Code: "cross_origin_request",
				Message: "cross-origin request refused; send it from the site itself or with a bearer token"})
			return
		}
		c.Next()
	}
}

// Routes registers the auth and /api/me endpoints on r (mount Identify
// and CSRF before them).
func (s *Service) Routes(r gin.IRouter) {
	r.POST("/api/auth/register", s.handleRegister)
	r.POST("/api/auth/login", s.handleLogin)
	r.POST("/api/auth/logout", s.handleLogout)
	r.GET("/api/me", s.handleMe)
	r.PUT("/api/me/profile", s.handleProfile)
	r.GET("/api/me/applications", s.handleApplications)
}

// limit applies the per-IP limit and, when account is not "", the
// per-account limit. It aborts with 429 and returns false when exceeded.
func (s *Service) limit(c *gin.Context, account string) bool {
	now := s.cfg.Now()
	if ok, wait := s.ipLim.Allow(c.ClientIP(), now); !ok {
		httpx.Fail(c, live.RateLimited(wait))
		return false
	}
	if account != "" {
		if ok, wait := s.acctLim.Allow(account, now); !ok {
			httpx.Fail(c, live.RateLimited(wait))
			return false
		}
	}
	return true
}

func (s *Service) setCookie(c *gin.Context, token string, exp time.Time) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: httpx.SessionCookie, Value: token, Path: "/", Expires: exp, MaxAge: int(time.Until(exp).Seconds()),
		HttpOnly: true, Secure: s.cfg.SecureCookie, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Service) clearCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: httpx.SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.cfg.SecureCookie, SameSite: http.SameSiteLaxMode,
	})
}

type registerReq struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

type sessionResp struct {
	User      live.User `json:"user"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Password limits.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

func field(code, field, msg string) *live.Error {
	return &live.Error{Kind: live.KindInvalid, Code: code, Message: msg, Fields: []string{field}}
}

func (s *Service) handleRegister(c *gin.Context) {
	var req registerReq
	if !httpx.Bind(c, &req) {
		return
	}
	email := store.NormalizeEmail(req.Email)
	name := strings.TrimSpace(req.Name)
	switch n := utf8.RuneCountInString(req.Password); {
	case !validEmail(email):
		httpx.Fail(c, field("invalid_field", "email", "a valid email address is required"))
		return
	case n < MinPasswordLen:
		httpx.Fail(c, field("weak_password", "password", "the password needs at least "+strconv.Itoa(MinPasswordLen)+" characters"))
		return
	case n > MaxPasswordLen:
		httpx.Fail(c, field("invalid_field", "password", "the password is at most "+strconv.Itoa(MaxPasswordLen)+" characters"))
		return
	case name == "":
		httpx.Fail(c, field("invalid_field", "name", "name is required"))
		return
	case utf8.RuneCountInString(name) > live.MaxNameLen:
		httpx.Fail(c, field("invalid_field", "name", "name is too long (max 100 characters)"))
		return
	}
	if !s.limit(c, "r:"+email) {
		return
	}
	u, token, exp, err := s.register(c.Request.Context(), email, req.Password, name)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	s.setCookie(c, token, exp)
	c.JSON(http.StatusCreated, sessionResp{User: u, Token: token, ExpiresAt: exp})
}

type loginReq struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Service) handleLogin(c *gin.Context) {
	var req loginReq
	if !httpx.Bind(c, &req) {
		return
	}
	email := store.NormalizeEmail(req.Email)
	if email == "" || req.Password == "" {
		httpx.Fail(c, &live.Error{Kind: live.KindInvalid, Code: "invalid_field", Message: "email and password are required", Fields: []string{"email", "password"}})
		return
	}
	if len(req.Password) > 4*MaxPasswordLen || len(email) > 254 {
		httpx.Fail(c, badCredentials())
		return
	}
	if !s.limit(c, "l:"+email) {
		return
	}
	u, token, exp, err := s.login(c.Request.Context(), email, req.Password)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	s.setCookie(c, token, exp)
	c.JSON(http.StatusOK, sessionResp{User: u, Token: token, ExpiresAt: exp})
}

func (s *Service) handleLogout(c *gin.Context) {
	if _, ok := httpx.RequireUser(c); !ok {
		return
	}
	tok := httpx.BearerToken(c.Request)
	if tok == "" {
		tok = httpx.CookieToken(c.Request)
	}
	err := s.logout(c.Request.Context(), tok)
	s.clearCookie(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type meResp struct {
	User    live.User             `json:"user"`
	Profile live.Profile          `json:"profile"`
	Missing []string              `json:"profile_missing"`
	Orgs    []store.OrgMembership `json:"orgs"`
}

func (s *Service) handleMe(c *gin.Context) {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u, err := s.db.UserByID(ctx, id.UserID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	u.Admin = id.Admin
	p, err := s.db.Profile(ctx, id.UserID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	orgs, err := s.db.OrgsOf(ctx, id.UserID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, meResp{User: u, Profile: p, Missing: missing(p), Orgs: orgs})
}

func missing(p live.Profile) []string {
	m := p.Missing()
	if m == nil {
		m = []string{}
	}
	return m
}

type profileReq struct {
	FullName           string   `json:"full_name"`
	Phone              string   `json:"phone"`
	City               string   `json:"city"`
	Skills             []string `json:"skills"`
	Summary            string   `json:"summary"`
	AccessibilityNeeds string   `json:"accessibility_needs"`
}

type profileResp struct {
	Profile live.Profile `json:"profile"`
	Missing []string     `json:"profile_missing"`
}

func (s *Service) handleProfile(c *gin.Context) {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return
	}
	var req profileReq
	if !httpx.Bind(c, &req) {
		return
	}
	p := live.Profile{FullName: req.FullName, Phone: req.Phone, City: req.City, Skills: req.Skills,
		Summary: req.Summary, AccessibilityNeeds: req.AccessibilityNeeds}
	p.Normalize()
	if err := p.Validate(); err != nil {
		httpx.Fail(c, err)
		return
	}
	saved, err := s.db.PutProfile(c.Request.Context(), id.UserID, p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, profileResp{Profile: saved, Missing: missing(saved)})
}

type applicationsResp struct {
	Applications []live.Application `json:"applications"`
	NextOffset   *int               `json:"next_offset"`
}

func (s *Service) handleApplications(c *gin.Context) {
	id, ok := httpx.RequireUser(c)
	if !ok {
		return
	}
	limit, offset, err := httpx.ParsePage(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	apps, more, err := s.db.SeekerApplications(c.Request.Context(), id.UserID, limit, offset)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	resp := applicationsResp{Applications: apps}
	if more {
		next := offset + len(apps)
		resp.NextOffset = &next
	}
	c.JSON(http.StatusOK, resp)
}
