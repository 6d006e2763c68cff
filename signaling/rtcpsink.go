package signaling

import (
	"io"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/transport/v5/packetio"
)

// viewerRTCP takes a viewer's RTCP as pion's SRTCP session decrypts it,
// through the viewer API's BufferFactory, instead of a goroutine per sender
// blocked in RTPSender.ReadRTCP: two goroutine stacks and two read buffers
// fewer per viewer. PLI/FIR become a keyframe request, NACKs are answered
// from the forwarder's recent packets. Everything runs on the peer
// connection's SRTCP read goroutine, so the handlers of one viewer never
// run concurrently.
type viewerRTCP struct {
	srv  *Server
	sess *session

	mu     sync.Mutex
	bySSRC map[uint32]*rtcpSink // the viewer's senders
}

func newViewerRTCP(srv *Server, sess *session) *viewerRTCP {
	return &viewerRTCP{srv: srv, sess: sess, bySSRC: map[uint32]*rtcpSink{}}
}

// add routes the RTCP about sender SSRC ssrc (the viewer's copy of track)
// to the handlers. Call it before the answer is set, so before any RTCP can
// arrive.
func (v *viewerRTCP) add(track *fanTrack, ssrc uint32) {
	v.mu.Lock()
	v.bySSRC[ssrc] = &rtcpSink{owner: v, track: track, ssrc: ssrc, done: make(chan struct{})}
	v.mu.Unlock()
}

// buffer is the viewer API's SettingEngine.BufferFactory. The RTCP stream
// of one of the viewer's senders gets that sender's sink; anything else (RTP
// a viewer should not send, RTCP about SSRCs that are not its senders) is
// dropped without being buffered.
func (v *viewerRTCP) buffer(kind packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
	if kind == packetio.RTCPBufferPacket {
		v.mu.Lock()
		k := v.bySSRC[ssrc]
		v.mu.Unlock()
		if k != nil {
			return k
		}
	}
	return &rtcpSink{done: make(chan struct{})}
}

// rtcpSink is the io.ReadWriteCloser pion writes one SRTCP stream into.
// Nobody reads it: Read blocks until the stream is closed.
type rtcpSink struct {
	owner *viewerRTCP // nil: discard
	track *fanTrack
	ssrc  uint32

	once sync.Once
	done chan struct{}
}

func (k *rtcpSink) Write(b []byte) (int, error) {
	if k.owner == nil {
		return len(b), nil
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return len(b), nil // a malformed packet from the viewer: ignore it
	}
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			k.owner.sess.room.requestKeyframe()
		case *rtcp.TransportLayerNack:
			if k.track != nil {
				k.owner.srv.m.nacked.Add(uint64(k.track.resend(k.ssrc, p)))
			}
		}
	}
	return len(b), nil
}

func (k *rtcpSink) Read([]byte) (int, error) {
	<-k.done
	return 0, io.EOF
}

func (k *rtcpSink) Close() error {
	k.once.Do(func() { close(k.done) })
	return nil
}
