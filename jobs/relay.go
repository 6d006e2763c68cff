package jobs

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"jobcast/live"
	"jobcast/store"
)

// OutboxStore is what the relay needs from storage. *store.DB implements it.
type OutboxStore interface {
	DeliverOutbox(ctx context.Context, limit int, deliver func([]store.OutboxItem) int) (int, error)
	ApplicantCounts(ctx context.Context, jobs []live.JobID) (map[live.JobID]int, error)
	DeleteDeliveredOutbox(ctx context.Context, cutoff time.Time) (int64, error)
}

// Relay delivers what committed transactions left in the outbox — after a
// new application: the job's apply.count on the room stream and an
// `application` event to the owning org's connections. Delivery is
// at-least-once: while the broker (Redis) is down nothing is lost, the rows
// wait and are delivered when it is back. Safe for concurrent use.
type Relay struct {
	store  OutboxStore
	pub    live.Publisher
	notify live.Notifier
	log    *slog.Logger
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	// Poll is how often the relay looks for rows nobody kicked it for
	// (written by another node, or left by a failure).
	Poll time.Duration
	// Gap is the least time between two rounds: kicks that arrive meanwhile
	// are served together, so a burst of applies costs a few relay
	// transactions, not one each (on SQLite they share the one writer).
	Gap time.Duration
	// Keep is how long delivered rows stay in the outbox (for looking into
	// a delivery problem); every PurgeEvery the relay deletes older ones,
	// so the table holds about a day of applications, not all of them.
	Keep, PurgeEvery time.Duration
}

// NewRelay builds a relay; Start runs it.
func NewRelay(st OutboxStore, pub live.Publisher, notify live.Notifier, log *slog.Logger) *Relay {
	return &Relay{store: st, pub: pub, notify: notify, log: log, Poll: time.Second, Gap: 25 * time.Millisecond,
		Keep: 24 * time.Hour, PurgeEvery: 10 * time.Minute,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// Kick asks the relay to look at the outbox now. It never blocks.
func (r *Relay) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Start runs the relay until Close.
func (r *Relay) Start() { go r.run() }

// Close stops the relay after its current round, and waits for it.
func (r *Relay) Close() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
}

func (r *Relay) run() {
	defer close(r.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-r.done:
		}
	}()
	backoff := time.Duration(0)
	t := time.NewTimer(0)
	defer t.Stop()
	var last time.Time
	lastPurge := time.Now()
	for {
		select {
		case <-r.stop:
			return
		case <-r.kick:
		case <-t.C:
		}
		if wait := r.Gap - time.Since(last); wait > 0 {
			select {
			case <-r.stop:
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		if last.Sub(lastPurge) >= r.PurgeEvery {
			lastPurge = last
			r.purge(ctx)
		}
		n, err := r.Round(ctx)
		switch {
		case err != nil:
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			if ctx.Err() == nil {
				r.log.Warn("outbox relay: delivery failed, will retry", "err", err, "retry_in", backoff)
			}
		case n > 0:
			backoff = 0
			r.Kick() // there may be more
		default:
			backoff = 0
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		if backoff > 0 {
			t.Reset(backoff)
			// A kick must not bypass the backoff while the broker is down.
			select {
			case <-r.kick:
			default:
			}
		} else {
			t.Reset(r.Poll)
		}
	}
}

// purge deletes the rows delivered more than Keep ago. Every node's relay
// does it; the DELETE is the same whoever runs it.
func (r *Relay) purge(ctx context.Context) {
	n, err := r.store.DeleteDeliveredOutbox(ctx, time.Now().Add(-r.Keep))
	switch {
	case err != nil && ctx.Err() == nil:
		r.log.Warn("outbox relay: purging delivered rows failed", "err", err)
	case n > 0:
		r.log.Debug("outbox relay: purged delivered rows", "rows", n)
	}
}

// Round delivers one batch of pending outbox rows and returns how many were
// delivered. Exposed for tests.
func (r *Relay) Round(ctx context.Context) (int, error) {
	var derr error
	n, err := r.store.DeliverOutbox(ctx, 500, func(items []store.OutboxItem) int {
		derr = r.deliver(ctx, items)
		if derr != nil {
			return 0
		}
		return len(items)
	})
	if err == nil {
		err = derr
	}
	return n, err
}

type roomJob struct {
	room live.RoomID
	job  live.JobID
}

// deliver sends one batch: one apply.count per (room, job) with the total
// from the database — the job's applicant counter, a primary-key read, not
// a count over its applications — so repeats are harmless, then one
// application event per new application to its org.
func (r *Relay) deliver(ctx context.Context, items []store.OutboxItem) error {
	var order []roomJob
	seen := map[roomJob]bool{}
	var jobs []live.JobID
	type app struct {
		item store.OutboxItem
		data store.OutboxApplicationData
	}
	var apps []app
	for _, it := range items {
		if it.Topic != store.OutboxApplication {
			r.log.Error("outbox relay: unknown topic, dropping", "topic", it.Topic, "id", it.ID)
			continue
		}
		var d store.OutboxApplicationData
		if err := json.Unmarshal([]byte(it.Payload), &d); err != nil {
			r.log.Error("outbox relay: bad payload, dropping", "id", it.ID, "err", err)
			continue
		}
		apps = append(apps, app{it, d})
		k := roomJob{it.RoomID, d.JobID}
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
			jobs = append(jobs, d.JobID)
		}
	}
	if len(apps) == 0 {
		return nil
	}
	counts, err := r.store.ApplicantCounts(ctx, jobs)
	if err != nil {
		return err
	}
	for _, k := range order {
		if k.room == "" {
			continue
		}
		ev := live.NewEvent(live.EvApplyCount, live.ApplyCountData{JobID: k.job, Total: counts[k.job]})
		if _, err := r.pub.Publish(ctx, k.room, ev); err != nil {
			return err
		}
	}
	for _, a := range apps {
		ev := live.NewEvent(live.EvApplication, live.ApplicationData{
			ApplicationID: a.data.ApplicationID, JobID: a.data.JobID, JobTitle: a.data.JobTitle,
			OrgID: a.item.OrgID, RoomID: a.item.RoomID, At: a.data.At,
		})
		if err := r.notify.ToOrg(ctx, a.item.RoomID, a.item.OrgID, ev); err != nil {
			return err
		}
	}
	return nil
}
