package load

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	r := rand.New(rand.NewPCG(3, 4))
	var exact []time.Duration
	for range 20000 {
		d := time.Duration(r.ExpFloat64() * float64(20*time.Millisecond))
		h.Record(d)
		exact = append(exact, d)
	}
	slices.Sort(exact)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		want := exact[int(q*float64(len(exact)))-1]
		got := h.Quantile(q)
		if diff := float64(got-want) / float64(want); diff > 0.02 || diff < -0.02 {
			t.Errorf("q%.2f = %v, exact %v (%.1f %% off)", q, got, want, diff*100)
		}
	}
	if h.Quantile(1) != exact[len(exact)-1] {
		t.Errorf("max = %v, want %v", h.Quantile(1), exact[len(exact)-1])
	}
	if s := h.Summary(); s.Count != 20000 || s.P50 <= 0 || s.P99 < s.P95 || s.Max < s.P99 {
		t.Errorf("summary %+v", s)
	}
}

func TestHistogramSmallAndEmpty(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Summary().Count != 0 {
		t.Fatal("empty histogram is not zero")
	}
	for _, ms := range []int{1, 2, 3, 4, 150} {
		h.Record(time.Duration(ms) * time.Millisecond)
	}
	h.Record(-time.Second) // clock skew between hosts: counted as zero
	if got := h.Quantile(0.5); got < 1900*time.Microsecond || got > 2*time.Millisecond {
		t.Errorf("p50 = %v, want ≈2ms", got)
	}
	if got := h.shareBelow(100 * time.Millisecond); got < 0.83 || got > 0.84 {
		t.Errorf("share below 100ms = %v, want 5/6", got)
	}
}

func TestBucketsAreContiguous(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<20; us += 7 {
		b := bucketOf(us)
		if b < prev {
			t.Fatalf("bucket of %d µs went back: %d < %d", us, b, prev)
		}
		if lowerBound(b) > us {
			t.Fatalf("lower bound of bucket %d is %d > %d", b, lowerBound(b), us)
		}
		prev = b
	}
}

func TestSeqTracker(t *testing.T) {
	tests := []struct {
		name            string
		start           uint64
		seqs            []uint64
		finish          uint64
		deliv, lost, dp uint64
	}{
		{"in order", 10, []uint64{11, 12, 13}, 13, 3, 0, 0},
		{"gap", 10, []uint64{11, 14, 15}, 15, 3, 2, 0},
		{"duplicate", 10, []uint64{11, 12, 12, 11, 13}, 13, 3, 0, 2},
		{"missed the tail", 10, []uint64{11}, 15, 1, 4, 0},
		{"gap then late duplicate", 0, []uint64{1, 3, 2}, 3, 2, 1, 1},
		{"nothing received", 5, nil, 8, 0, 3, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s SeqTracker
			s.Start(tc.start)
			for _, q := range tc.seqs {
				s.Observe(q)
			}
			s.Finish(tc.finish)
			if s.Delivered != tc.deliv || s.Lost != tc.lost || s.Dups != tc.dp {
				t.Errorf("delivered/lost/dups = %d/%d/%d, want %d/%d/%d", s.Delivered, s.Lost, s.Dups, tc.deliv, tc.lost, tc.dp)
			}
		})
	}
}

func TestSeqSetCountsDistinctAcrossWrap(t *testing.T) {
	var s seqSet
	seq := uint16(65530)
	for i := range 20 {
		if i == 7 || i == 8 {
			seq++
			continue // lost
		}
		s.add(seq)
		if i == 10 {
			s.add(seq) // retransmission
		}
		seq++
	}
	if s.expected() != 20 || s.distinct != 18 {
		t.Errorf("expected %d distinct %d, want 20 and 18", s.expected(), s.distinct)
	}
}
