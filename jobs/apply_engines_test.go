package jobs_test

import (
	"context"
	"net/http"
	"testing"

	"jobcast/live"
	"jobcast/store"
	"jobcast/store/storetest"
)

// The apply refusals on both engines (on PostgreSQL the ban, shelf and
// profile come from a coalesced batch read): unknown room 404, not on the
// shelf 404, banned 403 (not for an admin), profile incomplete 409, key
// reused 422, closed job 422 but a repeat still 200 — and refusals store
// nothing.
func TestApplyRefusalsBothEngines(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFair(t, db, 4)
		n := newNode(t, db, &recorder{})
		incomplete := live.User{ID: live.NewID[live.UserID](), Email: "inc-" + string(live.NewID[live.UserID]()) + "@example.test", Name: "inc"}
		if err := db.CreateUser(ctx, incomplete, "x"); err != nil {
			t.Fatal(err)
		}
		if err := db.Ban(ctx, f.room, f.seekers[2], f.hostA, "spam"); err != nil {
			t.Fatal(err)
		}
		s0 := f.seekers[0]
		if a := call(t, n.srv.URL, "POST", f.applyPath(f.jobA), s0, nil, "Idempotency-Key", "k-1"); a.status != http.StatusCreated {
			t.Fatalf("first apply: %d %s", a.status, a.body)
		}
		tests := []struct {
			name   string
			user   live.UserID
			path   string
			hdr    []string
			status int
			code   string
		}{
			{"unknown room", s0, "/api/rooms/" + string(live.NewID[live.RoomID]()) + "/jobs/" + string(f.jobA) + "/apply", nil, 404, "not_found"},
			{"job not on shelf", f.seekers[1], f.applyPath(f.jobX), nil, 404, "not_found"},
			{"banned", f.seekers[2], f.applyPath(f.jobA), nil, 403, "banned"},
			{"profile incomplete", incomplete.ID, f.applyPath(f.jobA), nil, 409, "profile_incomplete"},
			{"same key, different request", s0, f.applyPath(f.jobB), []string{"Idempotency-Key", "k-1"}, 422, "idempotency_key_reused"},
			{"repeat", s0, f.applyPath(f.jobA), nil, 200, ""},
			{"banned admin", f.seekers[2], f.applyPath(f.jobA), []string{"X-Test-Admin", "1"}, 201, ""},
		}
		for _, tc := range tests {
			a := call(t, n.srv.URL, "POST", tc.path, tc.user, nil, tc.hdr...)
			if a.status != tc.status || (tc.code != "" && a.code() != tc.code) {
				t.Fatalf("%s: got %d %s, want %d %s", tc.name, a.status, a.body, tc.status, tc.code)
			}
		}
		if _, err := db.UpdateJob(ctx, f.jobA, func(j live.Job) (live.Job, error) { j.Status = live.JobClosed; return j, nil }); err != nil {
			t.Fatal(err)
		}
		if a := call(t, n.srv.URL, "POST", f.applyPath(f.jobA), f.seekers[1], nil); a.status != 422 || a.code() != "job_closed" {
			t.Fatalf("closed job: %d %s", a.status, a.body)
		}
		if a := call(t, n.srv.URL, "POST", f.applyPath(f.jobA), s0, nil); a.status != 200 {
			t.Fatalf("repeat on a closed job: %d %s", a.status, a.body)
		}
		c, err := db.ApplicationCounts(ctx, []live.JobID{f.jobA, f.jobB, f.jobX})
		if err != nil || c[f.jobA] != 2 || c[f.jobB] != 0 || c[f.jobX] != 0 {
			t.Fatalf("counts after refusals: %v %v (want jobA 2: the seeker and the admin)", c, err)
		}
	})
}
