package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"jobcast/auth"
	"jobcast/live"
	"jobcast/store"
	"jobcast/store/storetest"
)

// Apply benchmarks: the whole HTTP path of one-tap apply (session lookup,
// the apply facts read — ban, shelf entry, profile —, group commit, outbox)
// against one node. Figures and the commands are in docs/benchmarks.md:
//
//	go test -run '^$' -bench 'Apply' -benchtime 5000x ./cmd/jobcast
//
// To count PostgreSQL statements per apply, log the benchmark's own
// connections: JOBCAST_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/postgres?options=-c%20log_statement%3Dall'
// and count the lines naming its jobcast_test_… database in the server log.
func benchNode(b *testing.B, postgres bool) (string, func()) {
	b.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.AppliesPerMinute = 100000
	if postgres {
		cfg.DatabaseURL = storetest.PostgresURL(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := NewApp(ctx, cfg, Options{Logger: quietLog(), Hash: cheapHash, LoopbackMedia: true})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = a.Serve(ln) }()
	benchApp = a
	return "http://" + ln.Addr().String(), func() { _ = a.Close(context.Background()) }
}

var benchApp *App

func benchClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024}}
}

func applyOnce(c *http.Client, base string, f seededFair, s, j int) (time.Duration, error) {
	req, _ := http.NewRequest("POST", base+"/api/rooms/"+string(f.room)+"/jobs/"+string(f.jobs[j])+"/apply", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[s])
	start := time.Now()
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 201 {
		return 0, fmt.Errorf("status %d", res.StatusCode)
	}
	return time.Since(start), nil
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// BenchmarkApplySustained: b.N distinct applies from 64 concurrent clients.
func BenchmarkApplySustained(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		b.Run(db, func(b *testing.B) {
			base, stop := benchNode(b, db == "postgres")
			defer stop()
			const jobs = 10
			seekers := (b.N + jobs - 1) / jobs
			f := seedFair(b, benchApp.DB, seekers, jobs)
			c := benchClient()
			lat := make([]time.Duration, b.N)
			var next atomic.Int64
			var failed atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1) - 1)
						if i >= b.N {
							return
						}
						d, err := applyOnce(c, base, f, i/jobs, i%jobs)
						if err != nil {
							failed.Add(1)
						}
						lat[i] = d
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			if failed.Load() > 0 {
				b.Fatalf("%d applies failed", failed.Load())
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "applies/s")
			b.ReportMetric(float64(quantile(lat, 0.50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(quantile(lat, 0.99).Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkApplyBurst: 5,000 distinct seekers tap Apply at the same moment;
// reports how long until the last one was committed and answered.
func BenchmarkApplyBurst(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		b.Run(db, func(b *testing.B) {
			base, stop := benchNode(b, db == "postgres")
			defer stop()
			const burst = 5000
			for n := range b.N {
				b.StopTimer()
				f := seedFair(b, benchApp.DB, burst, 1)
				c := benchClient()
				lat := make([]time.Duration, burst)
				var failed atomic.Int64
				gate := make(chan struct{})
				var wg sync.WaitGroup
				for i := range burst {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-gate
						d, err := applyOnce(c, base, f, i, 0)
						if err != nil {
							failed.Add(1)
						}
						lat[i] = d
					}()
				}
				b.StartTimer()
				start := time.Now()
				close(gate)
				wg.Wait()
				el := time.Since(start)
				if failed.Load() > 0 {
					b.Fatalf("%d of the burst failed", failed.Load())
				}
				counts, err := benchApp.DB.ApplicationCounts(context.Background(), f.jobs)
				if err != nil || counts[f.jobs[0]] != burst {
					b.Fatalf("stored %v (%v), want %d", counts, err, burst)
				}
				if n == 0 {
					b.ReportMetric(el.Seconds(), "burst-s")
					b.ReportMetric(float64(quantile(lat, 0.99).Microseconds())/1000, "p99-ms")
				}
			}
		})
	}
}

// BenchmarkApplyRate is the apply target measured as stated: an open loop
// at a fixed offered rate. Applies are started on a steady schedule
// whatever the server does (a slow answer does not delay the next start,
// unlike the closed loop of ApplySustained, whose latency at maximum
// throughput is mostly queueing), each a distinct (seeker, job) pair: the
// jobs share the seekers, consecutive applies go to consecutive jobs, so
// every commit batch touches every job. Latency counts from the scheduled
// start, so a late start (the client falling behind) counts against it.
// After the run the stored applications per job are compared with the 201
// answers: 0 lost, 0 duplicated, or the benchmark fails.
//
//	flock /tmp/bench.lock go test -run '^$' -bench 'ApplyRate' -benchtime 1x ./cmd/jobcast
//
// Settings (environment): JOBCAST_BENCH_RATE applies/s offered (1000),
// JOBCAST_BENCH_SECONDS how long (10), JOBCAST_BENCH_JOBS jobs on the
// shelf (10), JOBCAST_BENCH_ENGINES (sqlite,postgres). Each b.N iteration
// is one whole run on a fresh node; use -benchtime 1x.
func BenchmarkApplyRate(b *testing.B) {
	rate := envInt(b, "JOBCAST_BENCH_RATE", 1000)
	secs := envInt(b, "JOBCAST_BENCH_SECONDS", 10)
	njobs := envInt(b, "JOBCAST_BENCH_JOBS", 10)
	engines := "sqlite,postgres"
	if v := os.Getenv("JOBCAST_BENCH_ENGINES"); v != "" {
		engines = v
	}
	for _, db := range strings.Split(engines, ",") {
		b.Run(db, func(b *testing.B) {
			for range b.N {
				applyRateRun(b, db == "postgres", rate, secs, njobs)
			}
		})
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func applyRateRun(b *testing.B, postgres bool, rate, secs, njobs int) {
	b.StopTimer()
	base, stop := benchNode(b, postgres)
	defer stop()
	total := rate * secs
	// One more job than measured: the first 32 seekers apply to it before
	// the run to warm the pools (HTTP and database connections, prepared
	// statements); it is not counted.
	f := seedFair(b, benchApp.DB, 0, njobs+1)
	addSeekers(b, benchApp.DB, &f, max(32, (total+njobs-1)/njobs))
	c := benchClient()
	var wwg sync.WaitGroup
	for s := range 32 {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			if _, err := applyOnce(c, base, f, s, njobs); err != nil {
				b.Errorf("warm-up apply: %v", err)
			}
		}()
	}
	wwg.Wait()
	lat := make([]time.Duration, total)
	failed := make([]error, total)
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	var last atomic.Int64 // unix nanos of the last answer
	cpu0, cpuOK := hostCPU()
	self0 := selfCPU()
	b.StartTimer()
	start := time.Now()
	late := time.Duration(0)
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		} else {
			late = max(late, -d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := applyOnce(c, base, f, i/njobs, i%njobs)
			now := time.Now()
			lat[i], failed[i] = now.Sub(at), err
			for {
				l := last.Load()
				if now.UnixNano() <= l || last.CompareAndSwap(l, now.UnixNano()) {
					break
				}
			}
		}()
	}
	wg.Wait()
	el := time.Unix(0, last.Load()).Sub(start)
	b.StopTimer()
	if cpu1, ok := hostCPU(); ok && cpuOK && cpu1.total > cpu0.total {
		// The whole machine: PostgreSQL, the node and this client.
		b.ReportMetric(100*float64(cpu1.busy-cpu0.busy)/float64(cpu1.total-cpu0.total), "host-cpu-%")
	}
	// CPU per apply of this process (node and client).
	b.ReportMetric(float64((selfCPU()-self0).Microseconds())/1000/float64(total), "go-cpu-ms/apply")
	answered := map[int]int{} // 201s per job index
	nfailed := 0
	for i, err := range failed {
		if err != nil {
			if nfailed < 3 {
				b.Logf("apply %d: %v", i, err)
			}
			nfailed++
			continue
		}
		answered[i%njobs]++
	}
	counts, err := benchApp.DB.ApplicationCounts(context.Background(), f.jobs[:njobs])
	if err != nil {
		b.Fatal(err)
	}
	lost, dup := 0, 0
	for j, id := range f.jobs[:njobs] {
		if d := counts[id] - answered[j]; d > 0 {
			dup += d
		} else {
			lost -= d
		}
	}
	b.ReportMetric(float64(rate), "offered/s")
	b.ReportMetric(float64(total-nfailed)/el.Seconds(), "applies/s")
	b.ReportMetric(float64(quantile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(quantile(lat, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(quantile(lat, 1).Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(late.Microseconds())/1000, "late-ms")
	if nfailed > 0 || lost > 0 || dup > 0 {
		b.Fatalf("%d of %d applies failed; stored vs answered: %d lost, %d duplicated", nfailed, total, lost, dup)
	}
}

// addSeekers adds n seekers with a complete profile and a session to f,
// written by 8 goroutines (seedFair writes one at a time: minutes for the
// tens of thousands a long run needs on PostgreSQL).
func addSeekers(b *testing.B, db *store.DB, f *seededFair, n int) {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	f.seekers, f.tokens = make([]live.UserID, n), make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				u := live.User{ID: live.NewID[live.UserID](), Email: fmt.Sprintf("seeker%d-%s@example.test", i, live.NewID[live.UserID]()),
					Name: fmt.Sprintf("seeker%d", i), CreatedAt: now}
				var tb [24]byte
				_, _ = rand.Read(tb[:])
				tok := hex.EncodeToString(tb[:])
				err := db.CreateUser(ctx, u, "unusable")
				if err == nil {
					_, err = db.PutProfile(ctx, u.ID, live.Profile{FullName: fmt.Sprintf("Seeker %d", i), Phone: fmt.Sprintf("138%08d", i), City: "Wuhan"})
				}
				if err == nil {
					err = db.CreateSession(ctx, store.Session{TokenHash: auth.TokenHash(tok), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
				}
				if err != nil {
					errs <- err
					return
				}
				f.seekers[i], f.tokens[i] = u.ID, tok
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("seeding seekers: %v", err)
	}
}

type cpuTicks struct{ busy, total uint64 }

// hostCPU reads the machine's CPU time from /proc/stat (Linux); ok is
// false elsewhere.
func hostCPU() (cpuTicks, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTicks{}, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return cpuTicks{}, false
	}
	var t cpuTicks
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return cpuTicks{}, false
		}
		if i >= 8 { // guest time is already in user
			break
		}
		t.total += n
		if i != 3 && i != 4 { // idle, iowait
			t.busy += n
		}
	}
	return t, true
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
