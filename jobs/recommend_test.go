package jobs_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"jobcast/jobs"
	"jobcast/live"
	"jobcast/store"
)

// recStore is a fake RecommendStore.
type recStore struct {
	mu      sync.Mutex
	shelved []store.ShelvedJob
	applied map[live.JobID]bool
	visits  map[live.UserID]bool // user → came as seeker
	pushes  map[live.UserID][]int
	recent  []live.UserID
}

func newRecStore(shelved ...store.ShelvedJob) *recStore {
	return &recStore{shelved: shelved, applied: map[live.JobID]bool{}, visits: map[live.UserID]bool{}, pushes: map[live.UserID][]int{}}
}

func (s *recStore) Profile(context.Context, live.UserID) (live.Profile, error) {
	return live.Profile{City: "Wuhan", Skills: []string{"forklift"}}, nil
}
func (s *recStore) OpenShelvedJobs(_ context.Context, _ live.RoomID, limit int) ([]store.ShelvedJob, error) {
	return s.shelved, nil
}
func (s *recStore) AppliedJobs(context.Context, live.UserID) (map[live.JobID]bool, error) {
	return s.applied, nil
}
func (s *recStore) ApplicantCounts(_ context.Context, ids []live.JobID) (map[live.JobID]int, error) {
	out := map[live.JobID]int{}
	for _, id := range ids {
		out[id] = 7
	}
	return out, nil
}
func (s *recStore) RecordVisit(_ context.Context, _ live.RoomID, u live.UserID, seeker bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.visits[u] = seeker
	return nil
}
func (s *recStore) RecordRecommendations(_ context.Context, _ live.RoomID, u live.UserID, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushes[u] = append(s.pushes[u], n)
	return nil
}
func (s *recStore) RecentSeekers(context.Context, live.RoomID, time.Time, int) ([]live.UserID, error) {
	return s.recent, nil
}

// recRooms answers Access from a table of users' access.
type recRooms struct {
	acc map[live.UserID]live.RoomAccess
}

func (r recRooms) Access(_ context.Context, room live.RoomID, id live.Identity) (live.Room, live.RoomAccess, error) {
	a := r.acc[id.UserID]
	a.Identity = id
	return live.Room{ID: room, Status: live.RoomLive}, a, nil
}
func (recRooms) CheckStreamKey(context.Context, live.RoomID, string) (bool, error) { return false, nil }
func (recRooms) SetStatus(context.Context, live.RoomID, live.RoomStatus) (live.Room, error) {
	return live.Room{}, nil
}

// userNotifier keeps per-user events and signals each one.
type userNotifier struct {
	mu   sync.Mutex
	got  map[live.UserID][]live.Event
	sent chan live.UserID
}

func newUserNotifier() *userNotifier {
	return &userNotifier{got: map[live.UserID][]live.Event{}, sent: make(chan live.UserID, 64)}
}
func (n *userNotifier) ToRoom(context.Context, live.RoomID, live.Event) error { return nil }
func (n *userNotifier) ToOrg(context.Context, live.RoomID, live.OrgID, live.Event) error {
	return nil
}
func (n *userNotifier) Kick(context.Context, live.RoomID, live.UserID, live.Event) error { return nil }
func (n *userNotifier) ToUser(_ context.Context, _ live.RoomID, u live.UserID, ev live.Event) error {
	n.mu.Lock()
	n.got[u] = append(n.got[u], ev)
	n.mu.Unlock()
	n.sent <- u
	return nil
}
func (n *userNotifier) events(u live.UserID) []live.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]live.Event(nil), n.got[u]...)
}

func shelved(id string, room live.RoomID, title, city string) store.ShelvedJob {
	return store.ShelvedJob{RoomID: room, Job: live.Job{ID: live.JobID(id), OrgID: "org", Title: title, City: city,
		SalaryPeriod: live.PerMonth, Openings: 1, Tags: []string{}, Status: live.JobOpen}}
}

func TestRecommenderPush(t *testing.T) {
	const here, there live.RoomID = "room-here", "room-there"
	seeker, host, banned := live.UserID("seeker"), live.UserID("host"), live.UserID("banned")
	rooms := recRooms{acc: map[live.UserID]live.RoomAccess{host: {Host: true}, banned: {Banned: true}}}
	tests := []struct {
		name     string
		user     live.UserID
		jobs     []store.ShelvedJob
		applied  []live.JobID
		want     []string // job ids in order; nil = no push
		rooms    []live.RoomID
		complete bool
	}{
		{
			name: "shelf has one, other live rooms fill up to three",
			user: seeker,
			jobs: []store.ShelvedJob{shelved("a", here, "Cook", "Beijing"), shelved("b", there, "Forklift driver", "Wuhan"), shelved("c", there, "Cashier", "Shanghai")},
			want: []string{"b", "a", "c"}, rooms: []live.RoomID{there, here, there}, complete: true,
		},
		{
			name: "fewer than three anywhere: says so",
			user: seeker,
			jobs: []store.ShelvedJob{shelved("a", here, "Cook", "Wuhan"), shelved("b", there, "Porter", "Wuhan")},
			want: []string{"a", "b"}, rooms: []live.RoomID{here, there}, complete: false,
		},
		{
			name:    "jobs applied to are left out",
			user:    seeker,
			jobs:    []store.ShelvedJob{shelved("a", here, "Cook", "Wuhan"), shelved("b", here, "Porter", "Wuhan"), shelved("c", here, "Guard", "Wuhan"), shelved("d", here, "Clerk", "Wuhan")},
			applied: []live.JobID{"b"},
			want:    []string{"a", "c", "d"}, rooms: []live.RoomID{here, here, here}, complete: true,
		},
		{name: "nothing open anywhere", user: seeker, want: []string{}, rooms: []live.RoomID{}, complete: false},
		{name: "host gets no push", user: host, jobs: []store.ShelvedJob{shelved("a", here, "Cook", "Wuhan")}},
		{name: "banned seeker gets no push", user: banned, jobs: []store.ShelvedJob{shelved("a", here, "Cook", "Wuhan")}},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newRecStore(tc.jobs...)
			for _, j := range tc.applied {
				st.applied[j] = true
			}
			n := newUserNotifier()
			r := jobs.NewRecommender(st, rooms, n, log)
			if _, err := r.Push(context.Background(), here, live.Identity{UserID: tc.user}); err != nil {
				t.Fatal(err)
			}
			evs := n.events(tc.user)
			if _, ok := st.visits[tc.user]; !ok {
				t.Fatal("visit not recorded")
			}
			if tc.want == nil {
				if len(evs) != 0 || len(st.pushes[tc.user]) != 0 || st.visits[tc.user] {
					t.Fatalf("non-seeker pushed: %d events, pushes %v, seeker %v", len(evs), st.pushes[tc.user], st.visits[tc.user])
				}
				return
			}
			if len(evs) != 1 || evs[0].Type != live.EvRecommendations {
				t.Fatalf("events: %+v", evs)
			}
			var d jobs.RecommendationsData
			if err := json.Unmarshal(evs[0].Data, &d); err != nil {
				t.Fatal(err)
			}
			var ids []string
			var rs []live.RoomID
			for _, rc := range d.Jobs {
				ids = append(ids, string(rc.Card.JobID))
				rs = append(rs, rc.RoomID)
				if rc.Card.Applicants != 7 || len(rc.Reasons) == 0 {
					t.Fatalf("card %+v", rc)
				}
			}
			if ids == nil {
				ids, rs = []string{}, []live.RoomID{}
			}
			if !equal(ids, tc.want) || !equal(rs, tc.rooms) || d.Complete != tc.complete || d.Count != len(tc.want) || d.RoomID != here {
				t.Fatalf("got %v %v complete=%v count=%d, want %v %v complete=%v", ids, rs, d.Complete, d.Count, tc.want, tc.rooms, tc.complete)
			}
			if p := st.pushes[tc.user]; len(p) != 1 || p[0] != len(tc.want) || !st.visits[tc.user] {
				t.Fatalf("recorded pushes %v seeker=%v", p, st.visits[tc.user])
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The hooks queue work and return; the workers push on join and re-push
// to recent seekers on a shelf change; Close stops every goroutine.
func TestRecommenderHooks(t *testing.T) {
	defer goleak.VerifyNone(t)
	const room live.RoomID = "room"
	st := newRecStore(shelved("a", room, "Cook", "Wuhan"), shelved("b", room, "Porter", "Wuhan"), shelved("c", room, "Guard", "Wuhan"))
	st.recent = []live.UserID{"s1", "s2"}
	n := newUserNotifier()
	r := jobs.NewRecommender(st, recRooms{}, n, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Start()
	defer r.Close()
	wait := func(want ...live.UserID) {
		t.Helper()
		got := map[live.UserID]int{}
		for range want {
			select {
			case u := <-n.sent:
				got[u]++
			case <-time.After(5 * time.Second):
				t.Fatalf("pushes so far %v, want %v", got, want)
			}
		}
		for _, u := range want {
			if got[u] == 0 {
				t.Fatalf("pushes %v, want %v", got, want)
			}
		}
	}
	r.Joined(room, live.Identity{}) // a visitor: ignored
	r.Joined(room, live.Identity{UserID: "s1"})
	wait("s1")
	r.ShelfChanged(room)
	wait("s1", "s2")
	select {
	case u := <-n.sent:
		t.Fatalf("unexpected push to %s", u)
	case <-time.After(100 * time.Millisecond):
	}
	if len(n.events("")) != 0 {
		t.Fatal("visitor was pushed")
	}
}
