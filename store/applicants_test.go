package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"jobcast/live"
	"jobcast/store"
	"jobcast/store/storetest"
)

// moreJobs adds n open jobs of the fixture's org and returns all its jobs.
func moreJobs(t *testing.T, db *store.DB, f applyFixture, n int) []live.Job {
	t.Helper()
	now := time.Now().UTC()
	jobs := []live.Job{f.job, f.job2}
	for i := range n {
		j := live.Job{ID: live.NewID[live.JobID](), OrgID: f.org, Title: fmt.Sprintf("Extra %d", i), SalaryPeriod: live.PerMonth,
			Status: live.JobOpen, Tags: []string{}, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// checkCounters fails unless every job's applicant counter (ApplicantCounts
// and the job card) equals the applications counted (ApplicationCounts),
// and returns the total.
func checkCounters(t *testing.T, db *store.DB, jobs []live.Job) int {
	t.Helper()
	ctx := context.Background()
	ids := make([]live.JobID, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	want, err := db.ApplicationCounts(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.ApplicantCounts(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, id := range ids {
		card, err := db.JobCard(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got[id] != want[id] || card.Applicants != want[id] {
			t.Errorf("job %s: counter %d, card %d, COUNT(*) %d", id, got[id], card.Applicants, want[id])
		}
		total += want[id]
	}
	return total
}

// Concurrent commit batches full of repeats — the same seeker and job
// twice in one batch, again in a later batch, with and without an
// Idempotency-Key — leave every job's counter equal to COUNT(*): only rows
// actually inserted count, and no increment is lost between batches. On
// PostgreSQL 3 shards for 8 writers, so batches also add to the same
// counter rows at the same time.
func TestApplicantCountersConcurrentBatchesWithRepeats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		db.SetApplicantShardsForTest(3)
		const seekers, writers, batches, size = 40, 8, 10, 24
		f := newApplyFixture(t, db, seekers)
		jobs := moreJobs(t, db, f, 4)
		ctx := context.Background()
		var mu sync.Mutex
		created := 0
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(w), 7))
				for range batches {
					in := make([]store.ApplyInput, size)
					for i := range in {
						s, j := f.seekers[rnd.IntN(seekers)], jobs[rnd.IntN(len(jobs))]
						key := ""
						if rnd.IntN(3) == 0 {
							key = fmt.Sprintf("k-%s-%s", s, j.ID) // the same request every time
						}
						in[i] = f.input(s, j, key, "h-"+string(j.ID))
					}
					res, err := db.CommitApplications(ctx, in)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					for _, r := range res {
						if r.Err != nil {
							errs <- r.Err
							mu.Unlock()
							return
						}
						if r.Created {
							created++
						}
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("commit: %v", err)
		}
		total := checkCounters(t, db, jobs)
		if total != created {
			t.Fatalf("%d applications stored, %d answered as created", total, created)
		}
		if total == writers*batches*size {
			t.Fatalf("no repeats happened (%d applications); the test lost its point", total)
		}
	})
}

// Batches that touch the same jobs, listed in opposite orders, all adding
// to one counter row per job (1 shard) at the same time: none may fail or
// deadlock (the counter rows are updated in job id order whatever the
// input order; a deadlock would show as a re-run batch), and the counters
// end exact.
func TestApplicantCountersOppositeOrders(t *testing.T) {
	db := storetest.Postgres(t)
	db.SetApplicantShardsForTest(1)
	const writers, rounds = 4, 25
	f := newApplyFixture(t, db, writers*rounds)
	jobs := moreJobs(t, db, f, 6)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			order := slices.Clone(jobs)
			if w%2 == 1 {
				slices.Reverse(order)
			}
			<-start
			for r := range rounds {
				seeker := f.seekers[w*rounds+r]
				in := make([]store.ApplyInput, len(order))
				for i, j := range order {
					in[i] = f.input(seeker, j, "", "h")
				}
				res, err := db.CommitApplications(ctx, in)
				if err != nil {
					errs <- err
					return
				}
				for _, x := range res {
					if !x.Created || x.Err != nil {
						errs <- fmt.Errorf("round %d: %+v", r, x)
						return
					}
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("commit: %v", err)
	}
	if n := db.ApplyRetriesForTest(); n != 0 {
		t.Errorf("%d batches were re-run after a deadlock; the counter rows must be locked in one order", n)
	}
	if total := checkCounters(t, db, jobs); total != writers*rounds*len(jobs) {
		t.Fatalf("%d applications stored, want %d", total, writers*rounds*len(jobs))
	}
}

// A database that has applications from before the counters gets them
// counted when the migration runs, and later commits add to that count.
func TestApplicantCountersBackfilled(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			url, dir := "", t.TempDir()
			if engine == "postgres" {
				url = storetest.PostgresURL(t)
			}
			db, err := store.Open(ctx, url, dir)
			if err != nil {
				t.Fatal(err)
			}
			f := newApplyFixture(t, db, 6)
			var in []store.ApplyInput
			for i, s := range f.seekers {
				in = append(in, f.input(s, f.job, "", "h"))
				if i%2 == 0 {
					in = append(in, f.input(s, f.job2, "", "h"))
				}
			}
			if _, err := db.CommitApplications(ctx, in); err != nil {
				t.Fatal(err)
			}
			// Back to the schema before the counters, applications kept.
			for _, st := range []string{"DROP TABLE job_applicants", "DELETE FROM schema_migrations WHERE version = 3002"} {
				if err := db.ExecForTest(ctx, st); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			db, err = store.Open(ctx, url, dir) // migrates again
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			jobs := []live.Job{f.job, f.job2}
			if total := checkCounters(t, db, jobs); total != 9 {
				t.Fatalf("backfilled %d applications, want 9", total)
			}
			if _, err := db.CommitApplications(ctx, []store.ApplyInput{f.input(f.seekers[1], f.job2, "", "h"), f.input(f.seekers[0], f.job2, "", "h")}); err != nil {
				t.Fatal(err)
			}
			if total := checkCounters(t, db, jobs); total != 10 {
				t.Fatalf("%d applications after one more and one repeat, want 10", total)
			}
		})
	}
}
