package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(es)
}

// settle waits until f() ≤ want or the deadline, and returns the last value.
func settle(f func() int, want int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		n := f()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReliabilityWSLeak: 1,000 WebSocket connect/disconnect cycles
// (signed in and anonymous, half closed cleanly, half dropped at the TCP
// level) leave goroutines and open files back at the baseline.
func TestReliabilityWSLeak(t *testing.T) {
	s := newSrv(t)
	ts := httptest.NewServer(s.app.Handler())
	t.Cleanup(ts.Close)
	host := s.register("leak-host@leak.test")
	org := s.createOrg(host, "Leak org")
	var room struct{ ID string }
	s.ok(call{method: "POST", path: "/api/rooms", token: host.Token, body: `{"title":"Leak","org_id":"` + org + `"}`}, 201, &room)
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/api/rooms/" + room.ID + "/ws"
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}

	cycle := func(i int) {
		h := http.Header{}
		if i%2 == 0 {
			h.Set("Authorization", "Bearer "+host.Token)
		}
		c, res, err := d.Dial(url, h)
		if err != nil {
			t.Fatalf("cycle %d: %v %v", i, err, res)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := c.ReadMessage(); err != nil { // the hello / snapshot
			t.Fatalf("cycle %d: first frame: %v", i, err)
		}
		if i%4 < 2 {
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		}
		c.NetConn().Close()
	}
	run := func(n int) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 20)
		for i := range n {
			sem <- struct{}{}
			wg.Add(1)
			go func() { defer wg.Done(); defer func() { <-sem }(); cycle(i) }()
		}
		wg.Wait()
	}
	run(100) // warm up: the database pool opens its connections (files) at this concurrency
	time.Sleep(300 * time.Millisecond)
	baseG, baseF := runtime.NumGoroutine(), openFDs(t)
	start := time.Now()
	const n = 1000
	run(n)
	took := time.Since(start)
	ts.CloseClientConnections()
	g := settle(runtime.NumGoroutine, baseG+2, 15*time.Second)
	f := settle(func() int { return openFDs(t) }, baseF+2, 15*time.Second)
	if g > baseG+2 || f > baseF+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("after %d WS cycles: goroutines %d (baseline %d), fds %d (baseline %d)\n%s", n, g, baseG, f, baseF, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("%d WS connect/disconnect cycles in %v: goroutines %d→%d, open fds %d→%d", n, took.Round(time.Millisecond), baseG, g, baseF, f)
}

// TestReliabilitySlowloris: 300 connections that dribble a request header
// one byte at a time against the real jobcast process; /healthz and a JSON
// API call keep answering quickly meanwhile, and the server drops the
// dribblers at its header timeout (10 s).
func TestReliabilitySlowloris(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobcast as a process")
	}
	p := startJobcast(t, map[string]string{"JOBCAST_DATA_DIR": t.TempDir()})
	addr := strings.TrimPrefix(p.base, "http://")
	const n = 300
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the dribble: one header byte per connection every 500 ms
		defer wg.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				for _, c := range conns {
					_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
					_, _ = c.Write([]byte("X"))
				}
			}
		}
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	var worst time.Duration
	for i := range 20 {
		for _, path := range []string{"/healthz", "/api/jobs"} {
			t0 := time.Now()
			res, err := client.Get(p.base + path)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("legitimate %s #%d during slowloris: %v %v", path, i, res, err)
			}
			res.Body.Close()
			worst = max(worst, time.Since(t0))
		}
		time.Sleep(250 * time.Millisecond)
	}
	// the server cuts dribblers at ReadHeaderTimeout (10 s): reads see EOF/reset
	deadline := time.Now().Add(15 * time.Second)
	cut := 0
	for _, c := range conns {
		_ = c.SetReadDeadline(deadline)
		r := bufio.NewReader(c)
		_, err := r.ReadByte() // EOF/reset, or a 4xx answer before the close: refused
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue
		}
		cut++
	}
	close(stop)
	wg.Wait()
	if cut != n {
		t.Fatalf("%d of %d dribblers still open 15 s after the header timeout", n-cut, n)
	}
	t.Logf("%d slowloris connections: legitimate requests kept answering (worst %v), all %d cut by the header timeout", n, worst.Round(time.Millisecond), cut)
}
