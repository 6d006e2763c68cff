package main

import (
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestRunStopsOnSIGTERM starts the real main loop and stops it with SIGTERM.
func TestRunStopsOnSIGTERM(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// a free port for the media mux (UDP) and ICE-TCP, so parallel test processes never collide
	udpPort := strconv.Itoa(freeMediaPort(t))
	env := map[string]string{"JOBCAST_DATA_DIR": t.TempDir(), "JOBCAST_LOG_LEVEL": "error", "JOBCAST_SHUTDOWN_TIMEOUT": "5s",
		"JOBCAST_RTC_UDP_PORT": udpPort}
	done := make(chan int, 1)
	go func() { done <- run([]string{"-addr", addr}, func(k string) string { return env[k] }) }()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("run exited early with %d", code)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	client.CloseIdleConnections()
	start := time.Now()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no graceful stop within 10 s")
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if _, err := client.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
	if code := run([]string{"-addr", "bad"}, func(string) string { return "" }); code != 2 {
		t.Fatalf("bad config exit code %d, want 2", code)
	}
}
