package signaling

import (
	"context"
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

	mu      sync.Mutex
	bySSRC  map[uint32]*rtcpSink // the viewer's senders
	strays  int                  // RTCP streams about other SSRCs
	refused bool                 // the session is being closed for what it sent
}

// maxStrayRTCP bounds the RTCP streams a viewer may open about SSRCs that
// are not its senders (pion keeps each until the session ends). A browser
// opens a few (the SDES of its own receivers); a flood of report blocks
// with random SSRCs is an attack on the node's memory.
const maxStrayRTCP = 16

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
// of one of the viewer's senders gets that sender's sink; RTCP about other
// SSRCs is dropped without being buffered (up to maxStrayRTCP streams).
// A WHEP viewer never sends media: RTP from it, or too many stray RTCP
// streams, close its session (pion would otherwise keep a transceiver and a
// reader per new SSRC until the session ends).
func (v *viewerRTCP) buffer(kind packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case kind == packetio.RTCPBufferPacket && v.bySSRC[ssrc] != nil:
		return v.bySSRC[ssrc]
	case kind == packetio.RTCPBufferPacket:
		if v.strays++; v.strays <= maxStrayRTCP {
			return &rtcpSink{done: make(chan struct{})}
		}
		v.refuse("too many RTCP streams")
	default:
		v.refuse("a viewer sent media")
	}
	return eofSink{}
}

// refuse closes the viewer's session, once, from a goroutine of the server:
// buffer runs on pion's SRTP/SRTCP read goroutine, which closing the peer
// connection waits for.
func (v *viewerRTCP) refuse(reason string) {
	if v.refused || v.srv == nil {
		return
	}
	v.refused = true
	sess := v.sess
	v.srv.spawn(func(context.Context) { sess.close(reason) })
}

// eofSink is the stream of what a viewer must not send: nothing is kept and
// a reader (pion probing a new SSRC) ends at once.
type eofSink struct{}

func (eofSink) Write(b []byte) (int, error) { return len(b), nil }
func (eofSink) Read([]byte) (int, error)    { return 0, io.EOF }
func (eofSink) Close() error                { return nil }

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
