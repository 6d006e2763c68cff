package chat

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"jobcast/live"
)

// smallBuffers makes the server's socket send buffer of the first accepted
// connection (the slow client's) small so that it fills quickly.
type smallBuffers struct {
	net.Listener
	once *sync.Once
}

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		l.once.Do(func() { _ = tc.SetWriteBuffer(4096) })
	}
	return c, err
}

func TestSlowConsumerIsCutAndOthersGetEverything(t *testing.T) {
	w := newWorld()
	n := startNode(t, w, NewMemoryBroker(HistoryConfig{}), Config{SendQueueBytes: 256 << 10, WriteTimeout: 30 * time.Second},
		func(l net.Listener) net.Listener { return smallBuffers{l, &sync.Once{}} })

	// The slow client: tiny receive buffer, reads nothing until the end.
	d := dialer()
	d.NetDial = func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}
	slowWS, _, err := d.Dial(n.wsURL(w.room, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slowWS.Close()
	slow := &client{t: t, ws: slowWS}

	const normal, total = 50, 400
	clients := make([]*client, normal)
	for i := range clients {
		clients[i] = connect(t, n.wsURL(w.room, ""), nil)
	}
	var wg sync.WaitGroup
	results := make([][]wireEvent, normal)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Cheap parsing (seq only) so 50 readers keep up under -race.
			var got []wireEvent
			_ = c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
			for len(got) < total {
				_, data, err := c.ws.ReadMessage()
				if err != nil {
					t.Errorf("client %d after %d events: %v", i, len(got), err)
					return
				}
				for _, line := range bytes.Split(data, []byte{'\n'}) {
					if bytes.HasPrefix(line, []byte(`{"type":"shelf","seq":`)) {
						got = append(got, wireEvent{Type: "shelf", Seq: seqOf(line)})
					}
				}
			}
			results[i] = got
		}()
	}
	pad := strings.Repeat("x", 1000)
	for i := 0; i < total; i++ {
		ev := live.NewEvent(live.EvShelf, map[string]any{"i": i, "pad": pad})
		if _, err := n.svc.Publish(context.Background(), w.room, ev); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			time.Sleep(time.Millisecond) // a busy room, not one burst
		}
	}
	wg.Wait()
	t.Logf("all delivered")
	for i, evs := range results {
		if len(evs) != total {
			t.Fatalf("client %d got %d of %d", i, len(evs), total)
		}
		checkContiguous(t, evs, clients[i].welcome.Seq)
	}
	eventually(t, 10*time.Second, "slow disconnect counted", func() bool { return counterValue(n.svc.m.slow) == 1 })
	t.Logf("slow counted")
	if code := slow.closeCode(10 * time.Second); code != CloseSlow {
		t.Fatalf("slow client close code %d, want %d", code, CloseSlow)
	}
	if slow.closeErr.Text == "" {
		t.Fatal("close without a reason")
	}
	_ = websocket.CloseNormalClosure
}

func seqOf(env []byte) uint64 {
	i := bytes.Index(env, []byte(`"seq":`))
	if i < 0 {
		return 0
	}
	var n uint64
	for _, b := range env[i+6:] {
		if b < '0' || b > '9' {
			break
		}
		n = n*10 + uint64(b-'0')
	}
	return n
}

func counterValue(c prometheus.Metric) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
