package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
