package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	"jobcast/auth"
	"jobcast/httpx"
	"jobcast/store/storetest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

// cheap hashing keeps -race runs fast; production uses auth.DefaultHash.
var cheapHash = auth.HashParams{Time: 1, Memory: 1024, Threads: 1}

type srv struct {
	t   *testing.T
	app *App
}

func testConfig(t *testing.T) Config {
	c := DefaultConfig()
	c.Addr = "127.0.0.1:0"
	c.DataDir = t.TempDir()
	return c
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newSrvCfg(t *testing.T, cfg Config, opt Options) *srv {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quietLog()
	}
	opt.LoopbackMedia = true // ephemeral loopback media ports: tests never collide
	if opt.Hash == (auth.HashParams{}) {
		opt.Hash = cheapHash
	}
	if opt.IPLimit == (auth.Limit{}) {
		opt.IPLimit = auth.Limit{Every: time.Millisecond, Burst: 10000}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := NewApp(ctx, cfg, opt)
	if err != nil {
		t.Fatalf("NewApp: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &srv{t: t, app: a}
}

func newSrv(t *testing.T) *srv { return newSrvCfg(t, testConfig(t), Options{}) }

// eachDB runs fn against an app on SQLite and one on PostgreSQL.
func eachDB(t *testing.T, fn func(t *testing.T, s *srv)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newSrv(t)) })
	t.Run("postgres", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.DatabaseURL = storetest.PostgresURL(t)
		fn(t, newSrvCfg(t, cfg, Options{}))
	})
}

type call struct {
	method, path, body string
	token              string
	hdr                map[string]string
}

func (s *srv) do(c call) *httptest.ResponseRecorder {
	s.t.Helper()
	r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	if c.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.app.Handler().ServeHTTP(w, r)
	return w
}

// ok performs c and fails unless the status is want; it decodes the body
// into out when out is not nil.
func (s *srv) ok(c call, want int, out any) {
	s.t.Helper()
	w := s.do(c)
	if w.Code != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, w.Code, want, w.Body.String())
	}
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			s.t.Fatalf("%s %s: decoding %q: %v", c.method, c.path, w.Body.String(), err)
		}
	}
}

// fails performs c and checks the error status, code and JSON shape.
func (s *srv) fails(c call, status int, code string) {
	s.t.Helper()
	w := s.do(c)
	checkError(s.t, c.method+" "+c.path, w, status, code)
}

func checkError(t *testing.T, what string, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("%s: status %d, want %d: %s", what, w.Code, status, w.Body.String())
	}
	var b httpx.ErrorBody
	dec := json.NewDecoder(strings.NewReader(w.Body.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error.Message == "" {
		t.Fatalf("%s: body %q is not the error shape (%v)", what, w.Body.String(), err)
	}
	if code != "" && b.Error.Code != code {
		t.Fatalf("%s: code %q, want %q (%s)", what, b.Error.Code, code, b.Error.Message)
	}
	if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("%s: content type %q", what, w.Header().Get("Content-Type"))
	}
}

type account struct {
	ID    string
	Token string
	Email string
}

func (s *srv) register(email string) account {
	s.t.Helper()
	var out struct {
		User  struct{ ID string } `json:"user"`
		Token string              `json:"token"`
	}
	s.ok(call{method: "POST", path: "/api/auth/register", body: `{"email":"` + email + `","password":"long enough","name":"N"}`}, 201, &out)
	return account{ID: out.User.ID, Token: out.Token, Email: email}
}

func (s *srv) createOrg(owner account, name string) string {
	s.t.Helper()
	var out struct {
		Org struct{ ID string } `json:"org"`
	}
	s.ok(call{method: "POST", path: "/api/orgs", token: owner.Token, body: `{"name":"` + name + `"}`}, 201, &out)
	return out.Org.ID
}
