package jobs

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"jobcast/store"
)

// ApplyCommitter is the storage side of one-tap apply: a batch in, one
// result per input out, all in one transaction. *store.DB implements it.
type ApplyCommitter interface {
	CommitApplications(ctx context.Context, in []store.ApplyInput) ([]store.ApplyResult, error)
}

// ErrCommitterClosed is returned for applies submitted after Close.
var errCommitterClosed = errors.New("jobs: apply committer closed")

// Committer groups concurrent applies into batches so that a burst costs one
// transaction (one fsync) per batch instead of one per apply. Each caller
// blocks until its own application is committed — the answer is never sent
// before the commit. Safe for concurrent use.
//
// Batching needs no timer: a worker takes whatever is queued when it becomes
// free (up to MaxBatch), so a lone apply commits at once and a burst forms
// batches by itself while the previous commit runs.
type Committer struct {
	store    ApplyCommitter
	maxBatch int
	reqs     chan *commitReq
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
	log      *slog.Logger
}

type commitReq struct {
	ctx  context.Context
	in   store.ApplyInput
	done chan store.ApplyResult // buffered 1
}

// NewCommitter starts workers goroutines committing batches of at most
// maxBatch applies. Use 1 worker for SQLite (one writer anyway), a few for
// PostgreSQL. Close stops them after the queue is drained.
func NewCommitter(st ApplyCommitter, workers, maxBatch int, log *slog.Logger) *Committer {
	if workers < 1 {
		workers = 1
	}
	if maxBatch < 1 {
		maxBatch = 256
	}
	c := &Committer{store: st, maxBatch: maxBatch, reqs: make(chan *commitReq, 4*maxBatch),
		stop: make(chan struct{}), log: log}
	c.wg.Add(workers)
	for range workers {
		go c.work()
	}
	return c
}

// Commit commits one application (or finds the existing one) and returns
// the result. It blocks until committed, the context ends (the apply may
// still commit; a retry finds it), or the committer is closed.
func (c *Committer) Commit(ctx context.Context, in store.ApplyInput) (store.ApplyResult, error) {
	r := &commitReq{ctx: ctx, in: in, done: make(chan store.ApplyResult, 1)}
	select {
	case c.reqs <- r:
	case <-c.stop:
		return store.ApplyResult{}, errCommitterClosed
	case <-ctx.Done():
		return store.ApplyResult{}, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res, res.Err
	case <-ctx.Done():
		return store.ApplyResult{}, ctx.Err()
	}
}

// Close stops accepting applies, commits everything already queued and
// waits for the workers. Call it after the HTTP server stopped.
func (c *Committer) Close() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
}

func (c *Committer) work() {
	defer c.wg.Done()
	batch := make([]*commitReq, 0, c.maxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-c.reqs:
			batch = append(batch, r)
		case <-c.stop:
			// Drain what was queued before Close.
			for {
				select {
				case r := <-c.reqs:
					batch = append(batch, r)
					if len(batch) == c.maxBatch {
						c.commit(batch)
						batch = batch[:0]
					}
				default:
					if len(batch) > 0 {
						c.commit(batch)
					}
					return
				}
			}
		}
	fill:
		for len(batch) < c.maxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		c.commit(batch)
	}
}

// commit runs one batch. Requests whose caller gave up before the commit
// started are still committed (they were accepted; a retry will find them).
// If the batch transaction fails as a whole, each request is retried alone
// so one bad input cannot fail the others.
func (c *Committer) commit(batch []*commitReq) {
	in := make([]store.ApplyInput, len(batch))
	for i, r := range batch {
		in[i] = r.in
	}
	// A detached context: an answer-less client must not roll back a batch
	// that others wait on.
	ctx := context.WithoutCancel(batch[0].ctx)
	res, err := c.store.CommitApplications(ctx, in)
	if err == nil {
		for i, r := range batch {
			r.done <- res[i]
		}
		return
	}
	if len(batch) > 1 {
		c.log.Warn("apply batch failed, retrying one by one", "size", len(batch), "err", err)
	}
	for _, r := range batch {
		one, err := c.store.CommitApplications(ctx, []store.ApplyInput{r.in})
		if err != nil {
			r.done <- store.ApplyResult{Err: err}
			continue
		}
		r.done <- one[0]
	}
}
