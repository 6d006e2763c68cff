package load

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// seqSet counts distinct RTP packets of one stream by extended sequence
// number (retransmissions answered to NACKs arrive with the same number and
// count once). Not safe for concurrent use.
type seqSet struct {
	started  bool
	base     uint64 // extended seq of bit 0
	ext      uint64 // last extended seq
	bits     []uint64
	distinct uint64
	hi       uint64
}

func (s *seqSet) add(seq uint16) {
	if !s.started {
		s.started, s.ext, s.base, s.hi = true, uint64(seq)+1<<16, uint64(seq)+1<<16, uint64(seq)+1<<16
	} else {
		// unwrap relative to the last extended seq
		delta := int64(int16(seq - uint16(s.ext)))
		s.ext = uint64(int64(s.ext) + delta)
	}
	if s.ext < s.base {
		return // older than the first packet seen: ignore
	}
	off := s.ext - s.base
	if off > 1<<22 {
		return // nonsense jump
	}
	w := off / 64
	for uint64(len(s.bits)) <= w {
		s.bits = append(s.bits, 0)
	}
	if s.bits[w]&(1<<(off%64)) == 0 {
		s.bits[w] |= 1 << (off % 64)
		s.distinct++
	}
	s.hi = max(s.hi, s.ext)
}

// expected is the span from the first to the highest seq seen.
func (s *seqSet) expected() uint64 {
	if !s.started {
		return 0
	}
	return s.hi - s.base + 1
}

// whepStats are the WHEP viewers' shared figures.
type whepStats struct {
	connected, failed      atomic.Int64
	firstPacket            Histogram
	mu                     sync.Mutex
	videoRecv, videoExpect uint64
	audioRecv, audioExpect uint64
	lossy                  int // viewers above 1 % video loss
	noVideo                int
	bytes                  atomic.Int64
}

// whepViewer is one pion WHEP client counting what it receives.
type whepViewer struct {
	pc      *webrtc.PeerConnection
	session string
	video   seqSet
	audio   seqSet
	mu      sync.Mutex
	first   time.Time
	closed  bool
	wg      sync.WaitGroup
}

// startWHEP connects one viewer; token may be empty (visitor). It blocks
// for signaling; packets are read by goroutines the viewer owns until close.
func startWHEP(ctx context.Context, api *webrtc.API, c *http.Client, endpoint, token string, st *whepStats) (*whepViewer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	v := &whepViewer{pc: pc}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			_ = pc.Close()
			return nil, err
		}
	}
	start := time.Now()
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.mu.Lock()
		if v.closed {
			v.mu.Unlock()
			return
		}
		v.wg.Add(1) // under mu with closed unset: close's Wait comes after
		v.mu.Unlock()
		defer v.wg.Done()
		isVideo := tr.Kind() == webrtc.RTPCodecTypeVideo
		buf := make([]byte, 1500)
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				return // the connection closed
			}
			if n < 4 {
				continue
			}
			seq := uint16(buf[2])<<8 | uint16(buf[3])
			st.bytes.Add(int64(n))
			v.mu.Lock()
			if isVideo {
				if v.first.IsZero() {
					v.first = time.Now()
					st.firstPacket.Record(v.first.Sub(start))
				}
				v.video.add(seq)
			} else {
				v.audio.add(seq)
			}
			v.mu.Unlock()
		}
	})
	if v.session, err = signal(ctx, c, pc, endpoint, token); err != nil {
		_ = pc.Close()
		return nil, err
	}
	return v, nil
}

// close ends the session (DELETE) and the peer connection, then adds this
// viewer's counts to st.
func (v *whepViewer) close(c *http.Client, st *whepStats) {
	if v.session != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if req, err := http.NewRequestWithContext(ctx, http.MethodDelete, v.session, nil); err == nil {
			if res, err := c.Do(req); err == nil {
				res.Body.Close()
			}
		}
		cancel()
	}
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
	_ = v.pc.Close()
	v.wg.Wait()
	v.mu.Lock()
	defer v.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.videoRecv += v.video.distinct
	st.videoExpect += v.video.expected()
	st.audioRecv += v.audio.distinct
	st.audioExpect += v.audio.expected()
	if v.video.distinct == 0 {
		st.noVideo++
	} else if e := v.video.expected(); float64(e-v.video.distinct) > 0.01*float64(e) {
		st.lossy++
	}
}
