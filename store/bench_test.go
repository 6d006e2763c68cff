package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"jobcast/live"
	"jobcast/store"
	"jobcast/store/storetest"
)

func benchDBs(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, storetest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, storetest.Postgres(b)) })
}

func benchOrg(b *testing.B, db *store.DB) live.Org {
	ctx := context.Background()
	now := time.Now().UTC()
	u := live.User{ID: live.NewID[live.UserID](), Email: string(live.NewID[live.UserID]()) + "@x.org", Name: "b", CreatedAt: now}
	if err := db.CreateUser(ctx, u, "h"); err != nil {
		b.Fatal(err)
	}
	o := live.Org{ID: live.NewID[live.OrgID](), Name: "Bench", CreatedAt: now}
	if err := db.CreateOrg(ctx, o, u.ID); err != nil {
		b.Fatal(err)
	}
	return o
}

func newJob(org live.OrgID, i int) live.Job {
	now := time.Now().UTC()
	tags := []string{"remote"}
	if i%3 == 0 {
		tags = append(tags, "accessible")
	}
	j := live.Job{ID: live.NewID[live.JobID](), OrgID: org, Title: fmt.Sprintf("Job %d welder", i), City: []string{"Hangzhou", "Ningbo"}[i%2],
		Tags: tags, CreatedAt: now, UpdatedAt: now}
	j.Normalize()
	return j
}

// BenchmarkCreateJob: one durable write transaction (job + tags) per op,
// from parallel goroutines.
func BenchmarkCreateJob(b *testing.B) {
	benchDBs(b, func(b *testing.B, db *store.DB) {
		org := benchOrg(b, db)
		ctx := context.Background()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				if err := db.CreateJob(ctx, newJob(org.ID, i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkSearchJobs: the seekers' open-job search with a tag and a city
// over 2,000 jobs.
func BenchmarkSearchJobs(b *testing.B) {
	benchDBs(b, func(b *testing.B, db *store.DB) {
		org := benchOrg(b, db)
		ctx := context.Background()
		for i := 0; i < 2000; i++ {
			if err := db.CreateJob(ctx, newJob(org.ID, i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				jobs, _, err := db.Jobs(ctx, store.JobFilter{Status: live.JobOpen, Tag: "accessible", City: "hangzhou", Limit: 20})
				if err != nil || len(jobs) != 20 {
					b.Errorf("%d jobs, %v", len(jobs), err)
					return
				}
			}
		})
	})
}

// BenchmarkSessionUser: the per-request session lookup.
func BenchmarkSessionUser(b *testing.B) {
	benchDBs(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		u := live.User{ID: live.NewID[live.UserID](), Email: "s@x.org", Name: "s", CreatedAt: now}
		if err := db.CreateUser(ctx, u, "h"); err != nil {
			b.Fatal(err)
		}
		if err := db.CreateSession(ctx, store.Session{TokenHash: "hash", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := db.SessionUser(ctx, "hash", now); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
