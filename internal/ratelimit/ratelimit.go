// Package ratelimit is a token bucket per key (client IP, account, user id)
// with a bounded number of keys, shared by every jobcast limit.
package ratelimit

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a token bucket: Every is the refill interval of one token, Burst
// the bucket size. The zero value disables the limit.
type Limit struct {
	Every time.Duration
	Burst int
}

// Keyed keeps one token bucket per key in a map bounded to max keys; the
// least recently used key is dropped first, which at worst hands a flooder a
// fresh bucket — never unbounded memory. Safe for concurrent use.
type Keyed struct {
	lim   Limit
	max   int
	mu    sync.Mutex
	order *list.List // front = most recently used; values are *bucket
	byKey map[string]*list.Element
}

type bucket struct {
	key string
	l   *rate.Limiter
}

// New returns a limiter remembering at most max keys (10,000 if max ≤ 0).
func New(lim Limit, max int) *Keyed {
	if max <= 0 {
		max = 10000
	}
	return &Keyed{lim: lim, max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

// Allow takes one token for key at now. When none is left it returns false
// and how long until one is. A nil or zero-limit Keyed allows everything.
func (k *Keyed) Allow(key string, now time.Time) (bool, time.Duration) {
	if k == nil || k.lim.Every <= 0 || k.lim.Burst <= 0 {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var b *bucket
	if el, ok := k.byKey[key]; ok {
		k.order.MoveToFront(el)
		b = el.Value.(*bucket)
	} else {
		if k.order.Len() >= k.max {
			old := k.order.Back()
			k.order.Remove(old)
			delete(k.byKey, old.Value.(*bucket).key)
		}
		b = &bucket{key: key, l: rate.NewLimiter(rate.Every(k.lim.Every), k.lim.Burst)}
		k.byKey[key] = k.order.PushFront(b)
	}
	r := b.l.ReserveN(now, 1)
	if !r.OK() {
		return false, k.lim.Every
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Size reports the number of tracked keys.
func (k *Keyed) Size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.byKey)
}
