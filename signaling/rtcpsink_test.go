package signaling

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/pion/transport/v5/packetio"
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
	for _, other := range []io.ReadWriteCloser{v.buffer(packetio.RTPBufferPacket, 1234), v.buffer(packetio.RTCPBufferPacket, 99)} {
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
	// A malformed packet from the viewer is ignored.
	if n, err := mine.Write([]byte{0x80}); n != 1 || err != nil {
		t.Fatalf("malformed RTCP: Write = %d, %v", n, err)
	}
}
