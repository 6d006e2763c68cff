package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jobcast/live"
)

// wireEvent is an event as a client decodes it.
type wireEvent struct {
	Type string          `json:"type"`
	Seq  uint64          `json:"seq"`
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data"`
}

type welcomeWire struct {
	Role      live.Role          `json:"role"`
	Seq       uint64             `json:"seq"`
	Epoch     string             `json:"epoch"`
	Recovered bool               `json:"recovered"`
	Snapshot  *live.RoomSnapshot `json:"snapshot"`
	Viewers   int                `json:"viewers"`
}

// client is a real WebSocket client that splits batched frames.
type client struct {
	t        testing.TB
	ws       *websocket.Conn
	pending  []wireEvent
	welcome  welcomeWire
	closeErr *websocket.CloseError
}

func dialer() *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
}

// connect dials url and reads the welcome.
func connect(t testing.TB, url string, h http.Header) *client {
	t.Helper()
	ws, resp, err := dialer().Dial(url, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	c := &client{t: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	ev := c.next(5 * time.Second)
	if ev.Type != "welcome" {
		t.Fatalf("first event %q, want welcome", ev.Type)
	}
	if err := json.Unmarshal(ev.Data, &c.welcome); err != nil {
		t.Fatal(err)
	}
	return c
}

// read returns the next event or an error (close errors are kept).
func (c *client) read(d time.Duration) (wireEvent, error) {
	for len(c.pending) == 0 {
		_ = c.ws.SetReadDeadline(time.Now().Add(d))
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.closeErr = ce
			}
			return wireEvent{}, err
		}
		for _, line := range bytes.Split(data, []byte{'\n'}) {
			var ev wireEvent
			if err := json.Unmarshal(line, &ev); err != nil {
				c.t.Fatalf("bad event %q: %v", line, err)
			}
			c.pending = append(c.pending, ev)
		}
	}
	ev := c.pending[0]
	c.pending = c.pending[1:]
	return ev, nil
}

func (c *client) next(d time.Duration) wireEvent {
	c.t.Helper()
	ev, err := c.read(d)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return ev
}

// nextOf skips events of other types (viewers, ...) until one of types.
func (c *client) nextOf(d time.Duration, types ...string) wireEvent {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ev := c.next(time.Until(deadline))
		for _, ty := range types {
			if ev.Type == ty {
				return ev
			}
		}
	}
}

// ordered reads n ordered events (skipping ephemeral ones).
func (c *client) ordered(n int, d time.Duration) []wireEvent {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var out []wireEvent
	for len(out) < n {
		ev := c.next(time.Until(deadline))
		if live.EventType(ev.Type).Ordered() {
			out = append(out, ev)
		}
	}
	return out
}

// closeCode reads until the server closes and returns the close code.
func (c *client) closeCode(d time.Duration) int {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		_, err := c.read(time.Until(deadline))
		if err != nil {
			if c.closeErr != nil {
				return c.closeErr.Code
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("no close within %v", d)
			}
			return websocket.CloseAbnormalClosure
		}
	}
}

func (c *client) sendJSON(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) chat(text, nonce string) {
	c.sendJSON(map[string]string{"type": "chat", "text": text, "nonce": nonce})
}

func decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}
