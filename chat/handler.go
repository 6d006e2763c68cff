package chat

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"jobcast/httpx"
	"jobcast/live"
)

var writePool sync.Pool

var upgrader = websocket.Upgrader{
	HandshakeTimeout: 10 * time.Second,
	// A small read buffer: client frames are small (4 KiB at most) and
	// rare; larger frames are read through it in pieces.
	ReadBufferSize:    512,
	WriteBufferSize:   8 << 10,
	WriteBufferPool:   &writePool, // idle connections hold no write buffer
	EnableCompression: false,
	// Origin is checked before the upgrade (HandleWS) with the room's
	// credentials rules; gorilla's same-origin check would refuse the
	// allowlist.
	CheckOrigin: func(*http.Request) bool { return true },
}

// HandleWS is the Gin handler of GET /api/rooms/:room/ws. Before the
// upgrade it refuses, in the JSON error shape: a malformed room id or
// recovery parameters (400), a browser Origin that is neither same-origin
// nor allowed when no explicit token is given (403 origin_not_allowed), an
// invalid token (401), an unknown room (404) and banned users (403 banned).
// Visitors without credentials connect read-only. After the upgrade the
// handler returns; the socket is served by goroutines the Service owns
// until it closes or Close is called.
func (s *Service) HandleWS(c *gin.Context) {
	r := c.Request
	room, ok := httpx.Param[live.RoomID](c, "room", "room id")
	if !ok {
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		httpx.Fail(c, live.Invalid("not_websocket", "this endpoint speaks WebSocket: send an upgrade request"))
		return
	}
	rec, err := parseRecovery(r.URL.Query())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	token := r.URL.Query().Get("token")
	if token == "" {
		token = httpx.BearerToken(r)
	}
	explicit := token != ""
	if !explicit && !s.originAllowed(r) {
		httpx.Fail(c, &live.Error{Kind: live.KindForbidden, Code: "origin_not_allowed", Message: "this origin may not open the room channel"})
		return
	}
	if !explicit {
		token = httpx.CookieToken(r)
	}
	var id live.Identity
	if token != "" {
		id, err = s.sessions.IdentifyToken(r.Context(), token)
		if err != nil {
			e, isLive := live.AsError(err)
			// A stale session cookie must not lock a viewer out of a
			// public room: they continue as a visitor.
			if explicit || !isLive || e.Kind != live.KindUnauthenticated {
				httpx.Fail(c, err)
				return
			}
			id = live.Identity{}
		}
	}
	rm, acc, err := s.rooms.Access(r.Context(), room, id)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if !acc.Can(live.ActWatch) {
		httpx.Fail(c, &live.Error{Kind: live.KindForbidden, Code: "banned", Message: "you are banned from this room"})
		return
	}
	if !s.enter() {
		httpx.Fail(c, &live.Error{Kind: live.KindUnavailable, Code: "shutting_down", Message: "this server is shutting down; try again", RetryAfter: time.Second})
		return
	}
	ws, err := upgrader.Upgrade(c.Writer, r, nil)
	if err != nil {
		s.wg.Done()
		return // gorilla has answered with an HTTP error
	}
	// The connection continues on a fresh goroutine owned by the Service:
	// the HTTP handler returns, so its deep stack, the request and the
	// server's buffers are freed (idle memory per connection).
	go func() {
		defer s.wg.Done()
		s.serve(ws, rm, acc, rec)
	}()
}

// enter registers a connection goroutine unless the Service is closing.
func (s *Service) enter() bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// originAllowed: no Origin (not a browser), same origin, or allowlisted.
func (s *Service) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// recovery is the ?since=&epoch= of a reconnecting client.
type recovery struct {
	set   bool
	since uint64
	epoch string
}

func parseRecovery(q url.Values) (recovery, error) {
	sinceStr, epoch := q.Get("since"), q.Get("epoch")
	if sinceStr == "" && epoch == "" {
		return recovery{}, nil
	}
	since, err := strconv.ParseUint(sinceStr, 10, 64)
	if err != nil || epoch == "" || len(epoch) > 64 {
		return recovery{}, &live.Error{Kind: live.KindInvalid, Code: "invalid_recovery", Message: "since must be a number and epoch the welcome's epoch, both or neither", Fields: []string{"since", "epoch"}}
	}
	return recovery{set: true, since: since, epoch: epoch}, nil
}

// serve runs one upgraded connection: hub join with welcome and replay
// (the writer starts when they are queued), then the read loop on a fresh goroutine (a small
// stack for the long idle life of the connection) that also cleans up.
func (s *Service) serve(ws *websocket.Conn, room live.Room, acc live.RoomAccess, rec recovery) {
	c := &conn{
		s: s, ws: ws, room: room.ID, id: acc.Identity, user: acc.Identity.UserID,
		done:   make(chan struct{}),
		frames: rate.NewLimiter(rate.Limit(s.cfg.FrameRate), 2*int(s.cfg.FrameRate)),
	}
	c.setAccess(acc)
	c.raw = rawConn(ws.NetConn())
	c.startPings() // before c is visible to Close and NoticesLost, which may end it
	s.connsMu.Lock()
	s.conns[c] = struct{}{}
	s.connsMu.Unlock()
	s.m.connections.Inc()
	var h *hub
	member := false
	cleanup := func() {
		if member {
			h.post(action{kind: actLeave, c: c})
		}
		if h != nil {
			s.release(h)
		}
		<-c.done
		s.connsMu.Lock()
		delete(s.conns, c)
		s.connsMu.Unlock()
		s.m.connections.Dec()
	}
	h, err := s.acquire(room.ID)
	if err != nil {
		h = nil
		c.close(CloseGoingAway, "server shutting down; reconnect")
		cleanup()
		return
	}
	if err := s.join(c, h, room, rec); err != nil {
		s.log.Warn("chat: join failed", "room", room.ID, "err", err)
		c.close(CloseInternal, "could not join the room; reconnect")
		cleanup()
		return
	}
	member = true
	s.joined(room.ID, acc.Identity)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.readLoop()
		c.close(CloseNormal, "")
		cleanup()
	}()
}

// join queues the welcome and every event the client needs, then makes c
// a member of the hub. A recovery that cannot be served without a gap falls
// back to a fresh snapshot with recovered:false.
func (s *Service) join(c *conn, h *hub, room live.Room, rec recovery) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.JoinTimeout)
	defer cancel()
	for attempt := 0; attempt < 3; attempt++ {
		q := make(chan joinInfo, 1)
		h.post(action{kind: actQuery, query: q})
		var info joinInfo
		select {
		case info = <-q:
		case <-ctx.Done():
			return ctx.Err()
		}
		if info.err != nil {
			return info.err
		}
		pos := info.pos
		w := welcomeData{Room: room.ID, Role: c.acc.Load().role, UserID: c.user, Epoch: pos.Epoch, Viewers: info.viewers,
			Limits: welcomeLimits{MaxChatChars: s.cfg.MaxChatChars, ChatPerSecond: s.cfg.ChatRate, ChatBurst: s.cfg.ChatBurst,
				SlowModeSeconds: room.Settings.SlowModeSeconds, MaxFrameBytes: s.cfg.MaxFrameBytes}}
		if rec.set && rec.epoch == pos.Epoch && rec.since <= pos.Seq {
			w.Seq, w.Recovered = rec.since, true
		} else {
			// The snapshot is read after the position, so every change
			// it may miss comes after w.Seq and is replayed.
			snap, err := s.snaps.Snapshot(ctx, room.ID)
			if err != nil {
				return err
			}
			w.Seq, w.Snapshot = pos.Seq, &snap
		}
		res, err := s.tryJoin(ctx, c, h, w)
		if err != nil {
			return err
		}
		switch res {
		case joinOK:
			if rec.set {
				result := "failed"
				if w.Recovered {
					result = "ok"
				}
				s.m.recoveries.WithLabelValues(result).Inc()
			}
			return nil
		case joinNeedHistory:
			// History no longer reaches back to since: fresh snapshot.
			rec.set = false
		}
		// joinEpochChanged: the stream restarted under us; ask again.
	}
	return errors.New("chat: could not catch up with the room stream")
}

// tryJoin offers the welcome to the hub, first alone (the hub's ring
// usually covers the gap), then with the missed events read from history.
func (s *Service) tryJoin(ctx context.Context, c *conn, h *hub, w welcomeData) (joinResult, error) {
	wb := mustEphemeral(live.EvWelcome, w)
	var prefix []Publication
	for try := 0; try < 3; try++ {
		jr := &joinReq{c: c, start: w.Seq, epoch: w.Epoch, prefix: prefix, welcome: wb, reply: make(chan joinResult, 1)}
		h.post(action{kind: actJoin, join: jr})
		var res joinResult
		select {
		case res = <-jr.reply:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if res != joinNeedHistory {
			return res, nil
		}
		pubs, _, err := s.broker.History(ctx, w.Room, w.Seq, w.Epoch)
		switch {
		case errors.Is(err, ErrUnrecoverable):
			return joinNeedHistory, nil
		case err != nil:
			return 0, err
		}
		prefix = pubs
	}
	return joinEpochChanged, nil
}
