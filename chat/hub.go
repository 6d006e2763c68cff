package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"jobcast/live"
)

// hub is one room on one node. Its goroutine (run) is the single owner of
// the member set, the room position and the recent-event ring, so delivery
// order equals seq order with no lock on the fan-out path. Everything
// reaches it as an action through post, which never blocks; the hub itself
// only blocks on the broker while catching up (History/Position), when the
// room's order requires it.
type hub struct {
	s    *Service
	room live.RoomID

	qmu  sync.Mutex
	q    []action
	wake chan struct{}

	// guarded by s.hubsMu
	refs    int
	closing bool
	done    chan struct{}

	local atomic.Int64 // member count, read by the presence loop

	// owned by run
	members  map[*conn]struct{}
	list     []*conn  // members as a slice for the fan-out; nil when members changed
	out      [][]byte // events delivered in this batch, not yet broadcast (queueOut)
	outBytes int
	synced   bool
	pos      Position
	ring     ring
	viewers  int
	waiting  []chan<- joinInfo
	retry    *time.Timer
}

type actionKind int

const (
	actPublication actionKind = iota
	actNotice
	actResync
	actQuery
	actJoin
	actLeave
	actViewers
	actStop
)

type action struct {
	kind  actionKind
	pub   Publication
	note  Notice
	c     *conn
	join  *joinReq
	query chan<- joinInfo
	n     int
}

// joinInfo answers a query: the hub's position once it is in sync.
type joinInfo struct {
	pos     Position
	viewers int
	err     error
}

type joinResult int

const (
	joinOK joinResult = iota
	joinNeedHistory
	joinEpochChanged
)

// joinReq asks the hub to add c, first queueing welcome and then every
// event after start (from prefix, then the ring) so that c continues
// exactly where the welcome says, with no gap and no duplicate.
type joinReq struct {
	c       *conn
	start   uint64
	epoch   string
	prefix  []Publication
	welcome []byte
	reply   chan joinResult
}

func newHub(s *Service, room live.RoomID) *hub {
	return &hub{s: s, room: room, wake: make(chan struct{}, 1), done: make(chan struct{}),
		members: map[*conn]struct{}{}, ring: newRing(s.cfg.RingSize)}
}

// post queues a for the hub goroutine. Never blocks.
func (h *hub) post(a action) {
	h.qmu.Lock()
	h.q = append(h.q, a)
	h.qmu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hub) run() {
	defer h.s.wg.Done()
	defer h.exit()
	if err := h.s.broker.Subscribe(h.s.ctx, h.room); err != nil {
		h.s.log.Warn("chat: subscribe failed; waiting for the broker to resubscribe", "room", h.room, "err", err)
	}
	var batch []action
	for {
		select {
		case <-h.wake:
		case <-h.s.ctx.Done():
			return
		}
		h.qmu.Lock()
		batch, h.q = h.q, batch[:0]
		h.qmu.Unlock()
		for i := range batch {
			if batch[i].kind != actPublication {
				h.flushOut() // events before anything that sends or changes members
			}
			if h.handle(&batch[i]) {
				return
			}
			batch[i] = action{}
		}
		h.flushOut()
	}
}

// queueOut holds an event for the broadcast at the end of the hub's
// current batch: events that arrived together (the hub was behind) go out
// as one frame, one write per member instead of one per event.
func (h *hub) queueOut(b []byte) {
	if h.outBytes > 0 && h.outBytes+1+len(b) > h.s.cfg.MaxFrameBytes {
		h.flushOut()
	}
	h.out = append(h.out, b)
	h.outBytes += len(b) + 1
}

// flushOut broadcasts the held events, joined by '\n' when several.
func (h *hub) flushOut() {
	switch len(h.out) {
	case 0:
		return
	case 1:
		h.broadcast(h.out[0], 1)
	default:
		h.broadcast(bytes.Join(h.out, newline), len(h.out))
	}
	clear(h.out)
	h.out, h.outBytes = h.out[:0], 0
}

func (h *hub) exit() {
	if h.retry != nil {
		h.retry.Stop()
	}
	for _, w := range h.waiting {
		w <- joinInfo{err: errors.New("chat: room closed")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.s.broker.Unsubscribe(ctx, h.room); err != nil {
		h.s.log.Warn("chat: unsubscribe failed", "room", h.room, "err", err)
	}
	if _, err := h.s.broker.Presence(ctx, h.room, 0); err != nil {
		h.s.log.Warn("chat: presence removal failed", "room", h.room, "err", err)
	}
	h.s.hubsMu.Lock()
	if h.s.hubs[h.room] == h {
		delete(h.s.hubs, h.room)
	}
	h.s.hubsMu.Unlock()
	close(h.done)
}

// handle runs one action; it reports true when the hub must stop.
func (h *hub) handle(a *action) bool {
	switch a.kind {
	case actPublication:
		h.publication(a.pub)
	case actNotice:
		h.notice(a.note)
	case actResync:
		h.resync()
	case actQuery:
		if h.synced {
			a.query <- joinInfo{pos: h.pos, viewers: h.viewers}
		} else {
			h.waiting = append(h.waiting, a.query)
		}
	case actJoin:
		a.join.reply <- h.join(a.join)
	case actLeave:
		delete(h.members, a.c)
		h.list = nil
		h.local.Store(int64(len(h.members)))
	case actViewers:
		if a.n != h.viewers {
			h.viewers = a.n
			h.broadcast(mustEphemeral(live.EvViewers, live.ViewersData{Count: a.n}), 1)
		}
	case actStop:
		return true
	}
	return false
}

func (h *hub) publication(p Publication) {
	if !h.synced {
		return // the pending Resync reads the position after subscribing
	}
	if p.Epoch == h.pos.Epoch {
		if p.Seq <= h.pos.Seq {
			return // already delivered (history catch-up overlapped)
		}
		if p.Seq == h.pos.Seq+1 {
			h.deliver(p)
			h.pos.Seq = p.Seq
			return
		}
	}
	h.catchUp()
}

// resync handles (re)established subscriptions: the first one reads the
// position, later ones catch up from history.
func (h *hub) resync() {
	if h.synced {
		h.catchUp()
		return
	}
	ctx, cancel := context.WithTimeout(h.s.ctx, h.s.cfg.BrokerTimeout)
	pos, err := h.s.broker.Position(ctx, h.room)
	cancel()
	if err != nil {
		h.s.log.Warn("chat: reading room position failed; retrying", "room", h.room, "err", err)
		h.scheduleResync()
		return
	}
	h.synced, h.pos = true, pos
	h.ring.reset()
	for _, w := range h.waiting {
		w <- joinInfo{pos: h.pos, viewers: h.viewers}
	}
	h.waiting = nil
}

// catchUp reads what the hub missed from history and delivers it in
// order. If history cannot fill the gap, every member is told to reconnect
// (their recovery then answers recovered:false with a fresh snapshot) — a
// client never silently misses an event.
func (h *hub) catchUp() {
	ctx, cancel := context.WithTimeout(h.s.ctx, h.s.cfg.BrokerTimeout)
	pubs, pos, err := h.s.broker.History(ctx, h.room, h.pos.Seq, h.pos.Epoch)
	cancel()
	switch {
	case err == nil:
		for _, p := range pubs {
			if p.Seq > h.pos.Seq {
				h.deliver(p)
				h.pos.Seq = p.Seq
			}
		}
		if pos.Seq > h.pos.Seq {
			h.pos.Seq = pos.Seq // nothing else was published in between
		}
	case errors.Is(err, ErrUnrecoverable):
		h.s.log.Warn("chat: room history lost; members must resync", "room", h.room)
		h.closeAll(CloseResync, "room history was lost; reconnect")
		h.pos = pos
		h.ring.reset()
	default:
		h.s.log.Warn("chat: history read failed; members must resync", "room", h.room, "err", err)
		h.closeAll(CloseResync, "event stream interrupted; reconnect")
		h.synced = false
		h.ring.reset()
		h.scheduleResync()
	}
}

func (h *hub) scheduleResync() {
	if h.retry != nil {
		h.retry.Stop()
	}
	h.retry = time.AfterFunc(time.Second, func() { h.post(action{kind: actResync}) })
}

func (h *hub) deliver(p Publication) {
	h.ring.push(p)
	if p.Type == live.EvChatDeleted {
		var d live.ChatDeletedData
		if json.Unmarshal(eventData(p.Data), &d) == nil && d.Seq != p.Seq {
			h.ring.replace(d.Seq, live.EvChatDeleted, tombstone(d.Seq, time.Now()))
		}
	}
	h.queueOut(p.Data)
}

// broadcast sends b (n events) to every member.
func (h *hub) broadcast(b []byte, n int) {
	it := outItem{b: b}
	if len(h.members) > 1 {
		// Framed once for every member (server frames are not masked).
		it.pm, _ = websocket.NewPreparedMessage(websocket.TextMessage, b)
		it.frame = textFrame(b)
	}
	if h.list == nil {
		h.list = make([]*conn, 0, len(h.members))
		for c := range h.members {
			h.list = append(h.list, c)
		}
	}
	fanOut(h.list, it)
	h.s.m.delivered.Add(float64(n * len(h.members)))
}

func (h *hub) closeAll(code int, reason string) {
	h.flushOut()
	for c := range h.members {
		c.close(code, reason)
	}
	clear(h.members)
	h.list = nil
	h.local.Store(0)
}

func (h *hub) notice(n Notice) {
	if n.Room != "" && n.Room != h.room {
		return
	}
	var kicked int
	for c := range h.members {
		var match bool
		switch n.Target {
		case ToRoom:
			match = true
		case ToUser, ToKick, ToRefresh:
			match = c.user != "" && c.user == n.User
		case ToOrg:
			match = c.memberOf(n.Org)
		case ToStaff:
			match = c.staff()
		}
		if !match {
			continue
		}
		if n.Target == ToRefresh {
			h.s.refreshAccess(c)
			continue
		}
		if len(n.Event) > 0 {
			c.send(n.Event)
			h.s.m.delivered.Inc()
		}
		if n.Target == ToKick {
			reason := n.Reason
			if reason == "" {
				reason = "removed from the room"
			}
			c.close(CloseKicked, reason)
			delete(h.members, c)
			h.list = nil
			kicked++
		}
	}
	if kicked > 0 {
		h.local.Store(int64(len(h.members)))
	}
}

// join adds r.c if the hub can give it every event after r.start.
func (h *hub) join(r *joinReq) joinResult {
	if !h.synced || r.epoch != h.pos.Epoch || r.start > h.pos.Seq {
		return joinEpochChanged
	}
	cur := r.start
	var tail [][]byte
	for _, p := range r.prefix {
		if p.Seq == cur+1 && p.Seq <= h.pos.Seq {
			tail = append(tail, p.Data)
			cur = p.Seq
		}
	}
	if cur < h.pos.Seq {
		evs, ok := h.ring.since(cur)
		if !ok {
			return joinNeedHistory
		}
		for _, p := range evs {
			tail = append(tail, p.Data)
			cur = p.Seq
		}
	}
	if cur != h.pos.Seq {
		return joinNeedHistory
	}
	if !r.c.send(r.welcome) {
		return joinOK // closing already; the connection goroutine notices
	}
	for _, b := range tail {
		r.c.send(b)
	}
	h.members[r.c] = struct{}{}
	h.list = nil
	h.local.Store(int64(len(h.members)))
	return joinOK
}

// eventData returns the "data" value of an envelope: everything after the
// first `,"data":` (type, seq and at come before it and cannot contain it)
// up to the envelope's closing brace.
func eventData(env []byte) []byte {
	i := bytes.Index(env, []byte(`,"data":`))
	if i < 0 || len(env) == 0 {
		return nil
	}
	return env[i+len(`,"data":`) : len(env)-1]
}
