package signaling

import (
	"errors"
	"net"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchSize is the most packets one sendmmsg carries; batchBufSize is the
// largest packet queued (bigger ones are written at once).
const (
	batchSize    = 128
	batchBufSize = 1500
)

// batchConn wraps the media UDP socket so that media leaves in sendmmsg
// batches. WriteTo only queues the packet; the queue is written
//
//   - by the writer whose packet fills it (batchSize packets),
//   - by flush, which the fan-out shards call after writing one packet to
//     all their viewers (so a fan-out of N viewers costs ~N/batchSize system
//     calls and no extra goroutine wake-up), and
//   - at the latest interval after the first packet of a batch was queued
//     (a timer armed only when a batch starts: STUN, DTLS, RTCP and NACK
//     retransmissions that no shard flushes).
//
// Batches leave in the order they were taken, so one viewer's packets are
// never reordered. Unlike pion/transport's BatchConn there is no flusher
// goroutine ticking every interval/2 while the node is idle or busy.
type batchConn struct {
	*net.UDPConn
	w interface {
		WriteBatch([]ipv4.Message, int) (int, error)
	}
	interval time.Duration
	free     chan *msgBatch // recycled batches

	mu     sync.Mutex // guards cur, armed, closed
	cur    *msgBatch
	armed  bool
	closed bool
	timer  *time.Timer

	sendMu sync.Mutex // held while a batch is written; taken before mu is released
}

type msgBatch struct {
	n    int
	msgs []ipv4.Message
	bufs [][]byte
}

func newMsgBatch() *msgBatch {
	b := &msgBatch{msgs: make([]ipv4.Message, batchSize), bufs: make([][]byte, batchSize)}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, 0, batchBufSize)
		b.msgs[i].Buffers = make([][]byte, 1)
	}
	return b
}

func newBatchConn(conn *net.UDPConn, interval time.Duration) *batchConn {
	c := &batchConn{UDPConn: conn, interval: interval, free: make(chan *msgBatch, 4), cur: newMsgBatch()}
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		c.w = ipv6.NewPacketConn(conn)
	} else {
		c.w = ipv4.NewPacketConn(conn)
	}
	c.timer = time.AfterFunc(time.Hour, c.timerFlush)
	c.timer.Stop()
	return c
}

// WriteTo queues b for addr. It never blocks on the network except when
// its packet fills the batch; errors of the batched write are not reported
// (UDP gives no delivery guarantee anyway).
func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if len(b) > batchBufSize {
		return c.UDPConn.WriteTo(b, addr) // not media; keep the batch buffers small
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	bt := c.cur
	i := bt.n
	bt.bufs[i] = append(bt.bufs[i][:0], b...)
	bt.msgs[i].Buffers[0] = bt.bufs[i]
	bt.msgs[i].Addr = addr
	bt.n++
	if bt.n == batchSize {
		c.sendLocked()
		return len(b), nil
	}
	if !c.armed {
		c.armed = true
		c.timer.Reset(c.interval)
	}
	c.mu.Unlock()
	return len(b), nil
}

// flush writes whatever is queued now.
func (c *batchConn) flush() {
	c.mu.Lock()
	c.sendLocked()
}

func (c *batchConn) timerFlush() {
	c.mu.Lock()
	c.armed = false
	c.sendLocked()
}

// sendLocked is called with mu held and releases it: it swaps in an empty
// batch, takes sendMu before releasing mu (so batches leave in order) and
// writes the full one.
func (c *batchConn) sendLocked() {
	bt := c.cur
	if bt.n == 0 {
		c.mu.Unlock()
		return
	}
	select {
	case c.cur = <-c.free:
	default:
		c.cur = newMsgBatch()
	}
	c.sendMu.Lock()
	c.mu.Unlock()
	msgs := bt.msgs[:bt.n]
	for len(msgs) > 0 {
		n, err := c.w.WriteBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				break
			}
			// The message at msgs[n] was refused (an unreachable
			// address, say): skip it, send the rest.
			n = max(n, 0) + 1
		}
		msgs = msgs[min(n, len(msgs)):]
	}
	c.sendMu.Unlock()
	for i := range bt.n {
		bt.msgs[i].Addr = nil
	}
	bt.n = 0
	select {
	case c.free <- bt:
	default:
	}
}

// Close writes what is queued and closes the socket.
func (c *batchConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	c.timer.Stop()
	c.sendLocked()
	return c.UDPConn.Close()
}
