package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"jobcast/live"
	"jobcast/store"
	"jobcast/store/storetest"
)

type applyFixture struct {
	org     live.OrgID
	job     live.Job
	job2    live.Job
	room    live.RoomID
	seekers []live.UserID
}

func newApplyFixture(t *testing.T, db *store.DB, seekers int) applyFixture {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	owner := live.User{ID: live.NewID[live.UserID](), Email: "owner-" + string(live.NewID[live.UserID]()) + "@example.test", Name: "Owner", CreatedAt: now}
	if err := db.CreateUser(ctx, owner, "x"); err != nil {
		t.Fatal(err)
	}
	f := applyFixture{org: live.NewID[live.OrgID](), room: live.NewID[live.RoomID]()}
	if err := db.CreateOrg(ctx, live.Org{ID: f.org, Name: "Acme", CreatedAt: now}, owner.ID); err != nil {
		t.Fatal(err)
	}
	for i, j := range []*live.Job{&f.job, &f.job2} {
		*j = live.Job{ID: live.NewID[live.JobID](), OrgID: f.org, Title: fmt.Sprintf("Job %d", i), SalaryPeriod: live.PerMonth,
			Status: live.JobOpen, Tags: []string{}, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateJob(ctx, *j); err != nil {
			t.Fatal(err)
		}
	}
	room := live.Room{ID: f.room, OrgID: f.org, Title: "Fair", Status: live.RoomLive, StartsAt: now, Settings: live.DefaultSettings(), CreatedAt: now}
	if err := db.CreateRoom(ctx, room, owner.ID); err != nil {
		t.Fatal(err)
	}
	for i := range seekers {
		u := live.User{ID: live.NewID[live.UserID](), Email: fmt.Sprintf("s%d-%s@example.test", i, live.NewID[live.UserID]()), Name: "S", CreatedAt: now}
		if err := db.CreateUser(ctx, u, "x"); err != nil {
			t.Fatal(err)
		}
		f.seekers = append(f.seekers, u.ID)
	}
	return f
}

func (f applyFixture) input(seeker live.UserID, job live.Job, key, hash string) store.ApplyInput {
	return store.ApplyInput{ID: live.NewID[live.ApplicationID](), JobID: job.ID, OrgID: f.org, SeekerID: seeker, RoomID: f.room,
		Profile: live.Profile{FullName: "Li Lei", Phone: "13800000000"}, IdempotencyKey: key, RequestHash: hash,
		JobTitle: job.Title, At: time.Now()}
}

func TestCommitApplicationsConcurrentTaps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const seekers, taps = 100, 5
		f := newApplyFixture(t, db, seekers)
		ctx := context.Background()
		ids := make([][]live.ApplicationID, seekers)
		var created [seekers]int
		var mu sync.Mutex
		var wg sync.WaitGroup
		errs := make(chan error, seekers*taps)
		for s := range seekers {
			for range taps {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := db.CommitApplications(ctx, []store.ApplyInput{f.input(f.seekers[s], f.job, "", "h")})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					ids[s] = append(ids[s], res[0].App.ID)
					if res[0].Created {
						created[s]++
					}
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("commit: %v", err)
		}
		for s := range seekers {
			if created[s] != 1 {
				t.Fatalf("seeker %d: created %d times", s, created[s])
			}
			for _, id := range ids[s] {
				if id != ids[s][0] {
					t.Fatalf("seeker %d got different ids %v", s, ids[s])
				}
			}
		}
		counts, err := db.ApplicationCounts(ctx, []live.JobID{f.job.ID})
		if err != nil || counts[f.job.ID] != seekers {
			t.Fatalf("count = %v, %v; want %d", counts, err, seekers)
		}
		var delivered int
		for {
			n, err := db.DeliverOutbox(ctx, 37, func(items []store.OutboxItem) int { return len(items) })
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			delivered += n
		}
		if delivered != seekers {
			t.Fatalf("outbox delivered %d rows, want %d (one per new application)", delivered, seekers)
		}
	})
}

func TestCommitApplicationsBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newApplyFixture(t, db, 3)
		ctx := context.Background()
		a, b, c := f.seekers[0], f.seekers[1], f.seekers[2]
		res, err := db.CommitApplications(ctx, []store.ApplyInput{
			f.input(a, f.job, "", "h"),
			f.input(a, f.job, "", "h"), // double tap inside one batch
			f.input(b, f.job, "k1", "h1"),
			f.input(b, f.job2, "k2", "h2"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if !res[0].Created || res[1].Created || res[1].App.ID != res[0].App.ID {
			t.Fatalf("in-batch double tap: %+v / %+v", res[0], res[1])
		}
		if !res[2].Created || !res[3].Created {
			t.Fatalf("two jobs for b: %+v %+v", res[2], res[3])
		}
		if res[0].App.Profile.FullName != "Li Lei" || res[0].App.RoomID != f.room || res[0].App.Status != live.AppNew {
			t.Fatalf("snapshot/room/status not kept: %+v", res[0].App)
		}

		tests := []struct {
			name    string
			in      store.ApplyInput
			wantID  live.ApplicationID
			created bool
			code    string
		}{
			{"same key, same request", f.input(b, f.job, "k1", "h1"), res[2].App.ID, false, ""},
			{"same key, other request", f.input(b, f.job, "k1", "other"), "", false, "idempotency_key_reused"},
			{"key of job2 reused for job", f.input(b, f.job, "k2", "h1"), "", false, "idempotency_key_reused"},
			{"new key, existing application", f.input(a, f.job, "fresh", "h"), res[0].App.ID, false, ""},
			{"first apply of c", f.input(c, f.job2, "", "h"), "", true, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				out, err := db.CommitApplications(ctx, []store.ApplyInput{tc.in})
				if err != nil {
					t.Fatal(err)
				}
				r := out[0]
				if tc.code != "" {
					e, ok := live.AsError(r.Err)
					if !ok || e.Code != tc.code || e.Kind != live.KindInvalidState {
						t.Fatalf("err = %v, want %s", r.Err, tc.code)
					}
					return
				}
				if r.Err != nil || r.Created != tc.created || (tc.wantID != "" && r.App.ID != tc.wantID) {
					t.Fatalf("got %+v, want id %s created %v", r, tc.wantID, tc.created)
				}
			})
		}
		// Only new applications reach the outbox; a refused delivery keeps them.
		n, err := db.DeliverOutbox(ctx, 100, func(items []store.OutboxItem) int { return 0 })
		if err != nil || n != 0 {
			t.Fatalf("refused delivery: n=%d err=%v", n, err)
		}
		n, err = db.DeliverOutbox(ctx, 100, func(items []store.OutboxItem) int { return len(items) })
		if err != nil || n != 4 {
			t.Fatalf("delivered %d (%v), want 4 new applications", n, err)
		}
		if app, err := db.Application(ctx, f.org, res[0].App.ID); err != nil || app.JobTitle != f.job.Title {
			t.Fatalf("Application = %+v, %v", app, err)
		}
		if _, err := db.Application(ctx, live.NewID[live.OrgID](), res[0].App.ID); err == nil {
			t.Fatal("another org read the application")
		}
	})
}

// Relays on two handles (two nodes) running at once never hand out the
// same outbox row twice, and together deliver every row.
func TestDeliverOutboxClaimsAcrossHandles(t *testing.T) {
	run := func(t *testing.T, db1, db2 *store.DB) {
		f := newApplyFixture(t, db1, 60)
		ctx := context.Background()
		var in []store.ApplyInput
		for _, s := range f.seekers {
			in = append(in, f.input(s, f.job, "", "h"))
		}
		if _, err := db1.CommitApplications(ctx, in); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for _, db := range []*store.DB{db1, db2, db1, db2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := db.DeliverOutbox(ctx, 7, func(items []store.OutboxItem) int {
						mu.Lock()
						for _, it := range items {
							seen[it.ID]++
						}
						mu.Unlock()
						time.Sleep(5 * time.Millisecond) // a broker round trip
						return len(items)
					})
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != len(f.seekers) {
			t.Fatalf("delivered %d distinct rows, want %d", len(seen), len(f.seekers))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("row %d handed out %d times", id, n)
			}
		}
	}
	storetest.EachPair(t, run)
}
