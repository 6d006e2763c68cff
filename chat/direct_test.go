package chat

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jobcast/live"
)

// textFrame must produce what gorilla reads as one text message, for each
// length encoding (7-bit, 16-bit, 64-bit).
func TestTextFrameReadsBack(t *testing.T) {
	sizes := []int{0, 5, 125, 126, 200, 65535, 65536, 70000}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for _, n := range sizes {
			if _, err := ws.NetConn().Write(textFrame(bytes.Repeat([]byte{'x'}, n))); err != nil {
				return
			}
		}
		_, _, _ = ws.ReadMessage() // until the client closes
	}))
	defer srv.Close()
	ws, _, err := dialer().Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, n := range sizes {
		typ, got, err := ws.ReadMessage()
		if err != nil || typ != websocket.TextMessage || !bytes.Equal(got, bytes.Repeat([]byte{'x'}, n)) {
			t.Fatalf("n=%d: type %d, %d bytes, err %v", n, typ, len(got), err)
		}
	}
}

// A client ping is answered by the writer (readLoop routes it there), and a
// burst of events reaches every member in order, several per frame or one.
func TestPingAnsweredAndBurstInOrder(t *testing.T) {
	w := newWorld()
	b := NewMemoryBroker(HistoryConfig{})
	n := startNode(t, w, b, Config{}, nil)
	clients := []*client{connect(t, n.wsURL(w.room, ""), nil), connect(t, n.wsURL(w.room, ""), nil), connect(t, n.wsURL(w.room, ""), nil)}

	pong := make(chan string, 1)
	clients[0].ws.SetPongHandler(func(s string) error { pong <- s; return nil })
	if err := clients[0].ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	const total = 300
	for i := range total {
		ev := live.NewEvent(live.EvApplyCount, live.ApplyCountData{JobID: "j", Total: i})
		if _, err := n.svc.Publish(context.Background(), w.room, ev); err != nil {
			t.Fatal(err)
		}
	}
	for ci, c := range clients {
		evs := c.ordered(total, 10*time.Second)
		for i := 1; i < len(evs); i++ {
			if evs[i].Seq != evs[i-1].Seq+1 {
				t.Fatalf("client %d: seq %d after %d", ci, evs[i].Seq, evs[i-1].Seq)
			}
		}
	}
	// The pong may come after the last event (GOMAXPROCS=1 reads the ping
	// after the burst): keep reading, control frames are handled by reads.
	go func() {
		for {
			if _, _, err := clients[0].ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case s := <-pong:
		if s != "hi" {
			t.Fatalf("pong %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
}

// Client pings count against the frame limit like any other frame (gorilla
// reads them inside NextReader, past the read loop's own check): a ping
// flood is closed with 1008 and never makes the writer run per ping.
func TestPingFloodClosed(t *testing.T) {
	w := newWorld()
	n := startNode(t, w, NewMemoryBroker(HistoryConfig{}), Config{FrameRate: 10}, nil)
	c := connect(t, n.wsURL(w.room, ""), nil)
	for range 200 {
		if err := c.ws.WriteControl(websocket.PingMessage, []byte("x"), time.Now().Add(time.Second)); err != nil {
			break // closed: what the test wants
		}
	}
	if code := c.closeCode(5 * time.Second); code != websocket.ClosePolicyViolation {
		t.Fatalf("ping flood: close code %d, want %d", code, websocket.ClosePolicyViolation)
	}
}
