package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	"jobcast/auth"
	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
	"jobcast/store/storetest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

// cheap hashing keeps -race runs fast; production uses auth.DefaultHash.
var cheap = auth.HashParams{Time: 1, Memory: 1024, Threads: 1}

type env struct {
	t   *testing.T
	svc *auth.Service
	h   http.Handler
	db  *store.DB
	mu  sync.Mutex
	out []live.UserID
}

func newEnv(t *testing.T, db *store.DB, cfg auth.Config) *env {
	t.Helper()
	if cfg.Hash == (auth.HashParams{}) {
		cfg.Hash = cheap
	}
	if cfg.IPLimit == (auth.Limit{}) {
		cfg.IPLimit = auth.Limit{Every: time.Millisecond, Burst: 1000}
	}
	if cfg.AccountLimit == (auth.Limit{}) {
		cfg.AccountLimit = auth.Limit{Every: time.Millisecond, Burst: 1000}
	}
	svc, err := auth.New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, svc: svc, db: db}
	svc.OnLogout = func(u live.UserID) { e.mu.Lock(); e.out = append(e.out, u); e.mu.Unlock() }
	g := gin.New()
	if err := g.SetTrustedProxies(nil); err != nil {
		t.Fatal(err)
	}
	g.Use(svc.Identify(), svc.CSRF())
	svc.Routes(g)
	e.h = g
	return e
}

type req struct {
	method, path, body string
	token, cookie      string
	hdr                map[string]string
}

func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: httpx.SessionCookie, Value: r.cookie})
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %q: %v", w.Body.String(), err)
	}
	return v
}

type session struct {
	User  live.User `json:"user"`
	Token string    `json:"token"`
}

func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body.String())
	}
	b := decode[httpx.ErrorBody](t, w)
	if b.Error.Code != code || b.Error.Message == "" {
		t.Fatalf("error %+v, want code %q", b.Error, code)
	}
}

func (e *env) register(email string) session {
	e.t.Helper()
	w := e.do(req{method: "POST", path: "/api/auth/register", body: `{"email":"` + email + `","password":"correct horse","name":"Ann"}`})
	if w.Code != http.StatusCreated {
		e.t.Fatalf("register: %d %s", w.Code, w.Body.String())
	}
	return decode[session](e.t, w)
}

func TestAccountFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, auth.Config{AdminEmails: []string{"Boss@Example.com"}})
		w := e.do(req{method: "POST", path: "/api/auth/register", body: `{"email":" Ann@Example.com","password":"correct horse","name":" Ann "}`})
		if w.Code != http.StatusCreated {
			t.Fatalf("register: %d %s", w.Code, w.Body.String())
		}
		s := decode[session](t, w)
		if s.User.Email != "ann@example.com" || s.User.Name != "Ann" || len(s.Token) < 40 || s.User.Admin {
			t.Fatalf("register answer: %+v", s)
		}
		ck := w.Result().Cookies()
		if len(ck) != 1 || ck[0].Name != httpx.SessionCookie || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode || ck[0].Value != s.Token {
			t.Fatalf("cookie: %+v", ck)
		}
		wantError(t, e.do(req{method: "POST", path: "/api/auth/register", body: `{"email":"ann@example.com","password":"another one","name":"A"}`}),
			http.StatusConflict, "email_taken")

		// me by bearer and by cookie
		for _, r := range []req{{token: s.Token}, {cookie: s.Token}} {
			r.method, r.path = "GET", "/api/me"
			w := e.do(r)
			if w.Code != 200 {
				t.Fatalf("me: %d %s", w.Code, w.Body.String())
			}
			var me struct {
				User    live.User    `json:"user"`
				Missing []string     `json:"profile_missing"`
				Profile live.Profile `json:"profile"`
			}
			me = decode[struct {
				User    live.User    `json:"user"`
				Missing []string     `json:"profile_missing"`
				Profile live.Profile `json:"profile"`
			}](t, w)
			if me.User.ID != s.User.ID || len(me.Missing) != 2 {
				t.Fatalf("me: %+v", me)
			}
		}

		// login: wrong password, unknown account, right password
		wantError(t, e.do(req{method: "POST", path: "/api/auth/login", body: `{"email":"ann@example.com","password":"wrong password"}`}),
			http.StatusUnauthorized, "invalid_credentials")
		wantError(t, e.do(req{method: "POST", path: "/api/auth/login", body: `{"email":"nobody@example.com","password":"wrong password"}`}),
			http.StatusUnauthorized, "invalid_credentials")
		w = e.do(req{method: "POST", path: "/api/auth/login", body: `{"email":"ANN@example.com","password":"correct horse"}`})
		if w.Code != 200 {
			t.Fatalf("login: %d %s", w.Code, w.Body.String())
		}
		s2 := decode[session](t, w)
		if s2.Token == s.Token || s2.User.ID != s.User.ID {
			t.Fatalf("login answer: %+v", s2)
		}

		// profile
		w = e.do(req{method: "PUT", path: "/api/me/profile", token: s.Token,
			body: `{"full_name":"李华","phone":"+86 138 0000 0000","city":"杭州","skills":["Go"," go ","SQL"],"summary":"","accessibility_needs":"screen reader"}`})
		if w.Code != 200 {
			t.Fatalf("profile: %d %s", w.Code, w.Body.String())
		}
		pr := decode[struct {
			Profile live.Profile `json:"profile"`
			Missing []string     `json:"profile_missing"`
		}](t, w)
		if pr.Profile.FullName != "李华" || len(pr.Profile.Skills) != 2 || len(pr.Missing) != 0 {
			t.Fatalf("profile answer: %+v", pr)
		}
		wantError(t, e.do(req{method: "PUT", path: "/api/me/profile", token: s.Token, body: `{"phone":"call me"}`}), 400, "invalid_field")
		if p, _ := db.Profile(context.Background(), s.User.ID); p.Phone != "+86 138 0000 0000" {
			t.Fatalf("invalid profile changed the stored one: %+v", p)
		}

		// applications (none yet)
		w = e.do(req{method: "GET", path: "/api/me/applications", token: s.Token})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"applications":[]`) {
			t.Fatalf("applications: %d %s", w.Code, w.Body.String())
		}
		wantError(t, e.do(req{method: "GET", path: "/api/me/applications?limit=0", token: s.Token}), 400, "invalid_query")

		// logout revokes only that session and notifies
		w = e.do(req{method: "POST", path: "/api/auth/logout", token: s.Token})
		if w.Code != http.StatusNoContent {
			t.Fatalf("logout: %d %s", w.Code, w.Body.String())
		}
		wantError(t, e.do(req{method: "GET", path: "/api/me", token: s.Token}), 401, "invalid_session")
		if w := e.do(req{method: "GET", path: "/api/me", token: s2.Token}); w.Code != 200 {
			t.Fatalf("other session after logout: %d", w.Code)
		}
		// a stale cookie makes a visitor, not an error
		w = e.do(req{method: "GET", path: "/api/me", cookie: s.Token})
		wantError(t, w, 401, "unauthenticated")
		e.mu.Lock()
		if len(e.out) != 1 || e.out[0] != s.User.ID {
			t.Fatalf("OnLogout calls: %v", e.out)
		}
		e.mu.Unlock()

		// admin by configured email
		boss := e.register("boss@example.com")
		id, err := e.svc.IdentifyToken(context.Background(), boss.Token)
		if err != nil || !id.Admin || !boss.User.Admin {
			t.Fatalf("admin identity: %+v %v", id, err)
		}
	})
}

func TestAnonymousAndBadTokens(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), auth.Config{})
	for _, r := range []req{
		{method: "GET", path: "/api/me"},
		{method: "PUT", path: "/api/me/profile", body: `{}`},
		{method: "GET", path: "/api/me/applications"},
		{method: "POST", path: "/api/auth/logout"},
	} {
		wantError(t, e.do(r), 401, "unauthenticated")
	}
	wantError(t, e.do(req{method: "GET", path: "/api/me", token: "forged"}), 401, "invalid_session")
	wantError(t, e.do(req{method: "GET", path: "/api/me", token: strings.Repeat("x", 500)}), 401, "invalid_session")
	if id, err := e.svc.IdentifyToken(context.Background(), ""); err != nil || id.SignedIn() {
		t.Fatalf("empty token: %+v %v", id, err)
	}
}

func TestSessionExpiry(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, storetest.SQLite(t), auth.Config{SessionTTL: time.Hour, Now: clock})
	s := e.register("a@example.com")
	if _, err := e.svc.IdentifyToken(context.Background(), s.Token); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if _, err := e.svc.IdentifyToken(context.Background(), s.Token); err == nil {
		t.Fatal("expired session still identifies")
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), auth.Config{})
	s := e.register("a@example.com")
	big := `{"email":"a@example.com","password":"` + strings.Repeat("x", 70<<10) + `","name":"A"}`
	cases := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"malformed", req{method: "POST", path: "/api/auth/register", body: `{"email":`}, 400, "malformed_json"},
		{"unknown field", req{method: "POST", path: "/api/auth/register", body: `{"email":"b@example.com","password":"12345678","name":"B","admin":true}`}, 400, "unknown_field"},
		{"wrong type", req{method: "POST", path: "/api/auth/login", body: `{"email":1,"password":"x"}`}, 400, "wrong_type"},
		{"empty body", req{method: "POST", path: "/api/auth/login"}, 400, "empty_body"},
		{"too large", req{method: "POST", path: "/api/auth/register", body: big}, 413, "body_too_large"},
		{"bad email", req{method: "POST", path: "/api/auth/register", body: `{"email":"nope","password":"12345678","name":"B"}`}, 400, "invalid_field"},
		{"short password", req{method: "POST", path: "/api/auth/register", body: `{"email":"b@example.com","password":"1234","name":"B"}`}, 400, "weak_password"},
		{"no name", req{method: "POST", path: "/api/auth/register", body: `{"email":"b@example.com","password":"12345678","name":"  "}`}, 400, "invalid_field"},
		{"login missing", req{method: "POST", path: "/api/auth/login", body: `{"email":"","password":""}`}, 400, "invalid_field"},
		{"profile wrong type", req{method: "PUT", path: "/api/me/profile", token: s.Token, body: `{"skills":"Go"}`}, 400, "wrong_type"},
		{"profile too long", req{method: "PUT", path: "/api/me/profile", token: s.Token, body: `{"full_name":"` + strings.Repeat("x", 101) + `"}`}, 400, "invalid_field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantError(t, e.do(tc.r), tc.status, tc.code) })
	}
	if _, _, err := e.db.UserByEmail(context.Background(), "b@example.com"); err == nil {
		t.Fatal("a rejected registration created an account")
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), auth.Config{TrustedOrigins: []string{"https://studio.example.org"}})
	s := e.register("a@example.com")
	profile := `{"full_name":"A"}`
	cases := []struct {
		name string
		r    req
		want int
	}{
		{"cross-site cookie", req{cookie: s.Token, hdr: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}}, 403},
		{"cross-origin Origin only", req{cookie: s.Token, hdr: map[string]string{"Origin": "https://evil.example"}}, 403},
		{"same-origin cookie", req{cookie: s.Token, hdr: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}}, 200},
		{"trusted origin", req{cookie: s.Token, hdr: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://studio.example.org"}}, 200},
		{"bearer from anywhere", req{token: s.Token, hdr: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}}, 200},
		{"non-browser cookie", req{cookie: s.Token}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.method, tc.r.path, tc.r.body = "PUT", "/api/me/profile", profile
			w := e.do(tc.r)
			if tc.want == 403 {
				wantError(t, w, 403, "cross_origin_request")
				return
			}
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body.String())
			}
		})
	}
	// login CSRF: a cross-site form cannot sign the browser in
	wantError(t, e.do(req{method: "POST", path: "/api/auth/login", body: `{"email":"a@example.com","password":"correct horse"}`,
		hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}}), 403, "cross_origin_request")
}

func TestRateLimits(t *testing.T) {
	t.Run("per IP, spoofed X-Forwarded-For ignored", func(t *testing.T) {
		e := newEnv(t, storetest.SQLite(t), auth.Config{IPLimit: auth.Limit{Every: time.Minute, Burst: 3}})
		var last *httptest.ResponseRecorder
		for i := 0; i < 4; i++ {
			last = e.do(req{method: "POST", path: "/api/auth/login", body: `{"email":"u` + string(rune('a'+i)) + `@example.com","password":"whatever1"}`,
				hdr: map[string]string{"X-Forwarded-For": "10.0.0." + string(rune('1'+i)), "X-Real-IP": "10.1.1.1"}})
		}
		wantError(t, last, 429, "rate_limited")
		if ra := last.Header().Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}
	})
	t.Run("per account across IPs", func(t *testing.T) {
		e := newEnv(t, storetest.SQLite(t), auth.Config{AccountLimit: auth.Limit{Every: time.Minute, Burst: 2}})
		e.register("a@example.com")
		var last *httptest.ResponseRecorder
		for i := 0; i < 3; i++ {
			hr := httptest.NewRequest("POST", "/api/auth/login", bytes.NewBufferString(`{"email":"a@example.com","password":"wrong pass"}`))
			hr.RemoteAddr = "192.0.2." + string(rune('1'+i)) + ":1234"
			last = httptest.NewRecorder()
			e.h.ServeHTTP(last, hr)
		}
		wantError(t, last, 429, "rate_limited")
		if last.Header().Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		// another account from the same IPs is unaffected
		w := e.do(req{method: "POST", path: "/api/auth/login", body: `{"email":"b@example.com","password":"wrong pass"}`})
		wantError(t, w, 401, "invalid_credentials")
	})
}

func TestJanitorStops(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), auth.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.RunJanitor(ctx, time.Millisecond); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("janitor did not stop")
	}
}

func TestNewRejectsBadOrigin(t *testing.T) {
	if _, err := auth.New(storetest.SQLite(t), auth.Config{Hash: cheap, TrustedOrigins: []string{"not a url"}}); err == nil {
		t.Fatal("want error")
	}
}

func TestStreamKeyBearerPassesThrough(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), auth.Config{})
	g := gin.New()
	g.Use(e.svc.Identify(), e.svc.CSRF())
	g.POST("/whip", func(c *gin.Context) {
		if httpx.Identity(c).SignedIn() {
			t.Error("stream key resolved to a user")
		}
		c.String(201, httpx.BearerToken(c.Request))
	})
	r := httptest.NewRequest("POST", "/whip", strings.NewReader("v=0"))
	r.Header.Set("Authorization", "Bearer sk_abc")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != 201 || w.Body.String() != "sk_abc" {
		t.Fatalf("stream key request: %d %s", w.Code, w.Body.String())
	}
	for i := 0; i < 50; i++ {
		if s := e.register(fmt.Sprintf("t%d@example.com", i)); strings.HasPrefix(s.Token, auth.StreamKeyPrefix) {
			t.Fatalf("session token with the stream key prefix: %q", s.Token)
		}
	}
}
