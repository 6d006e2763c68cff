package signaling

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"

	"jobcast/httpx"
	"jobcast/live"
)

// Server is the WHIP/WHEP front and the SFU of one media node. Create it
// with New, mount it with Register, stop it with Close. All methods are safe
// for concurrent use.
type Server struct {
	cfg      Config
	rooms    live.Rooms
	sessions live.Sessions
	reg      Registry
	log      *slog.Logger
	m        metrics
	tr       *transport
	pubAPI   *webrtc.API
	viewAPI  func(*viewerRTCP) *webrtc.API // a viewer's own API (its RTCP handlers)
	certs    certSource                    // the DTLS certificate of every peer connection

	ctx    context.Context // cancelled by Close; parent of background work
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the server starts

	mu      sync.Mutex
	closed  bool
	media   map[live.RoomID]*mediaRoom
	byID    map[string]*session
	perUser map[string]int // viewer sessions per user id / client IP
	gen     uint64         // publisher generations
}

// New opens the media sockets (UDP mux and ICE-TCP) and returns a ready
// server. reg may be nil for a single node; with cfg.NodeURL set and a
// shared reg, rooms are claimed in reg and requests for rooms hosted
// elsewhere are redirected. log may be nil (slog.Default()).
func New(cfg Config, rooms live.Rooms, sessions live.Sessions, reg Registry, log *slog.Logger) (*Server, error) {
	if rooms == nil || sessions == nil {
		return nil, errors.New("signaling: rooms and sessions are required")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		reg = NewMemoryRegistry()
	}
	dlf := logging.NewDefaultLoggerFactory()
	dlf.DefaultLogLevel = logging.LogLevelError
	lf := &scopedLoggers{lf: dlf, m: map[string]logging.LeveledLogger{}}
	tr, err := openTransport(&cfg, lf)
	if err != nil {
		return nil, err
	}
	pub, view, err := newAPIs(&cfg, tr, lf)
	if err != nil {
		tr.close()
		return nil, err
	}
	s := &Server{
		cfg: cfg, rooms: rooms, sessions: sessions, reg: reg, log: log.With("component", "signaling"),
		tr: tr, pubAPI: pub, viewAPI: view,
		media: map[live.RoomID]*mediaRoom{}, byID: map[string]*session{}, perUser: map[string]int{},
	}
	if err := s.m.register(cfg.Registerer); err != nil {
		tr.close()
		return nil, fmt.Errorf("signaling metrics: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.NodeURL != "" {
		s.spawn(s.refreshLoop)
	}
	s.spawn(s.reportLoop)
	s.log.Info("media node ready", "udp_port", tr.udpPort(), "tcp_port", tr.tcpPort(), "node", cfg.NodeURL)
	return s, nil
}

// UDPPort is the UDP port all media uses (useful when Config.UDPPort was 0).
func (s *Server) UDPPort() int { return s.tr.udpPort() }

// TCPPort is the ICE-TCP port, or 0 when ICE-TCP is disabled.
func (s *Server) TCPPort() int { return s.tr.tcpPort() }

// Register mounts the WHIP/WHEP routes on r. It does not block.
func (s *Server) Register(r gin.IRouter) {
	r.POST("/api/rooms/:room/whip", s.postWHIP)
	r.OPTIONS("/api/rooms/:room/whip", s.preflight("POST, OPTIONS", "Accept-Post", mimeSDP))
	r.PATCH("/api/rooms/:room/whip/:session", s.patchSession(kindWHIP))
	r.DELETE("/api/rooms/:room/whip/:session", s.deleteSession(kindWHIP))
	r.OPTIONS("/api/rooms/:room/whip/:session", s.preflight("PATCH, DELETE, OPTIONS", "Accept-Patch", mimeSDPFrag))

	r.POST("/api/rooms/:room/whep", s.postWHEP)
	r.HEAD("/api/rooms/:room/whep", s.headWHEP)
	r.OPTIONS("/api/rooms/:room/whep", s.preflight("POST, HEAD, OPTIONS", "Accept-Post", mimeSDP))
	r.PATCH("/api/rooms/:room/whep/:session", s.patchSession(kindWHEP))
	r.DELETE("/api/rooms/:room/whep/:session", s.deleteSession(kindWHEP))
	r.OPTIONS("/api/rooms/:room/whep/:session", s.preflight("PATCH, DELETE, OPTIONS", "Accept-Patch", mimeSDPFrag))
}

// Kick closes the WHEP sessions of user in room (every room when room is
// ""), for bans and logout; it matches live.Kicked. It does not wait for the
// peer connections to finish closing.
func (s *Server) Kick(room live.RoomID, user live.UserID) {
	if user == "" {
		return
	}
	var victims []*session
	s.mu.Lock()
	for _, sess := range s.byID {
		if sess.kind == kindWHEP && sess.user == user && (room == "" || sess.room.id == room) {
			victims = append(victims, sess)
		}
	}
	s.mu.Unlock()
	for _, v := range victims {
		s.spawn(func(context.Context) { v.close("kicked") })
	}
}

// Close stops accepting sessions, closes every peer connection, releases
// this node's registry claims (rooms are not ended: their publishers may
// come back on another node) and closes the media sockets. It blocks until
// every goroutine of the server has returned.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	rooms := make([]*mediaRoom, 0, len(s.media))
	for _, r := range s.media {
		rooms = append(rooms, r)
	}
	sessions := make([]*session, 0, len(s.byID))
	for _, sess := range s.byID {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()

	s.cancel()
	for _, sess := range sessions {
		sess.close("server closing")
	}
	for _, r := range rooms {
		r.shutdown()
		if s.cfg.NodeURL != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := s.reg.Release(ctx, r.id, s.cfg.NodeURL); err != nil {
				s.log.Warn("media registry release failed", "room", r.id, "err", err)
			}
			cancel()
		}
	}
	s.wg.Wait()
	s.tr.close()
	return nil
}

// spawn runs fn in a goroutine owned by the server (waited for by Close).
// It reports false, without running fn, once the server is closed.
func (s *Server) spawn(fn func(ctx context.Context)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
	return true
}

// refreshLoop keeps this node's registry claims alive.
func (s *Server) refreshLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.RegistryTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		ids := make([]live.RoomID, 0, len(s.media))
		for id, r := range s.media {
			if r.hosting() {
				ids = append(ids, id)
			}
		}
		s.mu.Unlock()
		for _, id := range ids {
			cctx, cancel := context.WithTimeout(ctx, s.cfg.RegistryTTL/3)
			holder, err := s.reg.Claim(cctx, id, s.cfg.NodeURL, s.cfg.RegistryTTL)
			cancel()
			if err != nil {
				s.log.Warn("media registry refresh failed", "room", id, "err", err)
			} else if holder != s.cfg.NodeURL {
				s.log.Warn("media registry: another node claimed a room hosted here", "room", id)
			}
		}
	}
}

// fail answers with err in the JSON error shape (CORS headers included).
func (s *Server) fail(c *gin.Context, err error) {
	s.m.rejected.Add(1)
	if e, ok := live.AsError(err); ok && e.Kind == live.KindUnauthenticated {
		c.Header("WWW-Authenticate", `Bearer realm="jobcast"`)
	}
	httpx.Fail(c, err)
}

// redirect answers 307 to the same request on the node hosting the room.
func (s *Server) redirect(c *gin.Context, node string) {
	c.Header("Location", node+c.Request.URL.RequestURI())
	c.Status(http.StatusTemporaryRedirect)
	c.Abort()
}

// roomParam parses :room; a malformed id is an unknown room (404).
func roomParam(c *gin.Context) (live.RoomID, error) {
	id, err := live.ParseID[live.RoomID](c.Param("room"), "room id")
	if err != nil {
		return "", live.NotFound("room")
	}
	return id, nil
}

// loadRoom loads the room as seen by id, mapping storage's not-found.
func (s *Server) loadRoom(ctx context.Context, room live.RoomID, id live.Identity) (live.Room, live.RoomAccess, error) {
	r, acc, err := s.rooms.Access(ctx, room, id)
	if errors.Is(err, live.ErrNotFound) {
		return r, acc, live.NotFound("room")
	}
	return r, acc, err
}

func newToken() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func notLive() error {
	return &live.Error{Kind: live.KindUnavailable, Code: "room_not_live", Message: "the room is not live yet; retry shortly", RetryAfter: 5 * time.Second}
}

func roomEnded() error { return live.Conflict("room_ended", "the room has ended") }

// answer writes 201 with the SDP answer and the session headers.
func (s *Server) answer(c *gin.Context, sess *session, sdpAnswer string) {
	c.Header("Location", sess.location)
	c.Header("ETag", sess.etag)
	c.Header("Content-Type", mimeSDP)
	for _, l := range linkHeaders(s.cfg.ICEServers) {
		c.Writer.Header().Add("Link", l)
	}
	c.Status(http.StatusCreated)
	_, _ = c.Writer.WriteString(sdpAnswer)
}

func (s *Server) location(kind sessionKind, room live.RoomID, id string) string {
	return s.cfg.NodeURL + "/api/rooms/" + string(room) + "/" + kind.String() + "/" + id
}
