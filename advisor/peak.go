package advisor

import (
	"context"
	"log/slog"
	"time"

	"jobcast/live"
	"jobcast/store"
)

// ViewerCounter gives a room's viewer count over every node. chat.Service
// implements it.
type ViewerCounter interface {
	Viewers(ctx context.Context, room live.RoomID) (int, error)
}

// SampleStore is the storage the peak sampler needs. *store.DB implements
// it.
type SampleStore interface {
	Rooms(ctx context.Context, f store.RoomFilter) ([]live.Room, bool, error)
	RecordViewers(ctx context.Context, room live.RoomID, n int) error
}

// PeakSampler samples the viewer count of every live room at a fixed
// interval and keeps each room's largest sample, for the report's peak
// viewers. Every node may run one: the largest sample wins.
type PeakSampler struct {
	db     SampleStore
	counts ViewerCounter
	every  time.Duration
	log    *slog.Logger
}

// DefaultSampleEvery is how often live rooms are sampled.
const DefaultSampleEvery = 15 * time.Second

// NewPeakSampler builds a sampler; every ≤ 0 means DefaultSampleEvery.
func NewPeakSampler(db SampleStore, counts ViewerCounter, every time.Duration, log *slog.Logger) *PeakSampler {
	if every <= 0 {
		every = DefaultSampleEvery
	}
	return &PeakSampler{db: db, counts: counts, every: every, log: log}
}

// Run samples until ctx is done. It blocks; run it on a goroutine owned by
// the caller (the app's Go).
func (p *PeakSampler) Run(ctx context.Context) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.SampleOnce(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn("sampling viewer counts", "err", err)
			}
		}
	}
}

// SampleOnce records the current viewer count of every live room. It
// blocks on storage and the broker.
func (p *PeakSampler) SampleOnce(ctx context.Context) error {
	const page = 100
	for offset := 0; ; offset += page {
		rooms, more, err := p.db.Rooms(ctx, store.RoomFilter{Status: live.RoomLive, Limit: page, Offset: offset})
		if err != nil {
			return err
		}
		for _, r := range rooms {
			n, err := p.counts.Viewers(ctx, r.ID)
			if err != nil {
				return err
			}
			if err := p.db.RecordViewers(ctx, r.ID, n); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}
