package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// wsStats are the counters all viewers share (atomics: viewers update them
// from their own goroutines).
type wsStats struct {
	connected, failed, dropped, open atomic.Int64
	reconnected, recovered, resets   atomic.Int64
	chatSent, chatRefused            atomic.Int64
	events                           atomic.Int64 // every event, ordered or not
	frames                           atomic.Int64 // WebSocket data frames (a frame may hold several events)
	highSeq                          atomic.Uint64

	chatLatency, pinLatency Histogram
	connectTime             Histogram

	pinMu   sync.Mutex
	pinSent map[string]time.Time // job id → when the host sent the pin
	drops   map[string]int64     // server-side closes by reason (guarded by pinMu)
}

// noteDrop counts a server-side close by its reason (close code, or the
// read error when the socket just ended), for the report.
func (s *wsStats) noteDrop(err error) {
	why := "no close frame"
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		why = "close " + strconv.Itoa(ce.Code)
	}
	s.pinMu.Lock()
	if s.drops == nil {
		s.drops = map[string]int64{}
	}
	s.drops[why]++
	s.pinMu.Unlock()
}

func (s *wsStats) notePin(job string, at time.Time) {
	s.pinMu.Lock()
	s.pinSent[job] = at
	s.pinMu.Unlock()
}

func (s *wsStats) pinTime(job string) (time.Time, bool) {
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	t, ok := s.pinSent[job]
	return t, ok
}

func (s *wsStats) raiseHigh(seq uint64) {
	for {
		h := s.highSeq.Load()
		if seq <= h || s.highSeq.CompareAndSwap(h, seq) {
			return
		}
	}
}

// viewer is one WebSocket connection to the room, reconnecting with
// since/epoch when told to. Its goroutine (run) owns the connection and the
// seq tracker; a chatter's sender goroutine is owned by run too.
type viewer struct {
	id     int
	wsURL  string // ws://…/api/rooms/R/ws
	token  string // empty: visitor
	stats  *wsStats
	dialer *websocket.Dialer

	chatEvery time.Duration // 0: not a chatter
	chatPhase time.Duration
	chatStart <-chan struct{} // closed when the measured phase begins
	chatStop  <-chan struct{} // closed when it ends (so the drain sees every message arrive)

	seq   SeqTracker
	epoch string
	mu    sync.Mutex
	conn  *websocket.Conn // current connection, for Drop
}

var nonceMark = []byte(`"nonce":"L`)

func field(b []byte, key string) []byte {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil
	}
	return b[i+len(key):]
}

// handle accounts one event line. The envelope is parsed by hand (type then
// seq come first, and a quote inside a JSON string is always escaped, so the
// markers cannot occur inside text): 10,000 viewers × 10 events/s must not
// cost the load tool more CPU than the server.
func (v *viewer) handle(line []byte, now time.Time) error {
	v.stats.events.Add(1)
	t := field(line, `"type":"`)
	if t == nil {
		return fmt.Errorf("event without type: %.80s", line)
	}
	end := bytes.IndexByte(t, '"')
	typ := string(t[:max(end, 0)])
	if typ == "welcome" {
		var w struct {
			Data struct {
				Seq       uint64 `json:"seq"`
				Epoch     string `json:"epoch"`
				Recovered bool   `json:"recovered"`
			} `json:"data"`
		}
		if err := json.Unmarshal(line, &w); err != nil {
			return fmt.Errorf("welcome: %w", err)
		}
		if v.epoch != "" {
			if w.Data.Recovered {
				v.stats.recovered.Add(1)
			} else {
				v.stats.resets.Add(1)
			}
		}
		if !w.Data.Recovered {
			v.seq.Start(w.Data.Seq) // snapshot: stand at its seq
		}
		v.epoch = w.Data.Epoch
		v.stats.raiseHigh(w.Data.Seq)
		return nil
	}
	if typ == "error" {
		if bytes.Contains(line, []byte(`"nonce":"L`)) {
			v.stats.chatRefused.Add(1)
		}
		return nil
	}
	s := field(line, `"seq":`)
	if s == nil {
		return nil // ephemeral event
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	seq, err := strconv.ParseUint(string(s[:n]), 10, 64)
	if err != nil {
		return fmt.Errorf("bad seq in %.80s", line)
	}
	if !v.seq.Observe(seq) {
		return nil
	}
	v.stats.raiseHigh(seq)
	switch typ {
	case "chat":
		if ns := field(line, string(nonceMark)); ns != nil {
			if e := bytes.IndexAny(ns, "-\""); e > 0 {
				if sent, err := strconv.ParseInt(string(ns[:e]), 10, 64); err == nil {
					v.stats.chatLatency.Record(now.Sub(time.Unix(0, sent)))
				}
			}
		}
	case "pin":
		if j := field(line, `"job_id":"`); j != nil {
			if e := bytes.IndexByte(j, '"'); e > 0 {
				if sent, ok := v.stats.pinTime(string(j[:e])); ok {
					v.stats.pinLatency.Record(now.Sub(sent))
				}
			}
		}
	}
	return nil
}

// dial opens one connection, recovering from where the viewer stands when
// it has been connected before.
func (v *viewer) dial(ctx context.Context) (*websocket.Conn, error) {
	q := url.Values{}
	if v.token != "" {
		q.Set("token", v.token)
	}
	if v.epoch != "" {
		q.Set("since", strconv.FormatUint(v.seq.Last(), 10))
		q.Set("epoch", v.epoch)
	}
	u := v.wsURL
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	start := time.Now()
	c, res, err := v.dialer.DialContext(ctx, u, nil)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("dial: status %d: %w", res.StatusCode, err)
		}
		return nil, err
	}
	v.stats.connectTime.Record(time.Since(start))
	return c, nil
}

// drop closes the current connection abruptly (the reconnect storm).
func (v *viewer) drop() {
	v.mu.Lock()
	if v.conn != nil {
		_ = v.conn.NetConn().Close()
	}
	v.mu.Unlock()
}

// run keeps the viewer connected until ctx ends: reads every frame, and
// reconnects with since/epoch when the connection drops (redial is the
// reconnect storm of S2, or the server closing a slow consumer). connected
// is closed after the first welcome or failure. It returns when ctx ends or
// the first dial fails.
func (v *viewer) run(ctx context.Context, connected chan<- bool) {
	first := true
	report := func(ok bool) {
		if first {
			connected <- ok
			first = false
		}
	}
	for ctx.Err() == nil {
		c, err := v.dial(ctx)
		if err != nil {
			if ctx.Err() == nil {
				v.stats.failed.Add(1)
			}
			wasFirst := first
			report(false)
			if wasFirst || v.epoch == "" {
				return
			}
			select { // a reconnect that failed: back off and retry
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		if v.epoch != "" {
			v.stats.reconnected.Add(1)
		} else {
			v.stats.connected.Add(1)
		}
		v.stats.open.Add(1)
		v.mu.Lock()
		v.conn = c
		v.mu.Unlock()
		report(true)
		err = v.serve(ctx, c)
		v.stats.open.Add(-1)
		_ = c.Close()
		if ctx.Err() != nil {
			return
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == 4003 {
			v.stats.dropped.Add(1)
			return // kicked: do not come back
		}
		if !isDrop(err) {
			v.stats.dropped.Add(1)
			v.stats.noteDrop(err)
		}
	}
}

// isDrop tells a connection this tool closed on purpose (drop) apart from
// one the server closed.
func isDrop(err error) bool {
	return err != nil && strings.Contains(err.Error(), "use of closed network connection")
}

// serve reads until the connection ends; a chatter also sends chat at its
// interval from a goroutine it waits for.
func (v *viewer) serve(ctx context.Context, c *websocket.Conn) error {
	c.SetReadLimit(1 << 20)
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { // the way out of a blocked read: close on ctx end
		defer wg.Done()
		<-cctx.Done()
		_ = c.NetConn().Close()
	}()
	if v.chatEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.chat(cctx, c)
		}()
	}
	var buf []byte // reused: one read buffer per connection, not one allocation per frame
	for {
		data, err := readFrame(c, buf[:0])
		if err != nil {
			return err
		}
		buf = data
		v.stats.frames.Add(1)
		now := time.Now()
		for line := range bytes.SplitSeq(data, []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			if err := v.handle(line, now); err != nil {
				return err
			}
		}
	}
}

// readFrame reads the next data frame into buf (grown as needed) — the
// load tool reads up to 100k frames/s, so it must not allocate per frame.
func readFrame(c *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := c.NextReader()
	if err != nil {
		return nil, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// chat sends one message every chatEvery until ctx ends. The nonce carries
// the send time (L<unix ns>-<viewer>) for publish→receipt latency.
func (v *viewer) chat(ctx context.Context, c *websocket.Conn) {
	select {
	case <-ctx.Done():
		return
	case <-v.chatStop:
		return
	case <-v.chatStart:
	}
	select {
	case <-ctx.Done():
		return
	case <-v.chatStop:
		return
	case <-time.After(v.chatPhase):
	}
	t := time.NewTicker(v.chatEvery)
	defer t.Stop()
	for n := 0; ; n++ {
		now := time.Now()
		msg := fmt.Sprintf(`{"type":"chat","text":"load message %d from %d","nonce":"L%d-%d"}`, n, v.id, now.UnixNano(), v.id)
		_ = c.SetWriteDeadline(now.Add(5 * time.Second))
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			return
		}
		v.stats.chatSent.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-v.chatStop:
			return
		case <-t.C:
		}
	}
}

func wsURL(base, room string) string {
	u := strings.TrimRight(base, "/")
	u = strings.Replace(u, "http://", "ws://", 1)
	u = strings.Replace(u, "https://", "wss://", 1)
	return u + "/api/rooms/" + room + "/ws"
}

func newDialer() *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: 20 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024}
}
