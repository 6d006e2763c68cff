package chat

import (
	"encoding/binary"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// The direct path: a room broadcast is framed once (server frames are not
// masked, so every member gets the same bytes) and the hub's fan-out writes
// that frame straight to each idle socket with one non-blocking write —
// no writer goroutine woken per connection per event. A connection that is
// busy (its writer is writing, or events are queued), or whose socket takes
// only part of the frame, goes through its queue and writer as before, so
// order, the byte-bounded queue and the slow-consumer cut (4001) hold.
//
// While a direct write is in progress the writer stays away (wstate); a
// frame the socket took only partly is finished by the writer before
// anything else. gorilla itself writes from the reader goroutine only for
// pings and closes, which readLoop routes to the writer, and for protocol
// errors of a misbehaving client that is being closed anyway.

const (
	wsIdle   = iota // nobody is writing; the socket has no write deadline
	wsDirect        // a fan-out worker is writing one frame
	wsWriter        // the writer goroutine is writing
)

// textFrame returns a final, unmasked text frame holding payload.
func textFrame(payload []byte) []byte {
	n := len(payload)
	var hdr []byte
	switch {
	case n <= 125:
		hdr = []byte{0x81, byte(n)}
	case n <= 0xFFFF:
		hdr = []byte{0x81, 126, 0, 0}
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
	default:
		hdr = make([]byte, 10)
		hdr[0], hdr[1] = 0x81, 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
	}
	return append(hdr, payload...)
}

// rawConn returns the socket's raw handle for non-blocking writes, or nil
// when the connection is not a plain socket (the direct path is then off).
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// writeNow makes one non-blocking attempt to write frame and reports how
// many bytes the socket took.
func (c *conn) writeNow(frame []byte) (int, error) {
	var n int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), frame)
			if werr == syscall.EINTR {
				continue
			}
			if werr == syscall.EAGAIN {
				n, werr = 0, nil
			}
			return true
		}
	})
	if n < 0 {
		n = 0
	}
	if err != nil {
		return n, err
	}
	return n, werr
}

// sendDirect delivers one broadcast item: written now when the connection
// is idle, queued for the writer otherwise.
func (c *conn) sendDirect(it outItem) {
	c.mu.Lock()
	if c.raw == nil || c.closing || c.wstate != wsIdle || len(c.queue) > 0 || c.partial != nil || c.pingDue || c.pongDue {
		c.mu.Unlock()
		c.sendItem(it)
		return
	}
	c.wstate = wsDirect
	c.mu.Unlock()
	n, err := c.writeNow(it.frame)
	c.mu.Lock()
	c.wstate = wsIdle
	wake := len(c.queue) > 0 || c.closing || c.pingDue || c.pongDue
	switch {
	case err != nil:
		c.broken, wake = true, true
	case n == 0:
		// The socket is full: queue the event as usual (counted against
		// the send queue; the writer waits for the socket).
		c.mu.Unlock()
		c.sendItem(it)
		return
	case n < len(it.frame):
		c.partial, wake = it.frame[n:], true
	}
	c.mu.Unlock()
	if wake {
		c.signal()
	}
}

// fanOut sends it to every member, split over up to GOMAXPROCS goroutines
// for large rooms; it returns when every member has it written or queued.
func fanOut(members []*conn, it outItem) {
	const perWorker = 1024
	if it.frame == nil {
		for _, c := range members {
			c.sendItem(it)
		}
		return
	}
	workers := min(runtime.GOMAXPROCS(0), (len(members)+perWorker-1)/perWorker)
	if workers <= 1 {
		for _, c := range members {
			c.sendDirect(it)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (len(members) + workers - 1) / workers
	for i := chunk; i < len(members); i += chunk {
		part := members[i:min(i+chunk, len(members))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range part {
				c.sendDirect(it)
			}
		}()
	}
	for _, c := range members[:chunk] {
		c.sendDirect(it)
	}
	wg.Wait()
}

// writePartial finishes a frame the direct path wrote partly (blocking,
// within WriteTimeout).
func (c *conn) writePartial(rest []byte) error {
	nc := c.ws.NetConn()
	_ = nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	_, err := nc.Write(rest)
	return err
}
