package chat

import "jobcast/live"

// ring keeps the hub's most recent publications, contiguous by seq, to
// serve joins and recoveries without a broker round trip. It grows up to
// size as events arrive, so a quiet room costs little.
type ring struct {
	buf   []Publication
	size  int
	start int // index of the oldest
	n     int
}

func newRing(size int) ring { return ring{size: size} }

func (r *ring) reset() {
	r.buf = nil
	r.start, r.n = 0, 0
}

func (r *ring) push(p Publication) {
	if r.size <= 0 {
		return
	}
	if r.n > 0 && r.at(r.n-1).Seq+1 != p.Seq {
		r.reset() // keep it contiguous
	}
	if r.n < r.size {
		// Still growing: the oldest is at index 0.
		r.buf = append(r.buf, p)
		r.n++
		return
	}
	r.buf[r.start] = p
	r.start = (r.start + 1) % r.size
}

func (r *ring) at(i int) *Publication { return &r.buf[(r.start+i)%len(r.buf)] }

// since returns the publications after seq, or false if the ring does not
// reach back to seq+1.
func (r *ring) since(seq uint64) ([]Publication, bool) {
	if r.n == 0 {
		return nil, false
	}
	first := r.at(0).Seq
	last := r.at(r.n - 1).Seq
	if seq >= last {
		return nil, seq == last
	}
	if seq+1 < first {
		return nil, false
	}
	out := make([]Publication, 0, last-seq)
	for i := int(seq + 1 - first); i < r.n; i++ {
		out = append(out, *r.at(i))
	}
	return out, true
}

func (r *ring) replace(seq uint64, typ live.EventType, data []byte) {
	if r.n == 0 {
		return
	}
	first := r.at(0).Seq
	if seq < first || seq >= first+uint64(r.n) {
		return
	}
	p := r.at(int(seq - first))
	if p.Type == live.EvChat {
		p.Type, p.Data = typ, data
	}
}
