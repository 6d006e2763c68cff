package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"jobcast/live"
)

// streamViewer is a room-channel client for the process-level fault tests.
// It checks the ordered stream as a real client must: after a welcome at
// seq W every ordered event is W+1, W+2, … on that connection; a reconnect
// asks ?since=<last>&epoch=<epoch> and the welcome either says
// recovered:true at exactly <last> (the stream goes on without a gap) or
// recovered:false with a fresh snapshot (an explicit resync, allowed). Any
// other jump is a silent gap; a repeated seq is a duplicate.
type streamViewer struct {
	url       string // ws://host/api/rooms/R/ws
	token     string
	reconnect bool // reconnect (with recovery) after every close

	writeMu sync.Mutex // one writer at a time (gorilla)

	mu         sync.Mutex
	conn       *websocket.Conn
	connected  bool
	seq        uint64 // last ordered seq seen in epoch
	epoch      string
	ordered    int            // ordered events received
	byType     map[string]int // ordered events by type
	gaps       int            // silent gaps
	dups       int            // duplicates
	explicit   int            // welcomes with recovered:false after the first
	recovered  int            // welcomes with recovered:true
	welcomes   int
	closes     map[int]int // server close codes (-1: no close frame)
	lastClose  int
	closedAt   time.Time
	gapDetail  []string
	dialFailed int
	stop       chan struct{}
	done       chan struct{}
}

func newStreamViewer(addr string, room live.RoomID, token string, reconnect bool) *streamViewer {
	return &streamViewer{url: "ws://" + addr + "/api/rooms/" + string(room) + "/ws", token: token, reconnect: reconnect,
		byType: map[string]int{}, closes: map[int]int{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// dial opens one connection (with recovery parameters after the first).
func (v *streamViewer) dial() (*websocket.Conn, error) {
	v.mu.Lock()
	u := v.url
	if v.epoch != "" {
		u += fmt.Sprintf("?since=%d&epoch=%s", v.seq, v.epoch)
	}
	v.mu.Unlock()
	h := http.Header{}
	if v.token != "" {
		h.Set("Authorization", "Bearer "+v.token)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, res, err := d.Dial(u, h)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("ws dial: %d", res.StatusCode)
		}
		return nil, err
	}
	return c, nil
}

// start connects once (an error is returned) and then serves the
// connection, reconnecting if asked, until close or the server ends it.
func (v *streamViewer) start() error {
	c, err := v.dial()
	if err != nil {
		close(v.done)
		return err
	}
	go v.run(c)
	return nil
}

func (v *streamViewer) run(c *websocket.Conn) {
	defer close(v.done)
	for {
		v.mu.Lock()
		v.conn, v.connected = c, true
		v.mu.Unlock()
		code := v.serve(c)
		c.Close()
		v.mu.Lock()
		v.connected = false
		v.closes[code]++
		v.lastClose, v.closedAt = code, time.Now()
		v.mu.Unlock()
		if !v.reconnect {
			return
		}
		for {
			select {
			case <-v.stop:
				return
			default:
			}
			var err error
			if c, err = v.dial(); err == nil {
				break
			}
			v.mu.Lock()
			v.dialFailed++
			v.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// serve reads one connection until it ends; it returns the close code.
func (v *streamViewer) serve(c *websocket.Conn) int {
	first := true
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return -1
		}
		v.mu.Lock()
		for line := range bytes.SplitSeq(msg, []byte("\n")) {
			var ev struct {
				Type string          `json:"type"`
				Seq  uint64          `json:"seq"`
				Data json.RawMessage `json:"data"`
			}
			if typ, seq, ok := envelopeHead(line); ok && typ != string(live.EvWelcome) {
				ev.Type, ev.Seq = typ, seq // the common case without a JSON decode
			} else if json.Unmarshal(line, &ev) != nil {
				continue
			}
			if ev.Type == string(live.EvWelcome) {
				var w struct {
					Seq       uint64 `json:"seq"`
					Epoch     string `json:"epoch"`
					Recovered bool   `json:"recovered"`
				}
				_ = json.Unmarshal(ev.Data, &w)
				v.welcomes++
				switch {
				case v.epoch == "": // the first connection
				case w.Recovered:
					v.recovered++
					if w.Epoch != v.epoch || w.Seq != v.seq {
						v.gaps++
						v.gapDetail = append(v.gapDetail, fmt.Sprintf("recovered welcome at %s/%d, asked %s/%d", w.Epoch, w.Seq, v.epoch, v.seq))
					}
				default:
					v.explicit++
				}
				v.seq, v.epoch, first = w.Seq, w.Epoch, false
				continue
			}
			if ev.Seq == 0 {
				continue
			}
			if first {
				v.gaps++
				v.gapDetail = append(v.gapDetail, "ordered event before the welcome")
				continue
			}
			v.ordered++
			v.byType[ev.Type]++
			switch {
			case ev.Seq == v.seq+1:
			case ev.Seq <= v.seq:
				v.dups++
			default:
				v.gaps++
				if len(v.gapDetail) < 5 {
					v.gapDetail = append(v.gapDetail, fmt.Sprintf("seq %d after %d", ev.Seq, v.seq))
				}
			}
			v.seq = max(v.seq, ev.Seq)
		}
		v.mu.Unlock()
	}
}

// write sends one text frame on the current connection (an error when
// there is none).
func (v *streamViewer) write(b []byte) error {
	v.mu.Lock()
	c, ok := v.conn, v.connected
	v.mu.Unlock()
	if !ok {
		return errors.New("not connected")
	}
	v.writeMu.Lock()
	defer v.writeMu.Unlock()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.WriteMessage(websocket.TextMessage, b)
}

// envelopeHead reads the type and seq of an event envelope from its head,
// `{"type":"T","seq":N,` for ordered events and `{"type":"T",` for the
// others (chat writes them first), so the test's readers can keep up with
// thousands of events per second without decoding each one.
func envelopeHead(b []byte) (typ string, seq uint64, ok bool) {
	rest, found := bytes.CutPrefix(b, []byte(`{"type":"`))
	if !found {
		return "", 0, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return "", 0, false
	}
	typ, rest = string(rest[:i]), rest[i+1:]
	rest, found = bytes.CutPrefix(rest, []byte(`,"seq":`))
	if !found {
		return typ, 0, true
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		seq = seq*10 + uint64(rest[n]-'0')
		n++
	}
	return typ, seq, n > 0
}

// close stops reconnecting, closes the socket and waits for the reader.
func (v *streamViewer) close() {
	select {
	case <-v.stop:
	default:
		close(v.stop)
	}
	v.mu.Lock()
	if v.conn != nil {
		v.conn.Close()
	}
	v.mu.Unlock()
	<-v.done
}

// position returns the epoch and last ordered seq seen.
func (v *streamViewer) position() (string, uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.epoch, v.seq
}

// dialRaw opens a WebSocket whose TCP receive buffer is rcvbuf bytes (a
// client on a stalled network). It never reads unless the caller does.
func dialRaw(url, token string, rcvbuf int) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024,
		NetDial: func(network, addr string) (net.Conn, error) {
			nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				if rcvbuf <= 0 {
					return nil
				}
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
				})
				return errors.Join(err, serr)
			}}
			return nd.Dial(network, addr)
		}}
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	c, res, err := d.Dial(url, h)
	if err != nil && res != nil {
		return nil, fmt.Errorf("ws dial: %d", res.StatusCode)
	}
	return c, err
}
