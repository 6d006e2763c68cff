// Package coalesce turns many concurrent single-key reads into a few
// multi-key reads (one round trip for a whole batch), without background
// goroutines: the first caller to find a free slot leads a batch for
// everyone queued, then hands the lead to the next caller still waiting.
package coalesce

import (
	"context"
	"sync"
	"time"
)

// Result is one key's outcome in a batch.
type Result[V any] struct {
	Val V
	Err error
}

// Reads coalesces concurrent Do calls into calls of fn with up to MaxBatch
// keys; at most Lanes batches run at once. A lone caller runs at once in a
// batch of one, so an idle system pays no delay; under load the queue forms
// batches by itself while the previous ones run. Safe for concurrent use.
type Reads[K any, V any] struct {
	fn       func(ctx context.Context, keys []K) ([]Result[V], error)
	lanes    int
	maxBatch int
	timeout  time.Duration

	mu      sync.Mutex
	pending []*call[K, V]
	running int
}

type call[K any, V any] struct {
	key     K
	ctx     context.Context
	res     Result[V]
	leading bool      // under mu: holds a lane it has not used yet
	taken   bool      // under mu: in a batch
	wake    chan bool // true: lead a batch; false: res is set. At most one of each, so buffered 2 never blocks.
}

// New builds a coalescer. fn must return one Result per key, in order (or
// an error for the whole batch); it runs with the leading caller's values
// but without its cancellation, bounded by timeout.
func New[K any, V any](lanes, maxBatch int, timeout time.Duration, fn func(ctx context.Context, keys []K) ([]Result[V], error)) *Reads[K, V] {
	return &Reads[K, V]{fn: fn, lanes: max(lanes, 1), maxBatch: max(maxBatch, 1), timeout: timeout}
}

// Do reads one key, in a batch with whatever else is queued. It blocks
// until its batch ran (bounded by the timeout given to New), even if ctx
// ends meanwhile: the batch may be led by this caller.
func (r *Reads[K, V]) Do(ctx context.Context, key K) (V, error) {
	c := &call[K, V]{key: key, ctx: ctx, wake: make(chan bool, 2)}
	r.mu.Lock()
	r.pending = append(r.pending, c)
	lead := r.running < r.lanes
	if lead {
		r.running++
		c.leading = true
	}
	r.mu.Unlock()
	for {
		if lead {
			r.runBatch(c)
		}
		if lead = <-c.wake; !lead {
			return c.res.Val, c.res.Err
		}
	}
}

// runBatch runs the batch at the front of the queue for self, the caller
// holding the lane, then hands the lane to the oldest waiting caller
// without one (self again if it is still waiting), or frees it.
func (r *Reads[K, V]) runBatch(self *call[K, V]) {
	r.mu.Lock()
	n := min(len(r.pending), r.maxBatch)
	batch := make([]*call[K, V], n)
	copy(batch, r.pending)
	for _, c := range batch {
		c.taken = true
	}
	r.pending = append(r.pending[:0], r.pending[n:]...)
	r.mu.Unlock()
	if n > 0 {
		keys := make([]K, n)
		for i, c := range batch {
			keys[i] = c.key
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), r.timeout)
		res, err := r.fn(ctx, keys)
		cancel()
		for i, c := range batch {
			switch {
			case err != nil:
				c.res = Result[V]{Err: err}
			case i < len(res):
				c.res = res[i]
			default:
				c.res = Result[V]{Err: errShort}
			}
			c.wake <- false
		}
	}
	// The lane passes to the oldest waiter that has none, or is freed.
	r.mu.Lock()
	defer r.mu.Unlock()
	if !self.taken {
		self.leading = false // its lane is used; it needs another one
	}
	for _, p := range r.pending {
		if !p.leading {
			p.leading = true
			p.wake <- true
			return
		}
	}
	r.running--
}

type shortError struct{}

func (shortError) Error() string { return "coalesce: batch returned fewer results than keys" }

var errShort error = shortError{}
