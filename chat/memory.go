package chat

import (
	"context"
	"sync"
	"time"

	"jobcast/live"
)

// MemoryBroker is the in-process Broker: the embedded default for a single
// node. Peer returns another node's view of the same streams, which tests
// use to run several hubs in one process. Safe for concurrent use.
type MemoryBroker struct {
	st   *memState
	node string

	mu      sync.Mutex
	h       Handler
	started bool
	subs    map[live.RoomID]bool
}

// memState is shared by every peer of one MemoryBroker. Its lock is held
// while handlers are called: Handler methods are non-blocking by contract,
// and delivering under the lock keeps every node's order equal to seq order.
type memState struct {
	cfg   HistoryConfig
	mu    sync.Mutex
	rooms map[live.RoomID]*memRoom
	nodes map[*MemoryBroker]bool
	now   func() time.Time
	ops   int                  // room lookups since the last sweep
	tats  map[string]time.Time // Throttle buckets: theoretical arrival time
}

type memRoom struct {
	created  time.Time
	epoch    string
	top      uint64
	last     time.Time // latest publish, for TTL
	hist     []Publication
	deleted  map[uint64][]byte
	presence map[string]memPresence
}

type memPresence struct {
	n  int
	at time.Time
}

// NewMemoryBroker returns an in-process broker with history bounded by cfg
// (zero fields take defaults).
func NewMemoryBroker(cfg HistoryConfig) *MemoryBroker {
	st := &memState{cfg: cfg.withDefaults(), rooms: map[live.RoomID]*memRoom{}, nodes: map[*MemoryBroker]bool{}, now: time.Now, tats: map[string]time.Time{}}
	return st.newNode()
}

// Peer returns a broker for another node sharing b's streams, history,
// notices and presence.
func (b *MemoryBroker) Peer() *MemoryBroker { return b.st.newNode() }

func (st *memState) newNode() *MemoryBroker {
	b := &MemoryBroker{st: st, node: newEpoch(), subs: map[live.RoomID]bool{}}
	st.mu.Lock()
	st.nodes[b] = true
	st.mu.Unlock()
	return b
}

// room returns the room's state, starting a new epoch when it has none or
// its metadata expired. Caller holds st.mu.
func (st *memState) room(id live.RoomID) *memRoom {
	now := st.now()
	if st.ops++; st.ops >= 4096 {
		st.sweep(now)
	}
	r := st.rooms[id]
	if r != nil && !r.last.IsZero() && now.Sub(r.last) > st.cfg.MetaTTL {
		r = nil
	}
	if r == nil {
		r = &memRoom{created: now, epoch: newEpoch(), deleted: map[uint64][]byte{}, presence: map[string]memPresence{}}
		st.rooms[id] = r
	}
	if !r.last.IsZero() && now.Sub(r.last) > st.cfg.TTL {
		r.hist, r.deleted = nil, map[uint64][]byte{}
	}
	return r
}

// sweep forgets rooms idle past MetaTTL with nobody present, so the map
// does not grow with every room ever opened. Caller holds st.mu.
func (st *memState) sweep(now time.Time) {
	st.ops = 0
	for id, r := range st.rooms {
		last := r.last
		if last.IsZero() {
			last = r.created
		}
		if now.Sub(last) > st.cfg.MetaTTL && len(r.presence) == 0 {
			delete(st.rooms, id)
		}
	}
	for k, tat := range st.tats {
		if tat.Before(now) {
			delete(st.tats, k)
		}
	}
}

// Run implements Broker.
func (b *MemoryBroker) Run(ctx context.Context, h Handler) error {
	b.st.mu.Lock()
	b.mu.Lock()
	b.h, b.started = h, true
	rooms := make([]live.RoomID, 0, len(b.subs))
	for r := range b.subs {
		rooms = append(rooms, r)
	}
	b.mu.Unlock()
	for _, r := range rooms {
		h.Resync(r)
	}
	b.st.mu.Unlock()
	<-ctx.Done()
	b.st.mu.Lock()
	b.mu.Lock()
	b.h = nil
	b.mu.Unlock()
	delete(b.st.nodes, b)
	b.st.mu.Unlock()
	return nil
}

// handler returns the node's handler for room if it is subscribed. Caller
// holds st.mu.
func (b *MemoryBroker) handler(room live.RoomID) Handler {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room != "" && !b.subs[room] {
		return nil
	}
	return b.h
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(ctx context.Context, room live.RoomID) error {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	b.mu.Lock()
	b.subs[room] = true
	h := b.h
	b.mu.Unlock()
	if h != nil {
		h.Resync(room)
	}
	return nil
}

// Unsubscribe implements Broker.
func (b *MemoryBroker) Unsubscribe(ctx context.Context, room live.RoomID) error {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	b.mu.Lock()
	delete(b.subs, room)
	b.mu.Unlock()
	return nil
}

// Publish implements Broker.
func (b *MemoryBroker) Publish(ctx context.Context, room live.RoomID, typ live.EventType, tail []byte) (Publication, error) {
	if err := ctx.Err(); err != nil {
		return Publication{}, err
	}
	st := b.st
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.room(room)
	r.top++
	r.last = st.now()
	p := Publication{Room: room, Seq: r.top, Epoch: r.epoch, Type: typ, Data: envelope(typ, r.top, tail)}
	r.hist = append(r.hist, p)
	if over := len(r.hist) - st.cfg.Size; over > 0 {
		for _, old := range r.hist[:over] {
			delete(r.deleted, old.Seq)
		}
		r.hist = append(r.hist[:0:0], r.hist[over:]...)
	}
	for n := range st.nodes {
		if h := n.handler(room); h != nil {
			h.Publication(p)
		}
	}
	return p, nil
}

// Position implements Broker.
func (b *MemoryBroker) Position(ctx context.Context, room live.RoomID) (Position, error) {
	if err := ctx.Err(); err != nil {
		return Position{}, err
	}
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	r := b.st.room(room)
	return Position{Seq: r.top, Epoch: r.epoch}, nil
}

// History implements Broker.
func (b *MemoryBroker) History(ctx context.Context, room live.RoomID, since uint64, epoch string) ([]Publication, Position, error) {
	if err := ctx.Err(); err != nil {
		return nil, Position{}, err
	}
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	r := b.st.room(room)
	pos := Position{Seq: r.top, Epoch: r.epoch}
	if epoch != r.epoch || since > r.top {
		return nil, pos, ErrUnrecoverable
	}
	if since == r.top {
		return nil, pos, nil
	}
	if len(r.hist) == 0 || r.hist[0].Seq > since+1 {
		return nil, pos, ErrUnrecoverable
	}
	i := int(since + 1 - r.hist[0].Seq)
	out := make([]Publication, 0, len(r.hist)-i)
	for _, p := range r.hist[i:] {
		if t, ok := r.deleted[p.Seq]; ok {
			p.Type, p.Data = live.EvChatDeleted, t
		}
		out = append(out, p)
	}
	return out, pos, nil
}

// Remove implements Broker.
func (b *MemoryBroker) Remove(ctx context.Context, room live.RoomID, seq uint64, tombstone []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	r := b.st.room(room)
	if len(r.hist) == 0 || seq < r.hist[0].Seq || seq > r.top {
		return false, nil
	}
	p := r.hist[seq-r.hist[0].Seq]
	if p.Type != live.EvChat {
		return false, nil
	}
	if _, done := r.deleted[seq]; !done {
		r.deleted[seq] = append([]byte(nil), tombstone...)
	}
	return true, nil
}

// Notify implements Broker.
func (b *MemoryBroker) Notify(ctx context.Context, n Notice) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	for node := range b.st.nodes {
		if h := node.handler(""); h != nil {
			h.Notice(n)
		}
	}
	return nil
}

// Presence implements Broker.
func (b *MemoryBroker) Presence(ctx context.Context, room live.RoomID, local int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	st := b.st
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.room(room)
	now := st.now()
	if local > 0 {
		r.presence[b.node] = memPresence{n: local, at: now}
	} else {
		delete(r.presence, b.node)
	}
	total := 0
	for node, p := range r.presence {
		if now.Sub(p.at) > st.cfg.PresenceTTL {
			delete(r.presence, node)
			continue
		}
		total += p.n
	}
	return total, nil
}

// Throttle implements Broker (GCRA, same arithmetic as the Redis script).
func (b *MemoryBroker) Throttle(ctx context.Context, key string, every time.Duration, burst int) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	every = max(every, time.Millisecond)
	burst = max(burst, 1)
	st := b.st
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	if st.ops++; st.ops >= 4096 {
		st.sweep(now)
	}
	tat := st.tats[key]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(every)
	if allowAt := next.Add(-every * time.Duration(burst)); allowAt.After(now) {
		return allowAt.Sub(now), nil
	}
	st.tats[key] = next
	return 0, nil
}

// Ping implements Broker; the in-process broker is always reachable.
func (b *MemoryBroker) Ping(ctx context.Context) error { return ctx.Err() }
