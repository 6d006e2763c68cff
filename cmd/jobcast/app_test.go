package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"jobcast/auth"
)

func TestHealthMetricsAndErrorShape(t *testing.T) {
	s := newSrv(t)
	s.app.Engine.GET("/test/panic", func(*gin.Context) { panic("boom: secret stack detail") })

	s.ok(call{method: "GET", path: "/healthz"}, 200, nil)
	s.ok(call{method: "GET", path: "/readyz"}, 200, nil)
	s.fails(call{method: "GET", path: "/api/nope"}, 404, "not_found")
	s.fails(call{method: "DELETE", path: "/healthz"}, 405, "method_not_allowed")
	w := s.do(call{method: "GET", path: "/test/panic"})
	checkError(t, "panic", w, 500, "internal")
	if strings.Contains(w.Body.String(), "boom") || strings.Contains(w.Body.String(), "goroutine") {
		t.Fatalf("panic detail leaked: %s", w.Body.String())
	}
	s.fails(call{method: "GET", path: "/api/rooms/not-a-uuid"}, 400, "invalid_id")

	// request ids: a sane one is echoed, a hostile one replaced
	if got := s.do(call{method: "GET", path: "/healthz", hdr: map[string]string{"X-Request-ID": "abc-123"}}).Header().Get("X-Request-ID"); got != "abc-123" {
		t.Fatalf("request id %q", got)
	}
	if got := s.do(call{method: "GET", path: "/healthz", hdr: map[string]string{"X-Request-ID": "a\"b c"}}).Header().Get("X-Request-ID"); got == "" || strings.Contains(got, " ") {
		t.Fatalf("request id %q", got)
	}

	w = s.do(call{method: "GET", path: "/metrics"})
	body := w.Body.String()
	for _, want := range []string{`jobcast_http_requests_total{method="GET",route="/healthz",status="200"}`,
		`route="unmatched",status="404"`, `jobcast_http_request_duration_seconds_bucket{method="GET",route="/healthz"`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestBodyCaps(t *testing.T) {
	s := newSrv(t)
	a := s.register("cap@example.com")
	// over the JSON cap (64 KiB) and over the global cap (1 MiB)
	for _, n := range []int{70 << 10, 2 << 20} {
		body := `{"name":"` + strings.Repeat("x", n) + `"}`
		s.fails(call{method: "POST", path: "/api/orgs", token: a.Token, body: body}, 413, "body_too_large")
	}
	// a chunked body (no Content-Length) past the global cap
	r, w := io.Pipe()
	go func() {
		_, _ = w.Write([]byte(`{"name":"`))
		_, _ = w.Write([]byte(strings.Repeat("x", 2<<20)))
		_ = w.Close()
	}()
	req, _ := http.NewRequest("POST", "/api/orgs", r)
	req.Header.Set("Authorization", "Bearer "+a.Token)
	req.ContentLength = -1
	rec := newRecorder()
	s.app.Handler().ServeHTTP(rec, req)
	_ = r.Close()
	checkError(t, "chunked", rec, 413, "body_too_large")
}

func TestReadyzFailsWithoutDatabase(t *testing.T) {
	s := newSrv(t)
	s.app.AddReadyCheck("broker", func(context.Context) error { return io.ErrUnexpectedEOF })
	s.fails(call{method: "GET", path: "/readyz"}, 503, "not_ready")
}

func TestServeCloseAndRestart(t *testing.T) {
	cfg := testConfig(t)
	opt := Options{Logger: quietLog(), Hash: cheapHash}
	start := func() (*App, string, chan error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		a, err := NewApp(ctx, cfg, opt)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.Serve(ln) }()
		return a, "http://" + ln.Addr().String(), done
	}
	stop := func(a *App, done chan error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		if err := a.Close(ctx); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	a, base, done := start()
	resp, err := client.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz over TCP: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = client.Post(base+"/api/auth/register", "application/json",
		strings.NewReader(`{"email":"keep@example.com","password":"long enough","name":"K"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("register: %v %v", resp, err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()
	stop(a, done)

	a, base, done = start()
	resp, err = client.Post(base+"/api/auth/login", "application/json",
		strings.NewReader(`{"email":"keep@example.com","password":"long enough"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login after restart: %v %v", resp, err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()
	stop(a, done)
}

func TestCSRFAndRateLimitThroughApp(t *testing.T) {
	s := newSrvCfg(t, testConfig(t), Options{IPLimit: auth.Limit{Every: time.Hour, Burst: 3}})
	a := s.register("csrf@example.com")
	// cookie-authenticated cross-site POST is refused and changes nothing
	w := s.do(call{method: "POST", path: "/api/orgs", body: `{"name":"Evil"}`, hdr: map[string]string{
		"Cookie": "jobcast_session=" + a.Token, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}})
	checkError(t, "csrf", w, 403, "cross_origin_request")
	var me struct {
		Orgs []any `json:"orgs"`
	}
	s.ok(call{method: "GET", path: "/api/me", token: a.Token}, 200, &me)
	if len(me.Orgs) != 0 {
		t.Fatalf("cross-site request created an org: %+v", me)
	}
	// the same from the site itself works
	s.ok(call{method: "POST", path: "/api/orgs", body: `{"name":"Good"}`, hdr: map[string]string{
		"Cookie": "jobcast_session=" + a.Token, "Sec-Fetch-Site": "same-origin"}}, 201, nil)

	// 1 register + 2 logins use the burst of 3; the next is limited even
	// with a made-up X-Forwarded-For (no proxy is trusted)
	for i := 0; i < 2; i++ {
		s.do(call{method: "POST", path: "/api/auth/login", body: `{"email":"csrf@example.com","password":"wrong one"}`})
	}
	w = s.do(call{method: "POST", path: "/api/auth/login", body: `{"email":"csrf@example.com","password":"long enough"}`,
		hdr: map[string]string{"X-Forwarded-For": "203.0.113.7"}})
	checkError(t, "rate limit", w, 429, "rate_limited")
	if w.Header().Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}
