package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jobcast/store"
)

// rssBytes is a process's resident set size from /proc/<pid>/status.
func rssBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// metricValue reads one unlabelled sample from a jobcast /metrics page.
func metricValue(base, name string) (float64, error) {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// TestReliabilitySlowConsumers: jobcast as a process; 200 signed-in
// viewers read normally while 100 of them chat at 1 message/s each (100
// messages/s into the room), and 5 more clients connect and never read
// (a 4 KiB TCP receive buffer: a stalled phone). The 5 are cut within
// 15 s, the server's RSS grows less than 50 MB, and the 200 others lose
// nothing: every one ends at the same last seq with a contiguous stream.
func TestReliabilitySlowConsumers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobcast as a process")
	}
	dataDir := t.TempDir()
	db, err := store.Open(context.Background(), "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	const normal, slow, senders, run = 200, 5, 100, 20 * time.Second
	f := seedFair(t, db, normal+slow, 1)
	db.Close()
	p := startJobcast(t, map[string]string{"JOBCAST_DATA_DIR": dataDir, "JOBCAST_RTC_UDP_PORT": fmt.Sprint(freeMediaPort(t))})
	addr := strings.TrimPrefix(p.base, "http://")

	vs := make([]*streamViewer, normal)
	for i := range vs {
		vs[i] = newStreamViewer(addr, f.room, f.tokens[i], false)
		if err := vs[i].start(); err != nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
	}
	t.Cleanup(func() {
		for _, v := range vs {
			v.close()
		}
	})
	wsURL := "ws://" + addr + "/api/rooms/" + string(f.room) + "/ws"
	stalled := make([]*websocket.Conn, slow)
	for i := range stalled {
		c, err := dialRaw(wsURL, f.tokens[normal+i], 4096)
		if err != nil {
			t.Fatalf("slow client %d: %v", i, err)
		}
		stalled[i] = c
		defer c.Close()
	}
	conns := func() int {
		n, err := metricValue(p.base, "jobcast_ws_connections")
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	if n := settle(func() int { return -conns() }, -(normal + slow), 10*time.Second); -n != normal+slow {
		t.Fatalf("%d connections open, want %d", -n, normal+slow)
	}
	pid := p.cmd.Process.Pid
	time.Sleep(500 * time.Millisecond)
	base, err := rssBytes(pid)
	if err != nil {
		t.Skip(err)
	}

	// Senders: 100 of the normal viewers, one message a second each,
	// staggered so the room gets a steady 100/s.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, sendErr atomic.Int64
	text := "is the welding job in Hanyang still open for people without a certificate? asking for my cousin, thanks"
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(i) * time.Second / senders):
			}
			tick := time.NewTicker(1010 * time.Millisecond)
			defer tick.Stop()
			for n := 0; ; n++ {
				b := fmt.Appendf(nil, `{"type":"chat","text":"%s (%d.%d)","nonce":"s%d-%d"}`, text, i, n, i, n)
				if err := vs[i].write(b); err != nil {
					sendErr.Add(1)
				} else {
					sent.Add(1)
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
	}
	start := time.Now()
	var peak atomic.Int64
	peak.Store(base)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r, err := rssBytes(pid); err == nil && r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	var cutAfter time.Duration
	for time.Since(start) < run {
		if cutAfter == 0 && conns() <= normal {
			cutAfter = time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	<-sampled
	left := conns()
	slowCuts, _ := metricValue(p.base, "jobcast_ws_slow_disconnects_total")

	// Everyone normal ends at the same last seq with no gap.
	var last uint64
	for _, v := range vs {
		_, s := v.position()
		last = max(last, s)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, v := range vs {
		for {
			_, s := v.position()
			if s == last || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	lost, closedNormal := 0, 0
	chats := 0
	for i, v := range vs {
		v.mu.Lock()
		if v.gaps > 0 || v.dups > 0 || v.seq != last {
			lost++
			if lost <= 3 {
				t.Errorf("viewer %d: last seq %d of %d, %d gaps %v, %d duplicates", i, v.seq, last, v.gaps, v.gapDetail, v.dups)
			}
		}
		if !v.connected {
			closedNormal++
		}
		chats = max(chats, v.byType["chat"])
		v.mu.Unlock()
	}
	growth := peak.Load() - base
	t.Logf("%d normal viewers + %d never-reading (4 KiB receive buffer); %d chat messages sent in %v (%.0f/s, %d write errors), %d delivered to each viewer",
		normal, slow, sent.Load(), run, float64(sent.Load())/run.Seconds(), sendErr.Load(), chats)
	t.Logf("the %d stalled clients cut %v after the flow started (connections %d → %d; %v slow disconnects by queue overflow, the rest by write timeout)",
		slow, cutAfter.Round(100*time.Millisecond), normal+slow, left, slowCuts)
	t.Logf("server RSS %.1f MiB → peak %.1f MiB (+%.1f MiB); normal viewers: %d with a gap or behind, %d disconnected",
		float64(base)/(1<<20), float64(peak.Load())/(1<<20), float64(growth)/(1<<20), lost, closedNormal)
	if cutAfter == 0 || cutAfter > 15*time.Second {
		t.Errorf("the stalled clients were not all cut within 15 s (connections now %d, want %d)", left, normal)
	}
	if growth >= 50<<20 {
		t.Errorf("server RSS grew %.1f MiB, want < 50 MiB", float64(growth)/(1<<20))
	}
	if closedNormal > 0 {
		t.Errorf("%d normal viewers were disconnected", closedNormal)
	}
	if chats < int(sent.Load())*9/10 {
		t.Errorf("viewers got %d chat messages of %d sent (rate-limited or refused?)", chats, sent.Load())
	}
}
