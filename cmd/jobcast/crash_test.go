package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"jobcast/live"
	"jobcast/store"
	"jobcast/store/storetest"
)

// crashRun fires seekers×jobs one-tap applies (50 clients, retries and
// idempotency keys) at a jobcast process, kills it with SIGKILL `kills`
// times at random moments while they run, restarts it each time, and then
// checks the database: every application answered 2xx exists with the id
// that was answered, and there is exactly one per seeker and job.
func crashRun(t *testing.T, databaseURL string, seekers, jobs, kills int) {
	dataDir := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, databaseURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	f := seedFair(t, db, seekers, jobs)
	db.Close()

	env := map[string]string{"JOBCAST_DATA_DIR": dataDir, "JOBCAST_APPLIES_PER_MINUTE": "100000"}
	if databaseURL != "" {
		env["JOBCAST_DATABASE_URL"] = databaseURL
	}
	p := startJobcast(t, env)
	total := seekers * jobs
	var answered atomic.Int64
	type key struct{ s, j int }
	var mu sync.Mutex
	ids := map[key]map[live.ApplicationID]bool{}
	client := &http.Client{Timeout: 10 * time.Second}
	apply := func(s, j int) error {
		url := p.base + "/api/rooms/" + string(f.room) + "/jobs/" + string(f.jobs[j]) + "/apply"
		idem := fmt.Sprintf("crash-%d-%d", s, j)
		deadline := time.Now().Add(2 * time.Minute)
		for attempt := 0; ; attempt++ {
			if time.Now().After(deadline) {
				return fmt.Errorf("seeker %d job %d: no 2xx within 2 minutes", s, j)
			}
			req, _ := http.NewRequest("POST", url, nil)
			req.Header.Set("Authorization", "Bearer "+f.tokens[s])
			req.Header.Set("Idempotency-Key", idem)
			res, err := client.Do(req)
			if err != nil { // connection refused or reset: the server is down
				time.Sleep(time.Duration(10+rand.IntN(30)) * time.Millisecond)
				continue
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			switch {
			case res.StatusCode == 200 || res.StatusCode == 201:
				var out struct {
					Application live.Application `json:"application"`
				}
				if err := json.Unmarshal(body, &out); err != nil || out.Application.ID == "" {
					return fmt.Errorf("2xx without an application: %s", body)
				}
				mu.Lock()
				k := key{s, j}
				if ids[k] == nil {
					ids[k] = map[live.ApplicationID]bool{}
				}
				ids[k][out.Application.ID] = true
				mu.Unlock()
				answered.Add(1)
				return nil
			case res.StatusCode == 429:
				secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
				time.Sleep(time.Duration(max(secs, 1)) * time.Second)
			case res.StatusCode >= 500:
				time.Sleep(20 * time.Millisecond)
			default:
				return fmt.Errorf("seeker %d job %d: %d %s", s, j, res.StatusCode, body)
			}
		}
	}
	const clients = 50
	work := make(chan key)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				if err := apply(k.s, k.j); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for j := range jobs {
			for s := range seekers {
				work <- key{s, j}
			}
		}
	}()
	// The killer: at random points spread over the run, SIGKILL and restart.
	killed := 0
	for k := range kills {
		at := int64(total) * int64(k+1) / int64(kills+1)
		at += int64(rand.IntN(max(total/(4*kills), 1)))
		for answered.Load() < at && answered.Load() < int64(total) {
			time.Sleep(2 * time.Millisecond)
		}
		if answered.Load() >= int64(total) {
			break
		}
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		p.kill()
		killed++
		p.start()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if killed < kills {
		t.Fatalf("only %d of %d kills happened before the run ended", killed, kills)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	// The database after the crashes.
	db, err = store.Open(ctx, databaseURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for k, got := range ids {
		if len(got) != 1 {
			t.Fatalf("seeker %d job %d was answered with %d different applications", k.s, k.j, len(got))
		}
		app, err := db.ApplicationBySeekerJob(ctx, f.seekers[k.s], f.jobs[k.j])
		if err != nil {
			t.Fatalf("seeker %d job %d: answered 2xx but not in the database: %v", k.s, k.j, err)
		}
		if !got[app.ID] {
			t.Fatalf("seeker %d job %d: stored %s, answered %v", k.s, k.j, app.ID, got)
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
	if len(ids) != total || stored != total {
		t.Fatalf("answered %d pairs, stored %d applications, want %d each", len(ids), stored, total)
	}
	if databaseURL == "" {
		raw, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "jobcast.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		var ok string
		if err := raw.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("integrity_check: %q %v", ok, err)
		}
	}
	t.Logf("%d applies answered across %d SIGKILLs: 0 lost, 0 duplicated", total, killed)
}

func TestApplyCrashDurabilitySQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobcast as a process")
	}
	crashRun(t, "", 50, 20, 3)
}

func TestApplyCrashDurabilityPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobcast as a process")
	}
	crashRun(t, storetest.PostgresURL(t), 50, 20, 3)
}
