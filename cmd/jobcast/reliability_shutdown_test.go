package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"jobcast/chat"
	"jobcast/live"
	"jobcast/store"
)

// TestReliabilityGracefulShutdownUnderLoad: jobcast as a process with 200
// WebSocket viewers in a live room and 40 clients applying as fast as the
// server answers. SIGTERM → the process exits cleanly within 30 s, every
// viewer's socket is closed with 1001 (going away), and every apply that was
// answered 2xx is in the database under the id answered (none answered and
// then lost).
func TestReliabilityGracefulShutdownUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobcast as a process")
	}
	dataDir := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	const viewers, seekers, jobs, appliers = 200, 400, 5, 40
	f := seedFair(t, db, seekers, jobs)
	db.Close()
	p := startJobcast(t, map[string]string{"JOBCAST_DATA_DIR": dataDir, "JOBCAST_APPLIES_PER_MINUTE": "100000",
		"JOBCAST_SHUTDOWN_TIMEOUT": "25s", "JOBCAST_LOG_LEVEL": "info", "JOBCAST_RTC_UDP_PORT": fmt.Sprint(freeMediaPort(t))})
	addr := strings.TrimPrefix(p.base, "http://")

	vs := make([]*streamViewer, viewers)
	for i := range vs {
		tok := "" // half visitors, half signed-in seekers
		if i%2 == 1 {
			tok = f.tokens[i]
		}
		vs[i] = newStreamViewer(addr, f.room, tok, false)
		if err := vs[i].start(); err != nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
	}
	t.Cleanup(func() {
		for _, v := range vs {
			v.close()
		}
	})

	// Appliers: each walks its own (seeker, job) pairs; a 2xx answer is
	// recorded with the application id, anything else (refused connection,
	// 503 while shutting down, reset) is not.
	type answer struct {
		seeker live.UserID
		job    live.JobID
		id     live.ApplicationID
	}
	var (
		mu       sync.Mutex
		answered []answer
		failed   atomic.Int64
		inFlight atomic.Int64
		stopping = make(chan struct{})
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: appliers}}
	defer client.CloseIdleConnections()
	for a := range appliers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := a; k < seekers*jobs; k += appliers {
				select {
				case <-stopping:
					return
				default:
				}
				s, j := k/jobs, k%jobs
				req, _ := http.NewRequest("POST", p.base+"/api/rooms/"+string(f.room)+"/jobs/"+string(f.jobs[j])+"/apply", nil)
				req.Header.Set("Authorization", "Bearer "+f.tokens[s])
				inFlight.Add(1)
				res, err := client.Do(req)
				inFlight.Add(-1)
				if err != nil {
					failed.Add(1)
					continue
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode/100 != 2 {
					failed.Add(1)
					continue
				}
				var out struct {
					Application live.Application `json:"application"`
				}
				if err := json.Unmarshal(body, &out); err != nil || out.Application.ID == "" {
					t.Errorf("2xx apply without an application: %s", body)
					continue
				}
				mu.Lock()
				answered = append(answered, answer{f.seekers[s], f.jobs[j], out.Application.ID})
				mu.Unlock()
			}
		}()
	}
	// Let applies flow, then SIGTERM while they are in flight.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(answered)
		mu.Unlock()
		if n >= 300 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d applies answered in 20 s before the shutdown", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	before := len(answered)
	mu.Unlock()
	flying := inFlight.Load()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
		t.Fatal("jobcast did not exit within 30 s of SIGTERM")
	}
	took := time.Since(start)
	close(stopping)
	wg.Wait()
	if !p.cmd.ProcessState.Success() {
		log, _ := readLog(p)
		t.Fatalf("jobcast exited with %v after SIGTERM\n%s", p.cmd.ProcessState, log)
	}

	// Sockets: every viewer saw a close frame 1001.
	codes := map[int]int{}
	for _, v := range vs {
		select {
		case <-v.done:
		case <-time.After(5 * time.Second):
			t.Fatal("a viewer's socket is still open after the process exited")
		}
		v.mu.Lock()
		codes[v.lastClose]++
		v.mu.Unlock()
	}
	if codes[chat.CloseGoingAway] != viewers {
		t.Errorf("viewer close codes %v, want all %d with %d (going away)", codes, viewers, chat.CloseGoingAway)
	}

	// Applies: every 2xx is stored with the id answered.
	db, err = store.Open(ctx, "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lost := 0
	for _, a := range answered {
		got, err := db.ApplicationBySeekerJob(ctx, a.seeker, a.job)
		if err != nil || got.ID != a.id {
			lost++
			if lost <= 5 {
				t.Errorf("answered 2xx %s (seeker %s, job %s) but the database has %q (%v)", a.id, a.seeker, a.job, got.ID, err)
			}
		}
	}
	counts, err := db.ApplicationCounts(ctx, f.jobs)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, n := range counts {
		stored += n
	}
	if lost > 0 {
		t.Fatalf("%d of %d applies answered 2xx are not in the database", lost, len(answered))
	}
	t.Logf("SIGTERM with %d viewers and %d applies in flight (%d answered before): exit 0 after %v; close codes %v; "+
		"%d applies answered 2xx, all stored (%d rows; %d attempts not answered 2xx: 503 while draining or refused after exit)",
		viewers, flying, before, took.Round(time.Millisecond), codes, len(answered), stored, failed.Load())

}

// readLog returns the process's captured log (stdout and stderr).
func readLog(p *proc) (string, error) {
	b, err := readFileString(p.log)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", p.log, err)
	}
	return b, nil
}
