package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"jobcast/live"
	"jobcast/store"
	"jobcast/store/storetest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func mkUser(t *testing.T, db *store.DB, email string) live.User {
	t.Helper()
	u := live.User{ID: live.NewID[live.UserID](), Email: email, Name: "User " + email, CreatedAt: now()}
	if err := db.CreateUser(ctx(t), u, "hash"); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

func mkOrg(t *testing.T, db *store.DB, owner live.UserID, name string) live.Org {
	t.Helper()
	o := live.Org{ID: live.NewID[live.OrgID](), Name: name, CreatedAt: now()}
	if err := db.CreateOrg(ctx(t), o, owner); err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	return o
}

func mkJob(t *testing.T, db *store.DB, org live.OrgID, title, city string, tags ...string) live.Job {
	t.Helper()
	j := live.Job{ID: live.NewID[live.JobID](), OrgID: org, Title: title, City: city, SalaryMin: 5000, SalaryMax: 8000,
		Openings: 2, Tags: tags, CreatedAt: now(), UpdatedAt: now()}
	j.Normalize()
	if err := j.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateJob(ctx(t), j); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	return j
}

func mkRoom(t *testing.T, db *store.DB, org live.OrgID, by live.UserID) live.Room {
	t.Helper()
	r := live.Room{ID: live.NewID[live.RoomID](), OrgID: org, Title: "Fair", Status: live.RoomScheduled,
		StartsAt: now().Add(time.Hour), Settings: live.DefaultSettings(), CreatedAt: now()}
	if err := db.CreateRoom(ctx(t), r, by); err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	return r
}

func TestMigrationsReapply(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		db, err := store.Open(ctx(t), "", dir)
		if err != nil {
			t.Fatal(err)
		}
		v, err := db.SchemaVersion(ctx(t))
		if err != nil || v < 1 {
			t.Fatalf("version %d, %v", v, err)
		}
		db.Close()
	}
	if _, err := filepath.Glob(filepath.Join(dir, "jobcast.db")); err != nil {
		t.Fatal(err)
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(ctx(t), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	u := mkUser(t, db, "keep@example.com")
	db.Close()
	db, err = store.Open(ctx(t), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.UserByID(ctx(t), u.ID)
	if err != nil || got.Email != "keep@example.com" {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
}

func TestOpenRejectsOtherURLs(t *testing.T) {
	if _, err := store.Open(ctx(t), "mysql://x", t.TempDir()); err == nil {
		t.Fatal("want error for a non-postgres URL")
	}
}

func TestUsersAndSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := ctx(t)
		u := mkUser(t, db, "Ann@Example.com")
		dup := live.User{ID: live.NewID[live.UserID](), Email: " ann@example.COM ", Name: "x", CreatedAt: now()}
		if err := db.CreateUser(c, dup, "h"); !errors.Is(err, live.ErrConflict) {
			t.Fatalf("duplicate email: %v, want ErrConflict", err)
		}
		got, hash, err := db.UserByEmail(c, "ANN@example.com")
		if err != nil || got.ID != u.ID || hash != "hash" || got.Email != "ann@example.com" {
			t.Fatalf("UserByEmail: %+v %q %v", got, hash, err)
		}
		if _, _, err := db.UserByEmail(c, "nobody@example.com"); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("unknown email: %v", err)
		}
		if _, err := db.UserByID(c, live.NewID[live.UserID]()); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}

		t0 := now()
		s := store.Session{TokenHash: "h1", UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.CreateSession(c, s); err != nil {
			t.Fatal(err)
		}
		if got, err := db.SessionUser(c, "h1", t0); err != nil || got.ID != u.ID {
			t.Fatalf("SessionUser: %+v %v", got, err)
		}
		if _, err := db.SessionUser(c, "h1", t0.Add(2*time.Hour)); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
		if uid, err := db.RevokeSession(c, "h1", t0); err != nil || uid != u.ID {
			t.Fatalf("RevokeSession: %v %v", uid, err)
		}
		if _, err := db.SessionUser(c, "h1", t0); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("revoked session: %v", err)
		}
		if _, err := db.RevokeSession(c, "h1", t0); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("second revoke: %v", err)
		}
		for _, h := range []string{"a", "b"} {
			if err := db.CreateSession(c, store.Session{TokenHash: h, UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := db.RevokeUserSessions(c, u.ID, t0); err != nil || n != 2 {
			t.Fatalf("RevokeUserSessions: %d %v", n, err)
		}
		if n, err := db.DeleteStaleSessions(c, t0.Add(time.Second)); err != nil || n != 3 {
			t.Fatalf("DeleteStaleSessions: %d %v", n, err)
		}
	})
}

func TestProfile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := ctx(t)
		u := mkUser(t, db, "p@example.com")
		p, err := db.Profile(c, u.ID)
		if err != nil || p.Complete() || len(p.Skills) != 0 || p.Skills == nil {
			t.Fatalf("empty profile: %+v %v", p, err)
		}
		in := live.Profile{FullName: "李华", Phone: "138 0000 0000", City: "Hangzhou", Skills: []string{"Go", "SQL"},
			Summary: "s", AccessibilityNeeds: "wheelchair"}
		if _, err := db.PutProfile(c, u.ID, in); err != nil {
			t.Fatal(err)
		}
		p, err = db.Profile(c, u.ID)
		if err != nil || p.FullName != "李华" || len(p.Skills) != 2 || !p.Complete() || p.UpdatedAt.IsZero() {
			t.Fatalf("profile: %+v %v", p, err)
		}
		if _, err := db.PutProfile(c, live.NewID[live.UserID](), in); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}

func TestOrgsAndMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := ctx(t)
		a, b := mkUser(t, db, "a@x.org"), mkUser(t, db, "b@x.org")
		o := mkOrg(t, db, a.ID, "Acme")
		if role, err := db.MemberRole(c, o.ID, a.ID); err != nil || role != live.OrgOwner {
			t.Fatalf("owner role: %v %v", role, err)
		}
		if _, err := db.MemberRole(c, o.ID, b.ID); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("non-member: %v", err)
		}
		if err := db.AddMember(c, o.ID, b.ID, live.OrgRecruiter); err != nil {
			t.Fatal(err)
		}
		if err := db.AddMember(c, o.ID, b.ID, live.OrgRecruiter); !errors.Is(err, live.ErrConflict) {
			t.Fatalf("duplicate member: %v", err)
		}
		if err := db.AddMember(c, live.NewID[live.OrgID](), b.ID, live.OrgRecruiter); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("unknown org: %v", err)
		}
		ms, err := db.Members(c, o.ID)
		if err != nil || len(ms) != 2 {
			t.Fatalf("members: %+v %v", ms, err)
		}
		orgs, err := db.OrgsOf(c, b.ID)
		if err != nil || len(orgs) != 1 || orgs[0].Org.Name != "Acme" || orgs[0].Role != live.OrgRecruiter {
			t.Fatalf("OrgsOf: %+v %v", orgs, err)
		}
		if got, err := db.Org(c, o.ID); err != nil || got.Name != "Acme" {
			t.Fatalf("Org: %+v %v", got, err)
		}
	})
}

func TestJobs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := ctx(t)
		u := mkUser(t, db, "j@x.org")
		o1, o2 := mkOrg(t, db, u.ID, "Acme"), mkOrg(t, db, u.ID, "Bolt")
		j1 := mkJob(t, db, o1.ID, "Welder", "Hangzhou", "accessible", "graduate")
		mkJob(t, db, o1.ID, "Driver 100%", "Ningbo", "no_experience")
		j3 := mkJob(t, db, o2.ID, "Go developer", "hangzhou", "remote", "accessible")
		got, err := db.Job(c, j1.ID)
		if err != nil || got.OrgName != "Acme" || len(got.Tags) != 2 || got.SalaryPeriod != live.PerMonth {
			t.Fatalf("Job: %+v %v", got, err)
		}
		cases := []struct {
			name string
			f    store.JobFilter
			want int
		}{
			{"all", store.JobFilter{}, 3},
			{"org", store.JobFilter{OrgID: o1.ID}, 2},
			{"tag", store.JobFilter{Tag: "accessible"}, 2},
			{"city case-insensitive", store.JobFilter{City: "HANGZHOU"}, 2},
			{"tag and city", store.JobFilter{Tag: "remote", City: "Hangzhou"}, 1},
			{"query title", store.JobFilter{Query: "developer"}, 1},
			{"query org name", store.JobFilter{Query: "bolt"}, 1},
			{"query percent is literal", store.JobFilter{Query: "100%"}, 1},
			{"query underscore is literal", store.JobFilter{Query: "_"}, 0},
			{"limit", store.JobFilter{Limit: 2}, 2},
			{"offset", store.JobFilter{Limit: 2, Offset: 2}, 1},
		}
		for _, tc := range cases {
			jobs, _, err := db.Jobs(c, tc.f)
			if err != nil || len(jobs) != tc.want {
				t.Errorf("%s: %d jobs (%v), want %d", tc.name, len(jobs), err, tc.want)
			}
		}
		if _, more, _ := db.Jobs(c, store.JobFilter{Limit: 2}); !more {
			t.Error("more = false with 3 jobs and limit 2")
		}
		upd, err := db.UpdateJob(c, j3.ID, func(j live.Job) (live.Job, error) {
			j.Status, j.Tags = live.JobClosed, []string{"graduate"}
			return j, nil
		})
		if err != nil || upd.Status != live.JobClosed || upd.OrgID != o2.ID {
			t.Fatalf("UpdateJob: %+v %v", upd, err)
		}
		if jobs, _, _ := db.Jobs(c, store.JobFilter{Status: live.JobOpen, Tag: "accessible"}); len(jobs) != 1 {
			t.Fatalf("open accessible after update: %d", len(jobs))
		}
		if jobs, _, _ := db.Jobs(c, store.JobFilter{Tag: "graduate"}); len(jobs) != 2 {
			t.Fatalf("graduate after update: %d", len(jobs))
		}
		boom := errors.New("boom")
		if _, err := db.UpdateJob(c, j3.ID, func(j live.Job) (live.Job, error) { return j, boom }); !errors.Is(err, boom) {
			t.Fatalf("aborted update: %v", err)
		}
		if _, err := db.UpdateJob(c, live.NewID[live.JobID](), func(j live.Job) (live.Job, error) { return j, nil }); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("unknown job update: %v", err)
		}
		if err := db.CreateJob(c, live.Job{ID: live.NewID[live.JobID](), OrgID: live.NewID[live.OrgID](), Title: "x",
			SalaryPeriod: live.PerDay, Status: live.JobOpen}); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("job of unknown org: %v", err)
		}
	})
}

func TestRooms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := ctx(t)
		host, mod, other := mkUser(t, db, "h@x.org"), mkUser(t, db, "m@x.org"), mkUser(t, db, "o@x.org")
		bureau := mkOrg(t, db, host.ID, "Bureau")
		acme := mkOrg(t, db, other.ID, "Acme")
		r := mkRoom(t, db, bureau.ID, host.ID)
		got, err := db.Room(c, r.ID)
		if err != nil || got.OrgName != "Bureau" || got.Status != live.RoomScheduled || !got.Settings.MaskPII || got.Settings.Chat != live.ChatOpen {
			t.Fatalf("Room: %+v %v", got, err)
		}
		if err := db.AddExhibitor(c, r.ID, acme.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.AddExhibitor(c, r.ID, acme.ID); !errors.Is(err, live.ErrConflict) {
			t.Fatalf("duplicate exhibitor: %v", err)
		}
		if ex, err := db.Exhibitors(c, r.ID); err != nil || len(ex) != 1 || ex[0].Name != "Acme" {
			t.Fatalf("Exhibitors: %+v %v", ex, err)
		}
		if err := db.AddStaff(c, r.ID, mod.ID, store.StaffModerator, host.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.AddStaff(c, r.ID, mod.ID, store.StaffAdvisor, host.ID); err != nil {
			t.Fatal(err)
		}
		if st, err := db.Staff(c, r.ID); err != nil || len(st) != 2 {
			t.Fatalf("Staff: %+v %v", st, err)
		}
		f, err := db.RoomAccessFacts(c, r.ID, bureau.ID, host.ID)
		if err != nil || !f.Host || f.Moderator || len(f.MemberOf) != 1 {
			t.Fatalf("host facts: %+v %v", f, err)
		}
		f, _ = db.RoomAccessFacts(c, r.ID, bureau.ID, mod.ID)
		if f.Host || !f.Moderator || !f.Advisor || len(f.MemberOf) != 0 || f.ProfileComplete {
			t.Fatalf("moderator facts: %+v", f)
		}
		f, _ = db.RoomAccessFacts(c, r.ID, bureau.ID, other.ID)
		if f.Host || len(f.Exhibitors) != 1 || f.Exhibitors[0] != acme.ID {
			t.Fatalf("exhibitor facts: %+v", f)
		}
		until := now().Add(time.Minute)
		if err := db.Mute(c, r.ID, other.ID, mod.ID, until, "spam"); err != nil {
			t.Fatal(err)
		}
		if err := db.Ban(c, r.ID, other.ID, mod.ID, "spam"); err != nil {
			t.Fatal(err)
		}
		if err := db.Ban(c, r.ID, other.ID, mod.ID, "again"); err != nil {
			t.Fatalf("repeat ban: %v", err)
		}
		f, _ = db.RoomAccessFacts(c, r.ID, bureau.ID, other.ID)
		if !f.Banned || !f.MutedUntil.Equal(until) {
			t.Fatalf("ban/mute facts: %+v", f)
		}
		if err := db.Unban(c, r.ID, other.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.Unmute(c, r.ID, other.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.Unban(c, r.ID, other.ID); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("second unban: %v", err)
		}
		if err := db.RemoveStaff(c, r.ID, mod.ID, store.StaffAdvisor); err != nil {
			t.Fatal(err)
		}
		if err := db.RemoveStaff(c, r.ID, mod.ID, store.StaffAdvisor); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("second remove: %v", err)
		}

		k, err := db.StreamKey(c, r.ID)
		if err != nil || k.Hash != "" || k.RotatedAt != nil {
			t.Fatalf("fresh stream key: %+v %v", k, err)
		}
		if err := db.SetStreamKey(c, r.ID, "abc", "…wxyz", now()); err != nil {
			t.Fatal(err)
		}
		if k, _ := db.StreamKey(c, r.ID); k.Hash != "abc" || k.Hint != "…wxyz" || k.RotatedAt == nil {
			t.Fatalf("stream key: %+v", k)
		}
		if err := db.SetStreamKey(c, live.NewID[live.RoomID](), "abc", "", now()); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("stream key of unknown room: %v", err)
		}

		if shelf, err := db.Shelf(c, r.ID); err != nil || len(shelf) != 0 {
			t.Fatalf("empty shelf: %v %v", shelf, err)
		}

		t1 := now()
		live1, changed, err := db.SetRoomStatus(c, r.ID, live.RoomLive, t1)
		if err != nil || !changed || live1.Status != live.RoomLive || live1.StartedAt == nil || !live1.StartedAt.Equal(t1) {
			t.Fatalf("go live: %+v %v %v", live1, changed, err)
		}
		again, changed, err := db.SetRoomStatus(c, r.ID, live.RoomLive, t1.Add(time.Minute))
		if err != nil || changed || !again.StartedAt.Equal(t1) {
			t.Fatalf("live again keeps started_at: %+v %v %v", again, changed, err)
		}
		ended, _, err := db.SetRoomStatus(c, r.ID, live.RoomEnded, t1)
		if err != nil || ended.EndedAt == nil {
			t.Fatalf("end: %+v %v", ended, err)
		}
		_, _, err = db.SetRoomStatus(c, r.ID, live.RoomLive, t1)
		if e, ok := live.AsError(err); !ok || e.Kind != live.KindInvalidState {
			t.Fatalf("ended → live: %v", err)
		}
		r2 := mkRoom(t, db, acme.ID, other.ID)
		for _, tc := range []struct {
			status live.RoomStatus
			want   []live.RoomID
		}{
			{live.RoomEnded, []live.RoomID{r.ID}},
			{live.RoomScheduled, []live.RoomID{r2.ID}},
			{"", []live.RoomID{r2.ID, r.ID}},
		} {
			rooms, _, err := db.Rooms(c, store.RoomFilter{Status: tc.status})
			if err != nil || len(rooms) != len(tc.want) {
				t.Fatalf("Rooms(%q): %d %v", tc.status, len(rooms), err)
			}
			for i := range rooms {
				if rooms[i].ID != tc.want[i] {
					t.Errorf("Rooms(%q)[%d] = %s, want %s", tc.status, i, rooms[i].ID, tc.want[i])
				}
			}
		}
	})
}

func TestAuditAppendOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := ctx(t)
		u := mkUser(t, db, "a@x.org")
		o := mkOrg(t, db, u.ID, "Acme")
		r := mkRoom(t, db, o.ID, u.ID)
		for i := 0; i < 3; i++ {
			if err := db.AppendAudit(c, store.AuditEntry{RoomID: r.ID, OrgID: o.ID, ActorID: u.ID, Action: fmt.Sprint("act", i), TargetID: "t"}); err != nil {
				t.Fatal(err)
			}
		}
		es, err := db.RoomAudit(c, r.ID, 0, 2)
		if err != nil || len(es) != 2 || es[0].Action != "act2" || es[0].ActorID != u.ID {
			t.Fatalf("RoomAudit: %+v %v", es, err)
		}
		older, _ := db.RoomAudit(c, r.ID, es[1].ID, 10)
		if len(older) != 1 || older[0].Action != "act0" {
			t.Fatalf("older page: %+v", older)
		}
		if err := db.TamperAuditForTest(c); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("updating audit_log: %v, want append-only refusal", err)
		}
	})
}

// TestConcurrentWritesSQLite: 200 concurrent writers never see "database
// is locked".
func TestConcurrentWritesSQLite(t *testing.T) {
	db := storetest.SQLite(t)
	c := ctx(t)
	owner := mkUser(t, db, "owner@x.org")
	org := mkOrg(t, db, owner.ID, "Acme")
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var err error
			switch i % 3 {
			case 0:
				u := live.User{ID: live.NewID[live.UserID](), Email: fmt.Sprintf("u%d@x.org", i), Name: "u", CreatedAt: now()}
				err = db.CreateUser(c, u, "h")
			case 1:
				j := live.Job{ID: live.NewID[live.JobID](), OrgID: org.ID, Title: "t", Tags: []string{"remote"}, CreatedAt: now(), UpdatedAt: now()}
				j.Normalize()
				err = db.CreateJob(c, j)
			default:
				err = db.AppendAudit(c, store.AuditEntry{OrgID: org.ID, ActorID: owner.ID, Action: "test"})
			}
			if err == nil {
				_, _, err = db.Jobs(c, store.JobFilter{OrgID: org.ID, Limit: 5})
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent write: %v", err)
		}
	}
	jobs, _, err := db.Jobs(c, store.JobFilter{OrgID: org.ID, Limit: 200})
	if err != nil || len(jobs) != 67 {
		t.Fatalf("jobs after concurrent writes: %d %v", len(jobs), err)
	}
}
