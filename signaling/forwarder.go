package signaling

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// shardQueue bounds each fan-out shard's backlog. A shard that falls this far
// behind drops packets (counted) rather than delaying the whole room; NACKs
// and the next keyframe repair the viewers.
const shardQueue = 512

// forwarder fans one media kind of a room out to viewers. The publisher's
// reader goroutine calls push; shards[i] has its own local track (fanTrack)
// bound to a subset of viewers and its own goroutine writing to them, so one
// track's fan-out is spread over every core (a local track writes to its
// bindings serially).
//
// The forwarder outlives publishers: when a publisher reconnects or is
// replaced, the new source continues the old sequence numbers and
// timestamps, so viewers see one continuous stream.
type forwarder struct {
	kind   webrtc.RTPCodecType
	codec  webrtc.RTPCodecCapability
	m      *metrics
	flush  func() // writes the batched packets (transport.flush)
	shards []*shard
	done   chan struct{}
	wg     sync.WaitGroup

	// rewrite state: guarded by mu, touched once per incoming packet.
	mu        sync.Mutex
	source    uint64 // generation of the source allowed to push
	started   bool   // a packet has been forwarded
	lastSeq   uint16 // last forwarded (output) sequence number
	lastTS    uint32 // last forwarded (output) timestamp
	lastAt    time.Time
	curSource uint64 // generation the offsets below belong to
	seqOff    uint16
	tsOff     uint32
	// recent packets by output sequence number (video only), shared by
	// every viewer to answer NACKs: len is a power of two.
	recent []*rtp.Packet
}

type shard struct {
	track   *fanTrack
	queue   chan *rtp.Packet
	viewers atomic.Int32
}

// newForwarder: nack is the number of recent packets kept to answer NACKs
// (a power of two; 0 = none, as for audio); flush may be nil.
func newForwarder(kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability, shards, nack int, flush func(), m *metrics) (*forwarder, error) {
	if flush == nil {
		flush = func() {}
	}
	f := &forwarder{kind: kind, codec: codec, m: m, flush: flush, done: make(chan struct{})}
	if nack > 0 {
		f.recent = make([]*rtp.Packet, nack)
	}
	id := "audio"
	if kind == webrtc.RTPCodecTypeVideo {
		id = "video"
	}
	for i := 0; i < shards; i++ {
		tr := newFanTrack(kind, codec, id, "jobcast")
		tr.fwd = f
		f.shards = append(f.shards, &shard{track: tr, queue: make(chan *rtp.Packet, shardQueue)})
	}
	for _, s := range f.shards {
		f.wg.Add(1)
		go f.run(s)
	}
	return f, nil
}

// run is a shard's writer goroutine; it exits when the forwarder closes.
func (f *forwarder) run(s *shard) {
	defer f.wg.Done()
	for {
		select {
		case <-f.done:
			return
		case p := <-s.queue:
			n := uint64(s.track.write(p))
			f.m.packets.Add(n)
			f.m.bytes.Add(n * uint64(p.Header.MarshalSize()+len(p.Payload)))
			if len(s.queue) == 0 {
				// Nothing more to add to the batch: send it now
				// rather than wait for the batch timer.
				f.flush()
			}
		}
	}
}

// close stops the shard goroutines and waits for them. Safe to call once.
func (f *forwarder) close() {
	close(f.done)
	f.wg.Wait()
}

// pickShard returns the shard with the fewest active viewers (the caller
// counts the viewer in it once its session is active).
func (f *forwarder) pickShard() int {
	best := 0
	for i, s := range f.shards {
		if s.viewers.Load() < f.shards[best].viewers.Load() {
			best = i
		}
	}
	return best
}

// newSource makes gen the only source allowed to push from now on.
func (f *forwarder) newSource(gen uint64) {
	f.mu.Lock()
	f.source = gen
	f.mu.Unlock()
}

// push forwards one packet from source gen. p must not be modified or
// reused by the caller afterwards: the shards read it concurrently.
func (f *forwarder) push(gen uint64, p *rtp.Packet) {
	// The publisher's header extension ids were negotiated with the
	// publisher, not with the viewers: strip them.
	p.Header.Extension = false
	p.Header.Extensions = nil
	p.Header.ExtensionProfile = 0
	now := time.Now()
	f.mu.Lock()
	if gen != f.source {
		f.mu.Unlock()
		return
	}
	if gen != f.curSource {
		// First packet of a new source: continue where the last source
		// stopped, advancing the timestamp by the wall-clock gap.
		f.curSource = gen
		if f.started {
			f.seqOff = f.lastSeq + 1 - p.SequenceNumber
			gap := uint32(now.Sub(f.lastAt).Seconds() * float64(f.codec.ClockRate))
			if gap == 0 {
				gap = 1
			}
			f.tsOff = f.lastTS + gap - p.Timestamp
		} else {
			f.seqOff, f.tsOff = 0, 0
		}
	}
	p.SequenceNumber += f.seqOff
	p.Timestamp += f.tsOff
	if !f.started || int16(p.SequenceNumber-f.lastSeq) > 0 {
		f.lastSeq, f.lastTS, f.lastAt = p.SequenceNumber, p.Timestamp, now
	}
	f.started = true
	if f.recent != nil {
		f.recent[int(p.SequenceNumber)&(len(f.recent)-1)] = p
	}
	f.mu.Unlock()

	for _, s := range f.shards {
		if s.viewers.Load() == 0 {
			continue
		}
		select {
		case s.queue <- p:
		default:
			f.m.dropped.Add(1)
		}
	}
}

// lookup returns the forwarded packets with the output sequence numbers
// seqs that are still kept for NACKs. They must not be modified.
func (f *forwarder) lookup(seqs []uint16) []*rtp.Packet {
	if f.recent == nil || len(seqs) == 0 {
		return nil
	}
	out := make([]*rtp.Packet, 0, len(seqs))
	f.mu.Lock()
	for _, seq := range seqs {
		if p := f.recent[int(seq)&(len(f.recent)-1)]; p != nil && p.SequenceNumber == seq {
			out = append(out, p)
		}
	}
	f.mu.Unlock()
	return out
}
