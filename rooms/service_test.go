package rooms_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"jobcast/live"
	"jobcast/rooms"
	"jobcast/store"
	"jobcast/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

// fakePublisher records published events (a test fake of live.Publisher).
type fakePublisher struct {
	mu   sync.Mutex
	evs  []live.Event
	fail error
}

func (f *fakePublisher) Publish(_ context.Context, _ live.RoomID, ev live.Event) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, f.fail
	}
	f.evs = append(f.evs, ev)
	return uint64(len(f.evs)), nil
}

func (f *fakePublisher) events() []live.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]live.Event(nil), f.evs...)
}

type viewers int

func (v viewers) Viewers(context.Context, live.RoomID) (int, error) { return int(v), nil }

type fixture struct {
	db                                 *store.DB
	host, mod, exhibitor, seeker, bann live.User
	bureau, acme                       live.Org
	room                               live.Room
	job                                live.Job
}

func setup(t *testing.T, db *store.DB) fixture {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	f := fixture{db: db}
	mk := func(email string) live.User {
		id := live.NewID[live.UserID]()
		u := live.User{ID: id, Email: string(id) + email, Name: email, CreatedAt: now}
		if err := db.CreateUser(ctx, u, "h"); err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.host, f.mod, f.exhibitor, f.seeker, f.bann = mk("h@x"), mk("m@x"), mk("e@x"), mk("s@x"), mk("b@x")
	f.bureau = live.Org{ID: live.NewID[live.OrgID](), Name: "Bureau", CreatedAt: now}
	f.acme = live.Org{ID: live.NewID[live.OrgID](), Name: "Acme", CreatedAt: now}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateOrg(ctx, f.bureau, f.host.ID))
	must(db.CreateOrg(ctx, f.acme, f.exhibitor.ID))
	f.room = live.Room{ID: live.NewID[live.RoomID](), OrgID: f.bureau.ID, Title: "Fair", Status: live.RoomScheduled,
		StartsAt: now, Settings: live.DefaultSettings(), CreatedAt: now}
	must(db.CreateRoom(ctx, f.room, f.host.ID))
	must(db.AddExhibitor(ctx, f.room.ID, f.acme.ID))
	must(db.AddStaff(ctx, f.room.ID, f.mod.ID, store.StaffModerator, f.host.ID))
	must(db.Ban(ctx, f.room.ID, f.bann.ID, f.mod.ID, "spam"))
	must(db.Mute(ctx, f.room.ID, f.seeker.ID, f.mod.ID, now.Add(time.Minute), "calm down"))
	_, err := db.PutProfile(ctx, f.seeker.ID, live.Profile{FullName: "S", Phone: "12345678"})
	must(err)
	f.job = live.Job{ID: live.NewID[live.JobID](), OrgID: f.acme.ID, Title: "Welder", Tags: []string{"accessible"}, CreatedAt: now, UpdatedAt: now}
	f.job.Normalize()
	must(db.CreateJob(ctx, f.job))
	return f
}

func TestAccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		svc := rooms.New(db, nil, nil)
		ctx := context.Background()
		id := func(u live.User) live.Identity { return live.Identity{UserID: u.ID, Name: u.Name} }
		cases := []struct {
			name string
			id   live.Identity
			role live.Role
			can  []live.Action
			cant []live.Action
		}{
			{"visitor", live.Identity{}, live.RoleVisitor, []live.Action{live.ActWatch}, []live.Action{live.ActChat, live.ActStreamKey}},
			{"host", id(f.host), live.RoleHost, []live.Action{live.ActStreamKey, live.ActManageStaff, live.ActEnd, live.ActPublish}, nil},
			{"moderator", id(f.mod), live.RoleModerator, []live.Action{live.ActModerate, live.ActEnd}, []live.Action{live.ActStreamKey, live.ActManageStaff}},
			{"exhibitor", id(f.exhibitor), live.RoleExhibitor, []live.Action{live.ActShelf, live.ActPin}, []live.Action{live.ActStreamKey, live.ActEnd, live.ActModerate}},
			{"seeker", id(f.seeker), live.RoleSeeker, []live.Action{live.ActChat, live.ActApply}, []live.Action{live.ActShelf, live.ActStreamKey}},
			{"banned", id(f.bann), live.RoleSeeker, nil, []live.Action{live.ActWatch, live.ActChat, live.ActApply}},
			{"admin", live.Identity{UserID: f.seeker.ID, Admin: true}, live.RoleAdmin, []live.Action{live.ActStreamKey, live.ActEnd}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r, acc, err := svc.Access(ctx, f.room.ID, tc.id)
				if err != nil || r.ID != f.room.ID {
					t.Fatalf("Access: %v", err)
				}
				if acc.Role() != tc.role {
					t.Errorf("role %s, want %s", acc.Role(), tc.role)
				}
				for _, a := range tc.can {
					if !acc.Can(a) {
						t.Errorf("cannot %s", a)
					}
				}
				for _, a := range tc.cant {
					if acc.Can(a) {
						t.Errorf("can %s", a)
					}
				}
			})
		}
		_, acc, _ := svc.Access(ctx, f.room.ID, id(f.seeker))
		if !acc.ProfileComplete || acc.MutedUntil.IsZero() || acc.CanChat(live.DefaultSettings(), time.Now()) == nil {
			t.Fatalf("seeker access: %+v", acc)
		}
		_, acc, _ = svc.Access(ctx, f.room.ID, id(f.exhibitor))
		if len(acc.Exhibitors) != 1 || acc.Exhibitors[0] != f.acme.ID || len(acc.MemberOf) != 1 ||
			!acc.CanTouchJob(f.acme.ID, f.bureau.ID, []live.OrgID{f.acme.ID}) || acc.CanTouchJob(f.bureau.ID, f.bureau.ID, []live.OrgID{f.acme.ID}) {
			t.Fatalf("exhibitor access: %+v", acc)
		}
		_, _, err := svc.Access(ctx, live.NewID[live.RoomID](), live.Identity{})
		if e, ok := live.AsError(err); !ok || e.Kind != live.KindNotFound {
			t.Fatalf("unknown room: %v", err)
		}
	})
}

func TestSetStatusPublishes(t *testing.T) {
	db := storetest.SQLite(t)
	f := setup(t, db)
	pub := &fakePublisher{}
	svc := rooms.New(db, nil, nil)
	ctx := context.Background()
	if _, err := svc.SetStatus(ctx, f.room.ID, live.RoomLive); err != nil {
		t.Fatal(err) // no publisher yet: allowed
	}
	svc.SetPublisher(pub)
	if _, err := svc.SetStatus(ctx, f.room.ID, live.RoomLive); err != nil {
		t.Fatal(err)
	}
	if n := len(pub.events()); n != 0 {
		t.Fatalf("live → live published %d events", n)
	}
	r, err := svc.SetStatus(ctx, f.room.ID, live.RoomEnded)
	if err != nil || r.Status != live.RoomEnded || r.EndedAt == nil {
		t.Fatalf("end: %+v %v", r, err)
	}
	evs := pub.events()
	if len(evs) != 1 || evs[0].Type != live.EvRoomStatus || string(evs[0].Data) != `{"status":"ended"}` {
		t.Fatalf("events: %+v", evs)
	}
	_, err = svc.SetStatus(ctx, f.room.ID, live.RoomLive)
	if e, ok := live.AsError(err); !ok || e.Kind != live.KindInvalidState {
		t.Fatalf("ended → live: %v", err)
	}
	if _, err := svc.SetStatus(ctx, f.room.ID, "paused"); err == nil {
		t.Fatal("invalid status accepted")
	}
	// a failing publisher does not fail the (committed) change
	f2 := setup(t, db)
	pub.fail = errors.New("broker down")
	if _, err := svc.SetStatus(ctx, f2.room.ID, live.RoomLive); err != nil {
		t.Fatalf("publisher failure leaked: %v", err)
	}
}

func TestStreamKey(t *testing.T) {
	db := storetest.SQLite(t)
	f := setup(t, db)
	svc := rooms.New(db, nil, nil)
	ctx := context.Background()
	if ok, err := svc.CheckStreamKey(ctx, f.room.ID, ""); ok || err != nil {
		t.Fatalf("no key yet: %v %v", ok, err)
	}
	key, info, err := svc.RotateStreamKey(ctx, f.room.ID)
	if err != nil || len(key) < 40 || info.Hash == key {
		t.Fatalf("rotate: %q %+v %v", key, info, err)
	}
	stored, _ := db.StreamKey(ctx, f.room.ID)
	if stored.Hash == key || stored.Hash == "" {
		t.Fatal("stream key stored in clear")
	}
	for _, tc := range []struct {
		key  string
		want bool
	}{{key, true}, {key + "x", false}, {"", false}, {key[:len(key)-1], false}} {
		if ok, err := svc.CheckStreamKey(ctx, f.room.ID, tc.key); ok != tc.want || err != nil {
			t.Errorf("CheckStreamKey(%q) = %v, %v", tc.key, ok, err)
		}
	}
	if _, err := svc.CheckStreamKey(ctx, live.NewID[live.RoomID](), key); err == nil {
		t.Fatal("unknown room accepted")
	}
}

func TestSnapshot(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		svc := rooms.New(db, nil, nil)
		svc.SetViewerCounter(viewers(7))
		snap, err := svc.Snapshot(context.Background(), f.room.ID)
		if err != nil || snap.Room.ID != f.room.ID || len(snap.Exhibitors) != 1 || snap.Exhibitors[0].Name != "Acme" ||
			snap.Shelf == nil || snap.Pinned != nil {
			t.Fatalf("snapshot: %+v %v", snap, err)
		}
		if _, err := svc.Snapshot(context.Background(), live.NewID[live.RoomID]()); err == nil {
			t.Fatal("unknown room snapshot")
		}
	})
}
