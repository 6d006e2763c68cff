package chat

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"jobcast/live"
)

// conn is one WebSocket with goroutines owned by the Service: the reader
// (readLoop, started by serve once the client has joined) and, only while
// there is something to write, the writer (writeLoop), which writes
// everything except room broadcasts to an idle socket (the hub's fan-out
// writes those directly, direct.go). An idle connection has no writer
// goroutine: with 10,000 viewers that is 10,000 stacks fewer. Hubs and
// notices hand it encoded events through send, which never blocks: the
// queue is bounded in bytes and a client that falls behind is closed with
// CloseSlow instead of slowing the room.
type conn struct {
	s    *Service
	ws   *websocket.Conn
	room live.RoomID

	// fixed at upgrade
	id   live.Identity
	user live.UserID
	// acc is what the user is in the room, for routing targeted events
	// (staff, org members). Loaded at upgrade, refreshed on every chat
	// message and on RefreshAccess; read by the hub.
	acc    atomic.Pointer[connAccess]
	frames *rate.Limiter // client frames, against floods of pings or junk

	mu          sync.Mutex
	queue       []outItem
	spare       []outItem
	queued      int
	closing     bool
	closeCode   int
	closeReason string
	wstate      int             // wsIdle, wsDirect or wsWriter (direct.go)
	partial     []byte          // rest of a frame the direct path wrote partly; written first
	broken      bool            // a direct write failed: the writer ends the connection
	pingDue     bool            // the ping ticker fired while a direct write was in progress
	pongDue     bool            // the client pinged; the writer answers
	pongData    []byte          //
	raw         syscall.RawConn // nil: no direct path (not a plain socket)
	writing     bool            // a writer goroutine is running (it checks for more work before it stops)
	ended       bool            // the connection is over: no writer starts again
	pinger      *time.Timer     // sets pingDue every PingInterval
	done        chan struct{}   // closed when the connection is over (socket closed)
}

// connAccess is the routing-relevant part of a live.RoomAccess.
type connAccess struct {
	role  live.Role
	staff bool
	orgs  []live.OrgID
}

func (c *conn) setAccess(a live.RoomAccess) {
	c.acc.Store(&connAccess{role: a.Role(), staff: a.Identity.Admin || a.Host || a.Moderator, orgs: a.MemberOf})
}

func (c *conn) staff() bool { return c.acc.Load().staff }

func (c *conn) memberOf(org live.OrgID) bool {
	for _, o := range c.acc.Load().orgs {
		if o == org {
			return true
		}
	}
	return false
}

// outItem is one queued event: its encoded bytes (shared, never modified)
// and, for a room broadcast, the frame gorilla prepared once for every
// recipient, written as is when the event is alone in the queue.
type outItem struct {
	b     []byte
	pm    *websocket.PreparedMessage
	frame []byte // the whole text frame, for the direct path (direct.go)
}

// send queues one encoded event (shared bytes, never modified). It reports
// false if the connection is closing. Never blocks; safe for concurrent use.
func (c *conn) send(b []byte) bool { return c.sendItem(outItem{b: b}) }

// sendItem is send with the broadcast's prepared frame (pm may be nil).
func (c *conn) sendItem(it outItem) bool {
	b := it.b
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	if c.queued+len(b) > c.s.cfg.SendQueueBytes {
		c.closing, c.closeCode, c.closeReason = true, CloseSlow, "too slow: the send queue overflowed; reconnect with since"
		c.queue, c.queued = nil, 0
		c.mu.Unlock()
		c.s.m.slow.Inc()
		c.signal()
		return false
	}
	c.queue = append(c.queue, it)
	c.queued += len(b)
	c.mu.Unlock()
	c.signal()
	return true
}

// close asks the writer to send a close frame with code and reason (after
// what is already queued, unless the connection is slow) and to end the
// connection. The first call wins. Never blocks.
func (c *conn) close(code int, reason string) {
	c.mu.Lock()
	if !c.closing {
		c.closing, c.closeCode, c.closeReason = true, code, reason
	}
	c.mu.Unlock()
	c.signal()
}

// signal starts the writer unless it is running (it looks for more work
// before it stops) or the connection is over. Never blocks.
func (c *conn) signal() {
	c.mu.Lock()
	start := !c.writing && !c.ended
	if start {
		c.writing = true
		c.s.wg.Add(1) // the reader or the upgrade handler holds the group open meanwhile
	}
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// startPings arms the ping timer: every PingInterval the writer pings. A
// runtime timer, not a goroutine per connection.
func (c *conn) startPings() {
	c.mu.Lock()
	c.pinger = time.AfterFunc(c.s.cfg.PingInterval, c.pingDueNow)
	c.mu.Unlock()
}

func (c *conn) pingDueNow() {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.pingDue = true
	c.pinger.Reset(c.s.cfg.PingInterval) // under mu: the writer stops it under mu when the connection ends
	c.mu.Unlock()
	c.signal()
}

// writeLoop is the connection's only data writer, running while there is
// work. It drains the queue into frames of at most MaxFrameBytes (several
// events joined by '\n'), pings when due and, when closing, sends the close
// frame and closes the socket, which also ends the reader.
func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	if c.write() {
		return // idle: the next signal starts a writer again
	}
	c.mu.Lock()
	c.ended = true
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.mu.Unlock()
	_ = c.ws.Close()
	close(c.done)
}

// write does the writer's work until there is none left (true) or the
// connection is over (false).
func (c *conn) write() bool {
	for {
		c.mu.Lock()
		if c.wstate == wsDirect {
			c.writing = false
			c.mu.Unlock()
			return true // the direct write signals when it is done
		}
		c.wstate = wsWriter
		items := c.queue
		c.queue, c.spare = c.spare[:0], nil
		c.queued = 0
		partial, broken := c.partial, c.broken
		c.partial = nil
		pingDue, pongDue, pongData := c.pingDue, c.pongDue, c.pongData
		c.pingDue, c.pongDue, c.pongData = false, false, nil
		closing, code, reason := c.closing, c.closeCode, c.closeReason
		c.mu.Unlock()
		if broken {
			return false
		}
		if partial != nil { // always: a half-written frame would corrupt the stream
			if err := c.writePartial(partial); err != nil {
				return false
			}
		}
		if len(items) > 0 && !(closing && code == CloseSlow) {
			if err := c.writeFrames(items); err != nil {
				return false
			}
		}
		clear(items)
		if pongDue {
			if err := c.ws.WriteControl(websocket.PongMessage, pongData, time.Now().Add(c.s.cfg.WriteTimeout)); err != nil {
				return false
			}
		}
		if pingDue {
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.s.cfg.WriteTimeout)); err != nil {
				return false
			}
		}
		if closing {
			msg := websocket.FormatCloseMessage(code, reason)
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			return false
		}
		if c.raw != nil {
			// The direct path writes without a deadline of its own and
			// never waits; gorilla set one on every write above.
			_ = c.ws.NetConn().SetWriteDeadline(time.Time{})
		}
		c.mu.Lock()
		if c.spare == nil {
			c.spare = items[:0]
		}
		c.wstate = wsIdle
		more := len(c.queue) > 0 || c.partial != nil || c.closing || c.broken || c.pingDue || c.pongDue
		if !more {
			c.writing = false // decided under mu: a later signal starts a new writer
		}
		c.mu.Unlock()
		if !more {
			return true
		}
	}
}

// writeFrames writes items as text frames, joining consecutive events with
// '\n' up to MaxFrameBytes per frame. A lone broadcast event goes out as
// its prepared frame: one write of bytes framed once for the whole room,
// without copying it into a pooled buffer per connection.
func (c *conn) writeFrames(items []outItem) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	if len(items) == 1 && items[0].pm != nil {
		return c.ws.WritePreparedMessage(items[0].pm)
	}
	for len(items) > 0 {
		w, err := c.ws.NextWriter(websocket.TextMessage)
		if err != nil {
			return err
		}
		size := 0
		for i, it := range items {
			b := it.b
			if i > 0 && size+1+len(b) > c.s.cfg.MaxFrameBytes {
				items = items[i:]
				break
			}
			if i > 0 {
				if _, err := w.Write(newline); err != nil {
					return err
				}
				size++
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
			size += len(b)
			if i == len(items)-1 {
				items = nil
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

var newline = []byte{'\n'}

// readLoop reads client frames until the socket fails or closes.
func (c *conn) readLoop() {
	// Pings and closes are answered by the writer, the only goroutine
	// that writes (the direct path relies on it).
	c.ws.SetPingHandler(func(data string) error {
		// gorilla reads pings inside NextReader, past the frame limit
		// below: count them here (each one makes the writer run).
		if !c.frames.Allow() {
			c.close(websocket.ClosePolicyViolation, "too many frames")
			return errTooManyFrames
		}
		c.mu.Lock()
		c.pongDue, c.pongData = true, []byte(data)
		c.mu.Unlock()
		c.signal()
		return nil
	})
	c.ws.SetCloseHandler(func(code int, _ string) error {
		if code == websocket.CloseNoStatusReceived {
			code = CloseNormal
		}
		c.close(code, "")
		return nil
	})
	// The frame limit is enforced here rather than by gorilla's read
	// limit: gorilla would write the 1009 close frame itself, from this
	// goroutine, past the writer (only protocol errors still make it write).
	limit := int64(c.s.cfg.ReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.PongWait))
	})
	for {
		typ, data, err := readFrame(c.ws, limit)
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, errTooBig):
				c.close(CloseTooBig, "frame larger than 4 KiB")
			case errors.As(err, &ne) && ne.Timeout():
				c.close(CloseIdleTimeout, "no message or pong for too long")
			default:
				c.close(CloseNormal, "")
			}
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.PongWait))
		if !c.frames.Allow() {
			c.close(websocket.ClosePolicyViolation, "too many frames")
			return
		}
		if typ != websocket.TextMessage {
			c.send(errorEvent("bad_message", "send JSON text frames", ""))
			continue
		}
		c.s.handleClientMessage(c, data)
	}
}

var (
	errTooBig        = errors.New("chat: client frame over the read limit")
	errTooManyFrames = errors.New("chat: client frames over the rate limit")
)

// readFrame reads the next data message, at most limit bytes of it: a
// longer one is errTooBig (nothing more of it is read).
func readFrame(ws *websocket.Conn, limit int64) (int, []byte, error) {
	typ, r, err := ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return 0, nil, err
	}
	if int64(len(data)) > limit {
		return 0, nil, errTooBig
	}
	return typ, data, nil
}
