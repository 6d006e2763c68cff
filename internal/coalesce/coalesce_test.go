package coalesce

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Many concurrent callers each get their own answer, in fewer calls than
// callers, never more than lanes at once and never more than maxBatch keys.
func TestReadsBatchesConcurrentCallers(t *testing.T) {
	var calls, inFlight, maxInFlight atomic.Int64
	var tooBig atomic.Bool
	r := New(2, 16, time.Second, func(ctx context.Context, keys []int) ([]Result[int], error) {
		calls.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		if len(keys) > 16 {
			tooBig.Store(true)
		}
		time.Sleep(time.Millisecond) // let a queue form
		out := make([]Result[int], len(keys))
		for i, k := range keys {
			if k%7 == 0 {
				out[i] = Result[int]{Err: errors.New("seven")}
				continue
			}
			out[i] = Result[int]{Val: k * 10}
		}
		return out, nil
	})
	const n = 500
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := r.Do(context.Background(), i)
			if (i%7 == 0) != (err != nil) || (err == nil && v != i*10) {
				wrong.Add(1)
			}
		}()
	}
	wg.Wait()
	if wrong.Load() > 0 {
		t.Fatalf("%d callers got another caller's answer", wrong.Load())
	}
	if c := calls.Load(); c >= n {
		t.Fatalf("%d calls for %d callers: nothing was batched", c, n)
	}
	if maxInFlight.Load() > 2 || tooBig.Load() {
		t.Fatalf("lanes %d (max 2), oversized batch %v", maxInFlight.Load(), tooBig.Load())
	}
	if r.running != 0 || len(r.pending) != 0 {
		t.Fatalf("left running=%d pending=%d", r.running, len(r.pending))
	}
}

// A batch error reaches every caller in it; a lone caller is served at once.
func TestReadsErrorAndLoneCaller(t *testing.T) {
	boom := errors.New("boom")
	r := New(1, 8, time.Second, func(ctx context.Context, keys []string) ([]Result[string], error) {
		if keys[0] == "bad" {
			return nil, boom
		}
		return []Result[string]{{Val: keys[0] + "!"}}, nil
	})
	if v, err := r.Do(context.Background(), "a"); err != nil || v != "a!" {
		t.Fatalf("got %q %v", v, err)
	}
	if _, err := r.Do(context.Background(), "bad"); !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	short := New(1, 8, time.Second, func(ctx context.Context, keys []string) ([]Result[string], error) { return nil, nil })
	if _, err := short.Do(context.Background(), "x"); err == nil {
		t.Fatal("a batch with too few results must fail its callers")
	}
}

// The batch runs without the leader's cancellation: a caller that went
// away does not fail the others.
func TestReadsDetachedFromLeaderCancel(t *testing.T) {
	r := New(1, 8, time.Second, func(ctx context.Context, keys []int) ([]Result[int], error) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return make([]Result[int], len(keys)), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Do(ctx, 1); err != nil {
		t.Fatalf("canceled leader failed the batch: %v", err)
	}
}

// The lane is handed on until the queue is empty: with the only lane held
// while seven callers queue, all seven are served, in batches of two.
func TestReadsHandsTheLaneOn(t *testing.T) {
	for range 50 {
		release := make(chan struct{})
		first := true
		var mu sync.Mutex
		r := New(1, 2, time.Second, func(ctx context.Context, keys []int) ([]Result[int], error) {
			mu.Lock()
			f := first
			first = false
			mu.Unlock()
			if f {
				<-release // hold the only lane while a queue forms
			}
			out := make([]Result[int], len(keys))
			for i, k := range keys {
				out[i].Val = k
			}
			return out, nil
		})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = r.Do(context.Background(), 0) }()
		for {
			r.mu.Lock()
			busy := r.running == 1 && len(r.pending) == 0
			r.mu.Unlock()
			if busy {
				break
			}
			time.Sleep(time.Millisecond)
		}
		for i := 1; i <= 7; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if v, err := r.Do(context.Background(), i); err != nil || v != i {
					t.Errorf("key %d: %d %v", i, v, err)
				}
			}()
		}
		for {
			r.mu.Lock()
			n := len(r.pending)
			r.mu.Unlock()
			if n == 7 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		close(release)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("callers stuck: a lane was lost")
		}
	}
}
