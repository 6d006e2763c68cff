package chat

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"jobcast/live"
)

// Config tunes a Service. Zero fields take the defaults in brackets.
type Config struct {
	// AllowedOrigins are the browser origins ("https://jobs.example.org")
	// allowed besides same-origin (JOBCAST_ALLOWED_ORIGINS).
	AllowedOrigins []string

	MaxChatChars int      // characters per chat message [500]
	ChatRate     float64  // chat messages per second per user, all nodes [1]
	ChatBurst    int      // burst per user, all nodes [3]
	ScamPhrases  []string // extra phrases held for moderators
	// FrameRate caps client frames per second per connection (burst
	// twice that); a flood closes with 1008 [10].
	FrameRate    float64
	PingInterval time.Duration // server ping period [25 s]
	PongWait     time.Duration // drop a connection silent this long [60 s]
	WriteTimeout time.Duration // deadline of one write [10 s]
	ReadLimit    int           // largest client frame in bytes [4096]
	// SendQueueBytes bounds a connection's unsent events; past it the
	// connection is closed with CloseSlow [512 KiB].
	SendQueueBytes int
	MaxFrameBytes  int // largest server frame when batching events [32 KiB]
	// RingSize is how many recent events each room hub keeps in memory to
	// serve joins and recoveries without the broker [1000].
	RingSize         int
	PresenceInterval time.Duration // viewer count refresh [5 s]
	BrokerTimeout    time.Duration // one broker call on the hub path [5 s]
	// JoinTimeout bounds welcome + replay for one connection [10 s].
	JoinTimeout time.Duration

	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxChatChars, 500)
	def(&c.ChatBurst, 3)
	if c.ChatRate <= 0 {
		c.ChatRate = 1
	}
	if c.FrameRate <= 0 {
		c.FrameRate = 10
	}
	defD(&c.PingInterval, 25*time.Second)
	defD(&c.PongWait, 60*time.Second)
	defD(&c.WriteTimeout, 10*time.Second)
	def(&c.ReadLimit, 4096)
	def(&c.SendQueueBytes, 512<<10)
	def(&c.MaxFrameBytes, 32<<10)
	def(&c.RingSize, 1000)
	defD(&c.PresenceInterval, 5*time.Second)
	defD(&c.BrokerTimeout, 5*time.Second)
	defD(&c.JoinTimeout, 10*time.Second)
	return c
}

// Service is the real-time channel of one node: the WebSocket handler, the
// room hubs, and the publish/notify API other packages call. It implements
// live.Publisher and live.Notifier. Create it with New, start Run, stop with
// Close. Safe for concurrent use.
type Service struct {
	cfg      Config
	broker   Broker
	sessions live.Sessions
	rooms    live.Rooms
	snaps    live.Snapshotter
	log      *slog.Logger
	m        *metrics

	ctx    context.Context // cancelled by Close; owns hubs and connections
	cancel context.CancelFunc
	wg     sync.WaitGroup

	hubsMu sync.Mutex
	hubs   map[live.RoomID]*hub

	connsMu sync.Mutex
	conns   map[*conn]struct{}
	closed  bool

	kickMu   sync.Mutex
	onKicks  []live.Kicked
	kicks    []Notice // pending OnKick calls
	kickWake chan struct{}

	held heldSlot // SetHeldQueue (held.go)

	joinMu  sync.Mutex
	onJoins []func(live.RoomID, live.Identity) // OnJoin (joins.go)

	runDone chan struct{}
	running bool // Run was called (guarded by connsMu)
}

var (
	_ live.Publisher = (*Service)(nil)
	_ live.Notifier  = (*Service)(nil)
)

// New returns a Service over broker. It does not start anything; call Run.
func New(cfg Config, broker Broker, sessions live.Sessions, rooms live.Rooms, snaps live.Snapshotter, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg = cfg.withDefaults()
	return &Service{
		cfg: cfg, broker: broker, sessions: sessions, rooms: rooms, snaps: snaps, log: log,
		m:   newMetrics(cfg.Registerer, broker),
		ctx: ctx, cancel: cancel,
		hubs: map[live.RoomID]*hub{}, conns: map[*conn]struct{}{},
		runDone: make(chan struct{}), kickWake: make(chan struct{}, 1),
	}
}

// Run delivers broker traffic to the hubs and refreshes presence until ctx
// is done or Close is called. It blocks; call it once.
func (s *Service) Run(ctx context.Context) error {
	s.connsMu.Lock()
	if s.running {
		s.connsMu.Unlock()
		return errors.New("chat: Run called twice")
	}
	s.running = true
	s.connsMu.Unlock()
	defer close(s.runDone)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.ctx.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	kickDone := make(chan struct{})
	go func() { defer close(kickDone); s.kickLoop(ctx) }()
	defer func() { cancel(); <-kickDone }()
	errc := make(chan error, 1)
	go func() { errc <- s.broker.Run(ctx, brokerHandler{s}) }()
	t := time.NewTicker(s.cfg.PresenceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return <-errc
		case err := <-errc:
			return err
		case <-t.C:
			s.refreshPresence(ctx)
		}
	}
}

// Close closes every connection with CloseGoingAway (clients reconnect to
// another node and recover with since/epoch), stops the hubs and waits for
// every goroutine the Service started, including Run. Safe to call twice.
func (s *Service) Close() {
	s.connsMu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.connsMu.Unlock()
	for _, c := range conns {
		c.close(CloseGoingAway, "server shutting down; reconnect")
	}
	for _, c := range conns {
		<-c.done
	}
	s.cancel()
	s.wg.Wait()
	s.connsMu.Lock()
	running := s.running
	s.connsMu.Unlock()
	if running {
		<-s.runDone
	}
}

// Ready reports whether the broker answers (for /readyz).
func (s *Service) Ready(ctx context.Context) error { return s.broker.Ping(ctx) }

// refreshPresence publishes each hub's local count and hands the total
// back to the hub, which broadcasts it when it changed.
func (s *Service) refreshPresence(ctx context.Context) {
	s.hubsMu.Lock()
	hubs := make([]*hub, 0, len(s.hubs))
	for _, h := range s.hubs {
		if !h.closing {
			hubs = append(hubs, h)
		}
	}
	s.hubsMu.Unlock()
	for _, h := range hubs {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.BrokerTimeout)
		n, err := s.broker.Presence(cctx, h.room, int(h.local.Load()))
		cancel()
		if err != nil {
			s.log.Warn("chat: presence refresh failed", "room", h.room, "err", err)
			continue
		}
		h.post(action{kind: actViewers, n: n})
	}
}

// acquire returns the room's hub, creating and starting it if needed, and
// counts one more user of it. Pair with release.
func (s *Service) acquire(room live.RoomID) (*hub, error) {
	for {
		s.hubsMu.Lock()
		h := s.hubs[room]
		if h == nil {
			if s.ctx.Err() != nil {
				s.hubsMu.Unlock()
				return nil, errors.New("chat: service closed")
			}
			h = newHub(s, room)
			h.refs = 1
			s.hubs[room] = h
			s.wg.Add(1)
			go h.run()
			s.hubsMu.Unlock()
			return h, nil
		}
		if !h.closing {
			h.refs++
			s.hubsMu.Unlock()
			return h, nil
		}
		done := h.done
		s.hubsMu.Unlock()
		// The old hub is unsubscribing; wait so that subscribe and
		// unsubscribe of one room never overlap.
		select {
		case <-done:
		case <-s.ctx.Done():
			return nil, errors.New("chat: service closed")
		}
	}
}

func (s *Service) release(h *hub) {
	s.hubsMu.Lock()
	h.refs--
	if h.refs == 0 {
		h.closing = true
		h.post(action{kind: actStop})
	}
	s.hubsMu.Unlock()
}

// brokerHandler routes broker deliveries to hubs without blocking.
type brokerHandler struct{ s *Service }

func (b brokerHandler) hub(room live.RoomID) *hub {
	b.s.hubsMu.Lock()
	defer b.s.hubsMu.Unlock()
	return b.s.hubs[room]
}

func (b brokerHandler) Publication(p Publication) {
	if h := b.hub(p.Room); h != nil {
		h.post(action{kind: actPublication, pub: p})
	}
}

func (b brokerHandler) Resync(room live.RoomID) {
	if h := b.hub(room); h != nil {
		h.post(action{kind: actResync})
	}
}

// NoticesLost closes every signed-in connection of this node with
// CloseResync: a logout, ban or applicant notice sent while this node's
// subscription was down must not be silently missed. Their reconnect
// re-checks the session and bans (a lost logout or ban takes effect) and
// the welcome makes clients re-read what targeted notices carried (the
// employer's applicant feed, the seeker's recommendations). It closes the
// connections open now, hub members and those still joining alike, and not
// the reconnects that follow (which is why it does not go through the hubs'
// queues).
func (b brokerHandler) NoticesLost() {
	b.s.log.Warn("chat: notices may have been missed while the broker reconnected; signed-in connections resync")
	b.s.connsMu.Lock()
	for c := range b.s.conns {
		if c.user != "" {
			c.close(CloseResync, "notices may have been missed; reconnect")
		}
	}
	b.s.connsMu.Unlock()
}

func (b brokerHandler) Notice(n Notice) {
	s := b.s
	if n.Target == ToKick {
		// Callbacks are other packages' code: never on the broker
		// goroutine. kickLoop runs them.
		s.kickMu.Lock()
		if len(s.onKicks) > 0 {
			s.kicks = append(s.kicks, n)
			select {
			case s.kickWake <- struct{}{}:
			default:
			}
		}
		s.kickMu.Unlock()
	}
	if n.Room != "" {
		if h := b.hub(n.Room); h != nil {
			h.post(action{kind: actNotice, note: n})
		}
		return
	}
	s.hubsMu.Lock()
	hubs := make([]*hub, 0, len(s.hubs))
	for _, h := range s.hubs {
		hubs = append(hubs, h)
	}
	s.hubsMu.Unlock()
	for _, h := range hubs {
		h.post(action{kind: actNotice, note: n})
	}
}

// kickLoop calls the OnKick callbacks for kicks delivered by the broker,
// in order, outside every lock, until ctx is done.
func (s *Service) kickLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kickWake:
		}
		s.kickMu.Lock()
		kicks, fns := s.kicks, append([]live.Kicked(nil), s.onKicks...)
		s.kicks = nil
		s.kickMu.Unlock()
		for _, n := range kicks {
			for _, f := range fns {
				f(n.Room, n.User)
			}
		}
	}
}

// OnKick registers f to be called on this node for every kick (ban,
// logout) on any node, so media sessions can close too. f runs on the
// Service's kick goroutine (started by Run), never under a lock; it should
// return promptly. Safe to call at any time.
func (s *Service) OnKick(f live.Kicked) {
	s.kickMu.Lock()
	s.onKicks = append(s.onKicks, f)
	s.kickMu.Unlock()
}
