package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"jobcast/live"
	"jobcast/store"
	"jobcast/store/storetest"
)

func eachEngine(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		db, err := store.Open(ctx(t), storetest.PostgresURL(t), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
}

func modRoom(t *testing.T, db *store.DB) (live.RoomID, live.UserID, live.UserID) {
	t.Helper()
	host := mkUser(t, db, "host@m.test")
	seeker := mkUser(t, db, "seeker@m.test")
	org := live.Org{ID: live.NewID[live.OrgID](), Name: "Bureau", CreatedAt: now()}
	if err := db.CreateOrg(ctx(t), org, host.ID); err != nil {
		t.Fatal(err)
	}
	r := live.Room{ID: live.NewID[live.RoomID](), OrgID: org.ID, Title: "Fair", Status: live.RoomLive, StartsAt: now(),
		Settings: live.DefaultSettings(), CreatedAt: now()}
	if err := db.CreateRoom(ctx(t), r, host.ID); err != nil {
		t.Fatal(err)
	}
	return r.ID, host.ID, seeker.ID
}

// Every moderation change commits together with its audit row: when the
// audit row cannot be written, the change is rolled back.
func TestModerationChangesRollBackWithoutAudit(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		room, host, seeker := modRoom(t, db)
		c := context.Background()
		// Prepare one of each so that the "lift" actions have something to lift.
		held := store.HeldMessage{ID: string(live.NewID[live.UserID]()), RoomID: room, UserID: seeker, Message: live.ChatData{Text: "押金"}}
		if err := db.HoldMessage(c, held); err != nil {
			t.Fatal(err)
		}
		other := mkUser(t, db, "other@m.test")
		if err := db.Ban(c, room, other.ID, host, "x"); err != nil {
			t.Fatal(err)
		}
		if err := db.Mute(c, room, other.ID, host, time.Now().Add(time.Hour), "x"); err != nil {
			t.Fatal(err)
		}
		before, err := db.RoomModerationCounts(c, room)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.BreakAuditForTest(c); err != nil {
			t.Fatal(err)
		}
		a := store.AuditEntry{RoomID: room, ActorID: host, Action: "test", Reason: "r"}
		set := live.DefaultSettings()
		set.SlowModeSeconds = 30
		for name, f := range map[string]func() error{
			"mute":     func() error { return db.MuteAudited(c, room, seeker, host, time.Now().Add(time.Hour), "r", a) },
			"unmute":   func() error { return db.UnmuteAudited(c, room, other.ID, time.Now(), a) },
			"ban":      func() error { _, err := db.BanAudited(c, room, seeker, host, "r", a); return err },
			"unban":    func() error { return db.UnbanAudited(c, room, other.ID, a) },
			"settings": func() error { return db.SetRoomSettingsAudited(c, room, set, a) },
			"decide": func() error {
				_, err := db.DecideHeld(c, room, held.ID, store.HeldApproved, host, a)
				return err
			},
		} {
			if err := f(); err == nil {
				t.Fatalf("%s succeeded without its audit row", name)
			}
			after, err := db.RoomModerationCounts(c, room)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("%s changed state without its audit row: %+v → %+v", name, before, after)
			}
		}
	})
}

func TestModerationStore(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		room, host, seeker := modRoom(t, db)
		c := context.Background()
		a := store.AuditEntry{RoomID: room, ActorID: host, Action: "user.banned", TargetID: string(seeker), Reason: "spam", Data: `{"role":"host"}`}
		created, err := db.BanAudited(c, room, seeker, host, "spam", a)
		if err != nil || !created {
			t.Fatalf("ban: %v %v", created, err)
		}
		if created, err = db.BanAudited(c, room, seeker, host, "spam again", a); err != nil || created {
			t.Fatalf("repeat ban: %v %v", created, err)
		}
		bans, err := db.RoomBans(c, room)
		if err != nil || len(bans) != 1 || bans[0].UserID != seeker || bans[0].Reason != "spam again" || bans[0].By != host {
			t.Fatalf("bans %+v %v", bans, err)
		}
		if err := db.UnbanAudited(c, room, seeker, a); err != nil {
			t.Fatal(err)
		}
		if err := db.UnbanAudited(c, room, seeker, a); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("second unban: %v", err)
		}
		// An expired mute is not listed and cannot be lifted.
		if err := db.MuteAudited(c, room, seeker, host, time.Now().Add(-time.Second), "old", a); err != nil {
			t.Fatal(err)
		}
		if ms, _ := db.RoomMutes(c, room, time.Now()); len(ms) != 0 {
			t.Fatalf("expired mute listed: %+v", ms)
		}
		if err := db.UnmuteAudited(c, room, seeker, time.Now(), a); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("lifting an expired mute: %v", err)
		}
		until := time.Now().Add(time.Minute).UTC().Truncate(time.Microsecond)
		if err := db.MuteAudited(c, room, seeker, host, until, "loud", a); err != nil {
			t.Fatal(err)
		}
		if ms, _ := db.RoomMutes(c, room, time.Now()); len(ms) != 1 || !ms[0].Until.Equal(until) || ms[0].Reason != "loud" {
			t.Fatalf("mutes %+v", ms)
		}
		// Held queue: idempotent hold, pending list, one decision only.
		h := store.HeldMessage{ID: string(live.NewID[live.UserID]()), RoomID: room, UserID: seeker,
			Message: live.ChatData{ID: "m", UserID: seeker, Text: "pay the 押金"}, Reason: "scam"}
		for range 2 {
			if err := db.HoldMessage(c, h); err != nil {
				t.Fatal(err)
			}
		}
		hs, err := db.HeldMessages(c, room, 10)
		if err != nil || len(hs) != 1 || hs[0].Message.Text != "pay the 押金" || hs[0].Status != store.HeldPending {
			t.Fatalf("held %+v %v", hs, err)
		}
		got, err := db.DecideHeld(c, room, h.ID, store.HeldRejected, host, a)
		if err != nil || got.Status != store.HeldRejected || got.DecidedBy != host || got.DecidedAt == nil {
			t.Fatalf("decide %+v %v", got, err)
		}
		if _, err := db.DecideHeld(c, room, h.ID, store.HeldApproved, host, a); err == nil {
			t.Fatal("decided twice")
		}
		if _, err := db.DecideHeld(c, room, "nope", store.HeldApproved, host, a); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("unknown held: %v", err)
		}
		if hs, _ := db.HeldMessages(c, room, 10); len(hs) != 0 {
			t.Fatalf("decided message still pending: %+v", hs)
		}
		// Settings round-trip.
		set := live.RoomSettings{SlowModeSeconds: 15, Chat: live.ChatOff, BlockedWords: []string{"a", "b"}, MaskPII: false, HoldScams: true}
		if err := db.SetRoomSettingsAudited(c, room, set, a); err != nil {
			t.Fatal(err)
		}
		r, err := db.Room(c, room)
		if err != nil || !reflect.DeepEqual(r.Settings, set) {
			t.Fatalf("settings %+v %v", r.Settings, err)
		}
		if err := db.SetRoomSettingsAudited(c, live.NewID[live.RoomID](), set, a); !errors.Is(err, live.ErrNotFound) {
			t.Fatalf("unknown room: %v", err)
		}
		n, err := db.RoomModerationCounts(c, room)
		if err != nil || n.Audit != 7 || n.Bans != 0 || n.Mutes != 1 || n.Held != 0 {
			t.Fatalf("counts %+v %v", n, err)
		}
	})
}

// Moderators deciding the same held message at once: exactly one wins.
func TestDecideHeldOnce(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		room, host, seeker := modRoom(t, db)
		c := context.Background()
		h := store.HeldMessage{ID: string(live.NewID[live.UserID]()), RoomID: room, UserID: seeker, Message: live.ChatData{Text: "押金"}}
		if err := db.HoldMessage(c, h); err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := db.DecideHeld(c, room, h.ID, store.HeldApproved, host, store.AuditEntry{RoomID: room, ActorID: host, Action: "held.approved"})
				errs <- err
			}()
		}
		wins := 0
		for range n {
			err := <-errs
			if err == nil {
				wins++
			} else if e, ok := live.AsError(err); !ok || e.Code != "already_decided" {
				t.Fatalf("loser: %v", err)
			}
		}
		cnt, _ := db.RoomModerationCounts(c, room)
		if wins != 1 || cnt.Audit != 1 {
			t.Fatalf("%d winners, %d audit rows", wins, cnt.Audit)
		}
	})
}
