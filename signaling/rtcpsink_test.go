package signaling

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/packetio"
	"github.com/pion/webrtc/v4"
)

// A viewer's RTCP streams: its senders' SSRCs get their own sinks, anything
// else (RTP it should not send, RTCP about other SSRCs) is dropped without
// being buffered, and every sink's Read returns io.EOF once pion closes it.
func TestViewerRTCPBuffers(t *testing.T) {
	v := newViewerRTCP(nil, nil)
	v.add(nil, 1234)
	mine := v.buffer(packetio.RTCPBufferPacket, 1234)
	if k, ok := mine.(*rtcpSink); !ok || k.owner != v || k.ssrc != 1234 {
		t.Fatalf("the sender's RTCP stream got %#v, want its sink", mine)
	}
	if again := v.buffer(packetio.RTCPBufferPacket, 1234); again != mine {
		t.Fatal("a second stream for the same SSRC got another sink")
	}
	if n, err := v.buffer(packetio.RTPBufferPacket, 1234).Read(make([]byte, 1500)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("RTP from a viewer: Read = %d, %v, want EOF at once", n, err)
	}
	for _, other := range []io.ReadWriteCloser{v.buffer(packetio.RTCPBufferPacket, 99)} {
		if k := other.(*rtcpSink); k.owner != nil {
			t.Fatal("a stream that is not one of the viewer's senders was not discarded")
		}
		big := make([]byte, 1<<20)
		if n, err := other.Write(big); n != len(big) || err != nil {
			t.Fatalf("discard Write = %d, %v", n, err)
		}
		read := make(chan error, 1)
		go func() { _, err := other.Read(make([]byte, 1500)); read <- err }()
		select {
		case err := <-read:
			t.Fatalf("Read returned %v before Close (nothing is ever buffered)", err)
		case <-time.After(20 * time.Millisecond):
		}
		if err := other.Close(); err != nil {
			t.Fatal(err)
		}
		_ = other.Close() // pion may close twice
		if err := <-read; !errors.Is(err, io.EOF) {
			t.Fatalf("Read after Close = %v, want EOF", err)
		}
	}
	for i := range maxStrayRTCP - 1 {
		if _, ok := v.buffer(packetio.RTCPBufferPacket, uint32(100+i)).(*rtcpSink); !ok {
			t.Fatalf("stray RTCP stream %d refused, want up to %d", i+2, maxStrayRTCP)
		}
	}
	if _, ok := v.buffer(packetio.RTCPBufferPacket, 7).(eofSink); !ok {
		t.Fatalf("stray RTCP stream %d accepted", maxStrayRTCP+1)
	}
	// A malformed packet from the viewer is ignored.
	if n, err := mine.Write([]byte{0x80}); n != 1 || err != nil {
		t.Fatalf("malformed RTCP: Write = %d, %v", n, err)
	}
}

// rawTrack hands its write stream to the test, to send arbitrary RTP.
type rawTrack struct{ ws chan webrtc.TrackLocalWriter }

func (r *rawTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	r.ws <- ctx.WriteStream()
	return ctx.CodecParameters()[0], nil
}
func (r *rawTrack) Unbind(webrtc.TrackLocalContext) error { return nil }
func (r *rawTrack) ID() string                            { return "x" }
func (r *rawTrack) RID() string                           { return "" }
func (r *rawTrack) StreamID() string                      { return "x" }
func (r *rawTrack) Kind() webrtc.RTPCodecType             { return webrtc.RTPCodecTypeVideo }

// A WHEP viewer that sends media (here on new SSRCs its offer did not
// declare, each of which would cost a pion transceiver and reader) has its
// session closed.
func TestViewerSendingMediaIsClosed(t *testing.T) {
	e := newEnv(t, nil)
	room := e.rooms.add("k")
	if pub, a := publish(t, e.url, room, "k"); pub == nil {
		t.Fatalf("publish: %d %s", a.status, a.body)
	}
	pc, err := clientAPI(t, false).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	rt := &rawTrack{ws: make(chan webrtc.TrackLocalWriter, 1)}
	if _, err := pc.AddTransceiverFromTrack(rt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for l := range strings.SplitSeq(offerFrom(t, pc), "\r\n") {
		if !strings.HasPrefix(l, "a=ssrc") && !strings.HasPrefix(l, "a=msid") {
			kept = append(kept, l)
		}
	}
	ans := do(t, "POST", e.url+"/api/rooms/"+string(room)+"/whep", "", "application/sdp", strings.Join(kept, "\r\n"))
	if ans.status != http.StatusCreated {
		t.Fatalf("whep: %d %s", ans.status, ans.body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.body}); err != nil {
		t.Fatal(err)
	}
	var w webrtc.TrackLocalWriter
	select {
	case w = <-rt.ws:
	case <-time.After(10 * time.Second):
		t.Fatal("the viewer's sender never started")
	}
	eventually(t, 10*time.Second, "viewer installed", func() bool { return e.srv.m.viewers.Load() == 1 })
	for i := range 50 {
		h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 1, SSRC: uint32(1000 + i)}
		if _, err := w.WriteRTP(&h, []byte{1, 2, 3, 4}); err != nil {
			break // closed: what the test wants
		}
		time.Sleep(2 * time.Millisecond)
	}
	eventually(t, 10*time.Second, "the media-sending viewer closed", func() bool { return e.srv.m.viewers.Load() == 0 })
}

// A viewer whose RTCP names many SSRCs that are not its senders (each one
// a stream pion keeps until the session ends) has its session closed.
func TestViewerRTCPFloodIsClosed(t *testing.T) {
	e := newEnv(t, nil)
	_, _, v, _ := publishAndWatch(t, e, "k")
	for i := range 20 {
		rr := &rtcp.ReceiverReport{SSRC: 1}
		for j := range 4 {
			rr.Reports = append(rr.Reports, rtcp.ReceptionReport{SSRC: uint32(5000 + 4*i + j)})
		}
		if err := v.pc.WriteRTCP([]rtcp.Packet{rr}); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	eventually(t, 10*time.Second, "the flooding viewer closed", func() bool { return e.srv.m.viewers.Load() == 0 })
}
