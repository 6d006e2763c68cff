package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"jobcast/httpx"
	"jobcast/jobs"
	"jobcast/live"
	"jobcast/rooms"
	"jobcast/store"
	"jobcast/store/storetest"
)

// recorder is a live.Publisher and live.Notifier that keeps what it got.
type recorder struct {
	mu     sync.Mutex
	seq    uint64
	events []recorded
	fail   bool
}

type recorded struct {
	room live.RoomID
	org  live.OrgID
	ev   live.Event
}

func (r *recorder) Publish(_ context.Context, room live.RoomID, ev live.Event) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return 0, fmt.Errorf("broker down")
	}
	r.seq++
	ev.Seq = r.seq
	r.events = append(r.events, recorded{room: room, ev: ev})
	return r.seq, nil
}
func (r *recorder) ToRoom(context.Context, live.RoomID, live.Event) error { return nil }
func (r *recorder) ToUser(context.Context, live.RoomID, live.UserID, live.Event) error {
	return nil
}
func (r *recorder) Kick(context.Context, live.RoomID, live.UserID, live.Event) error { return nil }
func (r *recorder) ToOrg(_ context.Context, room live.RoomID, org live.OrgID, ev live.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return fmt.Errorf("broker down")
	}
	r.events = append(r.events, recorded{room: room, org: org, ev: ev})
	return nil
}

func (r *recorder) setFail(v bool) { r.mu.Lock(); r.fail = v; r.mu.Unlock() }

func (r *recorder) of(t live.EventType) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, e := range r.events {
		if e.ev.Type == t {
			out = append(out, e)
		}
	}
	return out
}

// node is one jobcast "server instance" for the jobs endpoints: its own
// store handle, committer, relay and Gin engine over a shared database.
type node struct {
	db    *store.DB
	srv   *httptest.Server
	relay *jobs.Relay
	rec   *recorder
}

func newNode(t *testing.T, db *store.DB, rec *recorder) *node {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rs := rooms.New(db, rec, log)
	workers := 1
	if db.Dialect() == store.Postgres {
		workers = 4
	}
	commit := jobs.NewCommitter(db, workers, 256, log)
	relay := jobs.NewRelay(db, rec, rec, log)
	relay.Poll = 20 * time.Millisecond
	relay.Start()
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// Tests name the caller in a header; production resolves sessions.
	e.Use(func(c *gin.Context) {
		if u := c.GetHeader("X-Test-User"); u != "" {
			httpx.SetIdentity(c, live.Identity{UserID: live.UserID(u), Admin: c.GetHeader("X-Test-Admin") == "1"}, false)
		}
	})
	jobs.NewShelf(db, rs, rec, log).Register(e)
	jobs.NewApply(db, rs, commit, relay, 1000, log).Register(e)
	jobs.NewApplicants(db).Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); commit.Close(); relay.Close() })
	return &node{db: db, srv: srv, relay: relay, rec: rec}
}

type answer struct {
	status int
	body   []byte
	header http.Header
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decoding %s: %v", a.body, err)
	}
}

func (a answer) code() string {
	var e httpx.ErrorBody
	_ = json.Unmarshal(a.body, &e)
	return e.Error.Code
}

func call(t testing.TB, base, method, path string, user live.UserID, body any, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("X-Test-User", string(user))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, b, res.Header}
}

// fair is a room of host org A with exhibitor org B, a job of each on the
// shelf, and an outside org C.
type fair struct {
	room                   live.RoomID
	orgA, orgB, orgC       live.OrgID
	hostA, recB, recC      live.UserID
	jobA, jobB, jobC, jobX live.JobID // jobX: A's, not shelved
	seekers                []live.UserID
}

func newFair(t *testing.T, db *store.DB, seekers int) fair {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	user := func(name string, complete bool) live.UserID {
		u := live.User{ID: live.NewID[live.UserID](), Email: name + "-" + string(live.NewID[live.UserID]()) + "@example.test", Name: name, CreatedAt: now}
		if err := db.CreateUser(ctx, u, "x"); err != nil {
			t.Fatal(err)
		}
		if complete {
			if _, err := db.PutProfile(ctx, u.ID, live.Profile{FullName: name, Phone: "13800138000", City: "Wuhan"}); err != nil {
				t.Fatal(err)
			}
		}
		return u.ID
	}
	org := func(name string, owner live.UserID) live.OrgID {
		id := live.NewID[live.OrgID]()
		if err := db.CreateOrg(ctx, live.Org{ID: id, Name: name, CreatedAt: now}, owner); err != nil {
			t.Fatal(err)
		}
		return id
	}
	job := func(org live.OrgID, title string) live.JobID {
		j := live.Job{ID: live.NewID[live.JobID](), OrgID: org, Title: title, SalaryPeriod: live.PerMonth, Status: live.JobOpen,
			Tags: []string{live.TagAccessible}, Openings: 3, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		return j.ID
	}
	var f fair
	f.hostA, f.recB, f.recC = user("hostA", false), user("recB", false), user("recC", false)
	f.orgA, f.orgB, f.orgC = org("A", f.hostA), org("B", f.recB), org("C", f.recC)
	f.jobA, f.jobB, f.jobC, f.jobX = job(f.orgA, "Forklift driver"), job(f.orgB, "Cashier"), job(f.orgC, "Cook"), job(f.orgA, "Welder")
	f.room = live.NewID[live.RoomID]()
	if err := db.CreateRoom(ctx, live.Room{ID: f.room, OrgID: f.orgA, Title: "Fair", Status: live.RoomLive, StartsAt: now,
		Settings: live.DefaultSettings(), CreatedAt: now}, f.hostA); err != nil {
		t.Fatal(err)
	}
	if err := db.AddExhibitor(ctx, f.room, f.orgB); err != nil {
		t.Fatal(err)
	}
	for _, j := range []struct {
		job live.JobID
		org live.OrgID
	}{{f.jobA, f.orgA}, {f.jobB, f.orgB}} {
		if err := db.AddToShelf(ctx, f.room, j.job, j.org); err != nil {
			t.Fatal(err)
		}
	}
	for i := range seekers {
		f.seekers = append(f.seekers, user(fmt.Sprintf("seeker%d", i), true))
	}
	return f
}

func (f fair) applyPath(job live.JobID) string {
	return "/api/rooms/" + string(f.room) + "/jobs/" + string(job) + "/apply"
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func lastCount(rec *recorder, job live.JobID) int {
	n := 0
	for _, e := range rec.of(live.EvApplyCount) {
		var d live.ApplyCountData
		_ = json.Unmarshal(e.ev.Data, &d)
		if d.JobID == job && d.Total > n {
			n = d.Total
		}
	}
	return n
}

// 500 concurrent applies from 100 seekers, each tapping 5 times, spread
// over two server instances with their own store handles → exactly 100
// applications, one id per seeker, apply.count ends at 100.
func TestApplyConcurrentTwoNodes(t *testing.T) {
	storetest.EachPair(t, func(t *testing.T, db1, db2 *store.DB) {
		const seekers, taps = 100, 5
		f := newFair(t, db1, seekers)
		rec := &recorder{}
		nodes := []*node{newNode(t, db1, rec), newNode(t, db2, rec)}
		type got struct {
			status int
			id     live.ApplicationID
		}
		results := make([][]got, seekers)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for s := range seekers {
			for tap := range taps {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n := nodes[(s+tap)%2]
					a := call(t, n.srv.URL, "POST", f.applyPath(f.jobA), f.seekers[s], nil)
					var body struct {
						Application live.Application `json:"application"`
					}
					_ = json.Unmarshal(a.body, &body)
					mu.Lock()
					results[s] = append(results[s], got{a.status, body.Application.ID})
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		for s, rs := range results {
			created := 0
			for _, r := range rs {
				switch r.status {
				case http.StatusCreated:
					created++
				case http.StatusOK:
				default:
					t.Fatalf("seeker %d: status %d", s, r.status)
				}
				if r.id == "" || r.id != rs[0].id {
					t.Fatalf("seeker %d got ids %+v", s, rs)
				}
			}
			if created != 1 {
				t.Fatalf("seeker %d: %d answers were 201, want exactly 1", s, created)
			}
		}
		counts, err := db1.ApplicationCounts(context.Background(), []live.JobID{f.jobA})
		if err != nil || counts[f.jobA] != seekers {
			t.Fatalf("applications in the database = %v (%v), want %d", counts, err, seekers)
		}
		waitFor(t, 10*time.Second, "apply.count 100", func() bool { return lastCount(rec, f.jobA) == seekers })
		waitFor(t, 10*time.Second, "100 application events", func() bool { return len(rec.of(live.EvApplication)) >= seekers })
		for _, e := range rec.of(live.EvApplication) {
			if e.org != f.orgA || strings.Contains(string(e.ev.Data), "seeker") || strings.Contains(string(e.ev.Data), "13800138000") {
				t.Fatalf("application event to %s carries %s", e.org, e.ev.Data)
			}
		}
	})
}

func TestApplyRules(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFair(t, db, 2)
	rec := &recorder{}
	n := newNode(t, db, rec)
	ctx := context.Background()
	incomplete := live.User{ID: live.NewID[live.UserID](), Email: "inc@example.test", Name: "inc", CreatedAt: time.Now()}
	if err := db.CreateUser(ctx, incomplete, "x"); err != nil {
		t.Fatal(err)
	}
	s0 := f.seekers[0]
	first := call(t, n.srv.URL, "POST", f.applyPath(f.jobA), s0, map[string]string{"note": "I drove forklifts for 3 years"}, "Idempotency-Key", "k-1")
	if first.status != http.StatusCreated {
		t.Fatalf("first apply: %d %s", first.status, first.body)
	}
	var firstBody struct {
		Application live.Application `json:"application"`
	}
	first.decode(t, &firstBody)
	if firstBody.Application.Profile.FullName != "seeker0" || firstBody.Application.RoomID != f.room {
		t.Fatalf("snapshot or room missing: %+v", firstBody.Application)
	}

	tests := []struct {
		name   string
		user   live.UserID
		path   string
		body   any
		hdr    []string
		status int
		code   string
	}{
		{"anonymous", "", f.applyPath(f.jobA), nil, nil, 401, "unauthenticated"},
		{"bad room id", s0, "/api/rooms/nope/jobs/" + string(f.jobA) + "/apply", nil, nil, 400, "invalid_id"},
		{"unknown room", s0, "/api/rooms/" + string(live.NewID[live.RoomID]()) + "/jobs/" + string(f.jobA) + "/apply", nil, nil, 404, "not_found"},
		{"job not on shelf", s0, f.applyPath(f.jobX), nil, nil, 404, "not_found"},
		{"other org's job not on shelf", s0, f.applyPath(f.jobC), nil, nil, 404, "not_found"},
		{"profile incomplete", incomplete.ID, f.applyPath(f.jobA), nil, nil, 409, "profile_incomplete"},
		{"unknown field", f.seekers[1], f.applyPath(f.jobA), map[string]any{"note": "x", "salary": 1}, nil, 400, "unknown_field"},
		{"note too long", f.seekers[1], f.applyPath(f.jobA), map[string]any{"note": strings.Repeat("字", 501)}, nil, 400, "invalid_field"},
		{"same key, same request", s0, f.applyPath(f.jobA), map[string]string{"note": "I drove forklifts for 3 years"}, []string{"Idempotency-Key", "k-1"}, 200, ""},
		{"same key, different request", s0, f.applyPath(f.jobB), nil, []string{"Idempotency-Key", "k-1"}, 422, "idempotency_key_reused"},
		{"repeat without key", s0, f.applyPath(f.jobA), nil, nil, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, n.srv.URL, "POST", tc.path, tc.user, tc.body, tc.hdr...)
			if a.status != tc.status || (tc.code != "" && a.code() != tc.code) {
				t.Fatalf("got %d %s, want %d %s", a.status, a.body, tc.status, tc.code)
			}
			if tc.status == 200 {
				var b struct {
					Application live.Application `json:"application"`
				}
				a.decode(t, &b)
				if b.Application.ID != firstBody.Application.ID {
					t.Fatalf("repeat got another application %s", b.Application.ID)
				}
			}
			if tc.code == "profile_incomplete" && !strings.Contains(string(a.body), `"fields":["full_name","phone"]`) {
				t.Fatalf("missing fields not listed: %s", a.body)
			}
		})
	}
	// Refusals changed nothing: still one application.
	if c, _ := db.ApplicationCounts(ctx, []live.JobID{f.jobA, f.jobB, f.jobX}); c[f.jobA] != 1 || c[f.jobB] != 0 || c[f.jobX] != 0 {
		t.Fatalf("counts after refusals: %v", c)
	}
	// A closed job refuses new applicants but still answers a repeat.
	if _, err := db.UpdateJob(ctx, f.jobA, func(j live.Job) (live.Job, error) { j.Status = live.JobClosed; return j, nil }); err != nil {
		t.Fatal(err)
	}
	if a := call(t, n.srv.URL, "POST", f.applyPath(f.jobA), f.seekers[1], nil); a.status != 422 || a.code() != "job_closed" {
		t.Fatalf("closed job: %d %s", a.status, a.body)
	}
	if a := call(t, n.srv.URL, "POST", f.applyPath(f.jobA), s0, nil); a.status != 200 {
		t.Fatalf("repeat on a closed job: %d %s", a.status, a.body)
	}
}

func TestApplyRateLimited(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFair(t, db, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := &recorder{}
	rs := rooms.New(db, rec, log)
	commit := jobs.NewCommitter(db, 1, 16, log)
	relay := jobs.NewRelay(db, rec, rec, log)
	defer commit.Close()
	e := gin.New()
	e.Use(func(c *gin.Context) {
		httpx.SetIdentity(c, live.Identity{UserID: live.UserID(c.GetHeader("X-Test-User"))}, false)
	})
	jobs.NewApply(db, rs, commit, relay, 3, log).Register(e)
	srv := httptest.NewServer(e)
	defer srv.Close()
	for i := range 3 {
		if a := call(t, srv.URL, "POST", f.applyPath(f.jobA), f.seekers[0], nil); a.status >= 300 {
			t.Fatalf("apply %d: %d %s", i, a.status, a.body)
		}
	}
	a := call(t, srv.URL, "POST", f.applyPath(f.jobB), f.seekers[0], nil)
	if a.status != 429 || a.code() != "rate_limited" || a.header.Get("Retry-After") == "" {
		t.Fatalf("4th apply in a minute: %d %s %v", a.status, a.body, a.header)
	}
}

// The broker is never on the commit path: with it down, applies succeed;
// when it is back the feed receives every one of them.
func TestApplyWhileBrokerDown(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFair(t, db, 200)
	rec := &recorder{}
	rec.setFail(true)
	n := newNode(t, db, rec)
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for _, s := range f.seekers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a := call(t, n.srv.URL, "POST", f.applyPath(f.jobB), s, nil); a.status != 201 {
				errs <- fmt.Sprintf("%d %s", a.status, a.body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("apply with the broker down: %s", e)
	}
	if got := len(rec.of(live.EvApplication)); got != 0 {
		t.Fatalf("%d events delivered while the broker was down", got)
	}
	rec.setFail(false)
	waitFor(t, 15*time.Second, "all 200 application events", func() bool { return len(rec.of(live.EvApplication)) == 200 })
	waitFor(t, 5*time.Second, "apply.count 200", func() bool { return lastCount(rec, f.jobB) == 200 })
	for _, e := range rec.of(live.EvApplication) {
		if e.org != f.orgB || e.room != f.room {
			t.Fatalf("application event routed to org %s room %s", e.org, e.room)
		}
	}
}

// The relay deletes delivered outbox rows older than Keep, every
// PurgeEvery: the outbox holds about a day of applications, not all.
func TestRelayPurgesDeliveredRows(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFair(t, db, 3)
	rec := &recorder{}
	n := newNode(t, db, rec) // its relay keeps delivered rows a day
	for _, s := range f.seekers {
		if a := call(t, n.srv.URL, "POST", f.applyPath(f.jobA), s, nil); a.status >= 300 {
			t.Fatalf("apply: %d %s", a.status, a.body)
		}
	}
	waitFor(t, 10*time.Second, "3 applications in the feed", func() bool { return len(rec.of(live.EvApplication)) == 3 })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	purger := jobs.NewRelay(db, rec, rec, log)
	purger.Poll, purger.Keep, purger.PurgeEvery = 10*time.Millisecond, 0, time.Millisecond
	purger.Start()
	time.Sleep(200 * time.Millisecond)
	purger.Close()
	left, err := db.DeleteDeliveredOutbox(context.Background(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d delivered rows left in the outbox after the purge", left)
	}
}
