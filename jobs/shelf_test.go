package jobs_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"jobcast/live"
	"jobcast/store/storetest"
)

func TestShelfAndPin(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFair(t, db, 1)
	rec := &recorder{}
	n := newNode(t, db, rec)
	ctx := context.Background()
	mod := live.User{ID: live.NewID[live.UserID](), Email: "mod@example.test", Name: "mod", CreatedAt: time.Now()}
	if err := db.CreateUser(ctx, mod, "x"); err != nil {
		t.Fatal(err)
	}
	if err := db.AddStaff(ctx, f.room, mod.ID, "moderator", f.hostA); err != nil {
		t.Fatal(err)
	}
	// A second job of exhibitor B, not yet shelved.
	jobB2 := live.Job{ID: live.NewID[live.JobID](), OrgID: f.orgB, Title: "Stocker", SalaryPeriod: live.PerMonth, Status: live.JobOpen,
		Tags: []string{"graduate"}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := db.CreateJob(ctx, jobB2); err != nil {
		t.Fatal(err)
	}
	room := "/api/rooms/" + string(f.room)
	ref := func(j live.JobID) map[string]string { return map[string]string{"job_id": string(j)} }
	seeker := f.seekers[0]

	tests := []struct {
		name   string
		user   live.UserID
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"anonymous shelves", "", "POST", room + "/shelf", ref(f.jobX), 401, "unauthenticated"},
		{"seeker shelves", seeker, "POST", room + "/shelf", ref(f.jobX), 403, "forbidden"},
		{"outside org shelves its job", f.recC, "POST", room + "/shelf", ref(f.jobC), 403, "forbidden"},
		{"exhibitor shelves host's job", f.recB, "POST", room + "/shelf", ref(f.jobX), 403, "forbidden"},
		{"host shelves outsider's job", f.hostA, "POST", room + "/shelf", ref(f.jobC), 403, "forbidden"},
		{"malformed body", f.hostA, "POST", room + "/shelf", map[string]any{"job_id": 5}, 400, "wrong_type"},
		{"bad job id", f.hostA, "POST", room + "/shelf", ref("x"), 400, "invalid_id"},
		{"unknown job", f.hostA, "POST", room + "/shelf", ref(live.NewID[live.JobID]()), 404, "not_found"},
		{"exhibitor shelves own job", f.recB, "POST", room + "/shelf", ref(jobB2.ID), 201, ""},
		{"twice", f.recB, "POST", room + "/shelf", ref(jobB2.ID), 409, "already_on_shelf"},
		{"host shelves own job", f.hostA, "POST", room + "/shelf", ref(f.jobX), 201, ""},
		{"pin unshelved job", f.hostA, "POST", room + "/pin", ref(f.jobC), 404, "not_found"},
		{"exhibitor pins host's job", f.recB, "POST", room + "/pin", ref(f.jobA), 403, "forbidden"},
		{"seeker pins", seeker, "POST", room + "/pin", ref(f.jobA), 403, "forbidden"},
		{"exhibitor pins own job", f.recB, "POST", room + "/pin", ref(f.jobB), 200, ""},
		{"moderator pins", mod.ID, "POST", room + "/pin", ref(f.jobA), 200, ""},
		{"exhibitor unpins host's pin", f.recB, "DELETE", room + "/pin", nil, 403, "forbidden"},
		{"exhibitor removes host's job", f.recB, "DELETE", room + "/shelf/" + string(f.jobA), nil, 403, "forbidden"},
		{"host removes pinned job", f.hostA, "DELETE", room + "/shelf/" + string(f.jobA), nil, 200, ""},
		{"remove again", f.hostA, "DELETE", room + "/shelf/" + string(f.jobA), nil, 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.of(live.EvShelf)) + len(rec.of(live.EvPin)) + len(rec.of(live.EvUnpin))
			a := call(t, n.srv.URL, tc.method, tc.path, tc.user, tc.body)
			if a.status != tc.status || (tc.code != "" && a.code() != tc.code) {
				t.Fatalf("got %d %s, want %d %s", a.status, a.body, tc.status, tc.code)
			}
			after := len(rec.of(live.EvShelf)) + len(rec.of(live.EvPin)) + len(rec.of(live.EvUnpin))
			if tc.status >= 300 && after != before {
				t.Fatalf("a refused request published an event")
			}
			if tc.status < 300 && after == before {
				t.Fatalf("a change published no event")
			}
		})
	}
	// Removing the pinned job unpinned it and said so.
	unpins := rec.of(live.EvUnpin)
	if len(unpins) != 1 {
		t.Fatalf("unpin events: %d", len(unpins))
	}
	pins := rec.of(live.EvPin)
	var pin live.PinData
	_ = json.Unmarshal(pins[0].ev.Data, &pin)
	if pin.Card.JobID != f.jobB || pin.Card.OrgName != "B" || !pin.Card.Accessible || pin.By != f.orgB {
		t.Fatalf("pin card: %+v", pin)
	}
	r, _ := db.Room(ctx, f.room)
	if r.PinnedJobID != "" {
		t.Fatalf("pinned job survived its removal from the shelf: %s", r.PinnedJobID)
	}
	// The shelf is public, filterable by tag, in shelf order.
	var shelf struct {
		Jobs []live.JobCard `json:"jobs"`
	}
	call(t, n.srv.URL, "GET", room+"/shelf", "", nil).decode(t, &shelf)
	if len(shelf.Jobs) != 3 || shelf.Jobs[0].JobID != f.jobB || shelf.Jobs[1].JobID != jobB2.ID || shelf.Jobs[2].JobID != f.jobX {
		t.Fatalf("shelf: %+v", shelf.Jobs)
	}
	call(t, n.srv.URL, "GET", room+"/shelf?tag=graduate", "", nil).decode(t, &shelf)
	if len(shelf.Jobs) != 1 || shelf.Jobs[0].JobID != jobB2.ID {
		t.Fatalf("shelf?tag=graduate: %+v", shelf.Jobs)
	}
}
