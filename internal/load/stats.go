package load

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations in log-linear buckets (64 sub-buckets per
// power of two of microseconds: under 1.6 % error) so millions of samples
// cost a few KiB. It is safe for concurrent use and lock-free: 10,000
// viewer goroutines record into one histogram (a mutex there serialised the
// load tool at 100k events/s). Reads taken while samples arrive may be off
// by the samples in flight.
type Histogram struct {
	counts [64 * 64]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64 // time.Duration
	sum    atomic.Int64 // time.Duration
}

const subBuckets = 64

func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	exp := bits.Len64(us) - 7 // us >> exp lies in [64,128)
	idx := (exp+1)*subBuckets + int(us>>uint(exp)) - subBuckets
	if idx >= 64*64 {
		return 64*64 - 1
	}
	return idx
}

// lowerBound is the smallest value (µs) that falls into bucket i.
func lowerBound(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	exp := i/subBuckets - 1
	return uint64(i%subBuckets+subBuckets) << uint(exp)
}

// Record adds one sample; negative durations count as zero. It never blocks.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d/time.Microsecond))].Add(1)
	h.sum.Add(int64(d))
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
	h.n.Add(1)
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Quantile returns the value at quantile q (0..1): the lower bound of the
// bucket holding the sample of rank ceil(q·n), or the exact max for q = 1.
// Zero when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	mx := time.Duration(h.max.Load())
	if n == 0 {
		return 0
	}
	if q >= 1 {
		return mx
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := time.Duration(lowerBound(i)) * time.Microsecond
			return min(v, mx)
		}
	}
	return mx
}

// Summary is a histogram's figures in milliseconds, for the report.
type Summary struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Summary returns the histogram's figures.
func (h *Histogram) Summary() Summary {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	s := Summary{Count: h.Count(), P50: ms(h.Quantile(.50)), P95: ms(h.Quantile(.95)), P99: ms(h.Quantile(.99)), Max: ms(h.Quantile(1))}
	if n := h.n.Load(); n > 0 {
		s.Mean = ms(time.Duration(h.sum.Load()) / time.Duration(n))
	}
	return s
}

// SeqTracker accounts one connection's ordered events by seq: the next
// expected seq is last+1; a jump counts the skipped seqs as lost, a seq at
// or below the last one as a duplicate. Not safe for concurrent use (one
// per connection, owned by its reader).
type SeqTracker struct {
	last      uint64
	started   bool
	Delivered uint64
	Lost      uint64
	Dups      uint64
}

// Start sets where the connection stands (welcome's seq): the next ordered
// event should be seq+1. A recovered reconnect keeps the counters.
func (t *SeqTracker) Start(seq uint64) {
	t.last, t.started = seq, true
}

// Observe accounts one ordered event. It reports whether the event is new
// (not a duplicate).
func (t *SeqTracker) Observe(seq uint64) bool {
	if !t.started {
		t.Start(seq - 1)
	}
	switch {
	case seq <= t.last:
		t.Dups++
		return false
	case seq > t.last+1:
		t.Lost += seq - t.last - 1
	}
	t.last = seq
	t.Delivered++
	return true
}

// Last is the last seq applied.
func (t *SeqTracker) Last() uint64 { return t.last }

// Finish counts events up to high (the highest seq any connection saw)
// that this connection never received as lost.
func (t *SeqTracker) Finish(high uint64) {
	if t.started && high > t.last {
		t.Lost += high - t.last
		t.last = high
	}
}

// shareBelow is the fraction of samples under d (bucket resolution).
func (h *Histogram) shareBelow(d time.Duration) float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	limit := uint64(d / time.Microsecond)
	var below uint64
	for i := range h.counts {
		if lowerBound(i) >= limit {
			break
		}
		below += h.counts[i].Load()
	}
	return min(float64(below)/float64(n), 1)
}
