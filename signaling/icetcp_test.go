package signaling

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v4"
)

// An ICE-TCP client that stops reading (zero window) is cut once pion's
// queue and the kernel's buffers are full, so it does not hold them for
// the rest of its session; writes to it never block meanwhile (pion
// queues them).
func TestICETCPStalledClientCut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	mux := newICETCPMux(ln, lf.NewLogger("ice-tcp"))
	defer mux.Close()
	pc, err := mux.GetConnByUfrag("abcd", false, net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	m := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.NewUsername("abcd:efgh"))
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(m.Raw)))
	if _, err := c.Write(append(frame, m.Raw...)); err != nil {
		t.Fatal(err)
	}
	_, raddr, err := pc.ReadFrom(make([]byte, 1500))
	if err != nil {
		t.Fatal(err)
	}
	// The client never reads again.
	pkt := make([]byte, 1200)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := pc.WriteTo(pkt, raddr)
		if errors.Is(err, io.ErrClosedPipe) {
			return // cut: pion no longer has the connection
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stalled ICE-TCP client is still connected after 20 s (last write: %v)", err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}
