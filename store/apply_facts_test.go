package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"jobcast/live"
	"jobcast/store"
	"jobcast/store/storetest"
)

// ApplyFacts and ApplyFactsBatch agree, key by key: unknown room, job not
// on the shelf, banned seeker, closed job, profile snapshot.
func TestApplyFactsBatchMatchesSingle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newApplyFixture(t, db, 3)
		if err := db.AddToShelf(ctx, f.room, f.job.ID, f.org); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PutProfile(ctx, f.seekers[0], live.Profile{FullName: "Li Lei", Phone: "13800000000", Skills: []string{"forklift"}}); err != nil {
			t.Fatal(err)
		}
		if err := db.Ban(ctx, f.room, f.seekers[1], f.seekers[0], "spam"); err != nil {
			t.Fatal(err)
		}
		keys := []store.ApplyFactsKey{
			{Room: f.room, Job: f.job.ID, User: f.seekers[0]},
			{Room: f.room, Job: f.job2.ID, User: f.seekers[0]}, // not on the shelf
			{Room: f.room, Job: f.job.ID, User: f.seekers[1]},  // banned
			{Room: live.NewID[live.RoomID](), Job: f.job.ID, User: f.seekers[2]},
			{Room: f.room, Job: f.job.ID, User: live.NewID[live.UserID]()}, // no profile
		}
		facts, errs, err := db.ApplyFactsBatch(ctx, keys)
		if err != nil || len(facts) != len(keys) || len(errs) != len(keys) {
			t.Fatalf("batch: %d facts, %d errs, %v", len(facts), len(errs), err)
		}
		for i, k := range keys {
			one, oneErr := db.ApplyFacts(ctx, k.Room, k.Job, k.User)
			if (oneErr == nil) != (errs[i] == nil) || (oneErr != nil && !errors.Is(errs[i], live.ErrNotFound)) {
				t.Fatalf("key %d: single err %v, batch err %v", i, oneErr, errs[i])
			}
			if oneErr != nil {
				continue
			}
			b := facts[i]
			if b.Banned != one.Banned || b.OnShelf != one.OnShelf || b.Job.ID != one.Job.ID || b.Job.Status != one.Job.Status || b.HasProfile != one.HasProfile ||
				b.Profile.FullName != one.Profile.FullName || b.Profile.Phone != one.Profile.Phone || len(b.Profile.Skills) != len(one.Profile.Skills) {
				t.Fatalf("key %d: single %+v, batch %+v", i, one, b)
			}
		}
		if !errors.Is(errs[3], live.ErrNotFound) {
			t.Fatalf("unknown room: %v", errs[3])
		}
		got := facts[0]
		if !got.OnShelf || got.Banned || got.Job.ID != f.job.ID || got.Job.OrgID != f.org || got.Job.Title != f.job.Title ||
			got.Job.Status != live.JobOpen || !got.HasProfile || got.Profile.Phone != "13800000000" || got.Profile.Skills[0] != "forklift" {
			t.Fatalf("facts of an open shelved job: %+v", got)
		}
		if facts[1].OnShelf || !facts[2].Banned || facts[4].HasProfile {
			t.Fatalf("shelf %v, ban %v, profile %v", facts[1].OnShelf, facts[2].Banned, facts[4].HasProfile)
		}
	})
}

// SessionUsers finds live sessions only: not revoked, not expired, known.
func TestSessionUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newApplyFixture(t, db, 2)
		now := time.Now().UTC()
		for i, s := range []store.Session{
			{TokenHash: "live", UserID: f.seekers[0], CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			{TokenHash: "expired", UserID: f.seekers[0], CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
			{TokenHash: "revoked", UserID: f.seekers[1], CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		} {
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatalf("session %d: %v", i, err)
			}
		}
		if _, err := db.RevokeSession(ctx, "revoked", now); err != nil {
			t.Fatal(err)
		}
		users, err := db.SessionUsers(ctx, []string{"live", "expired", "revoked", "unknown"}, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 1 || users["live"].ID != f.seekers[0] {
			t.Fatalf("got %+v, want only the live session", users)
		}
	})
}
