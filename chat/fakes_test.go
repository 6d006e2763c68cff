package chat

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"jobcast/live"
)

// fakeSessions maps tokens to identities.
type fakeSessions struct {
	mu     sync.Mutex
	tokens map[string]live.Identity
}

func (f *fakeSessions) IdentifyToken(ctx context.Context, token string) (live.Identity, error) {
	if token == "" {
		return live.Identity{}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.tokens[token]
	if !ok {
		return live.Identity{}, live.Unauthenticated()
	}
	return id, nil
}

// fakeRooms holds rooms and per-user access; tests change it while
// connections are open (as moderation would in the database).
type fakeRooms struct {
	mu     sync.Mutex
	rooms  map[live.RoomID]live.Room
	access map[live.UserID]live.RoomAccess
}

func (f *fakeRooms) Access(ctx context.Context, room live.RoomID, id live.Identity) (live.Room, live.RoomAccess, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rooms[room]
	if !ok {
		return live.Room{}, live.RoomAccess{}, live.NotFound("room")
	}
	a := f.access[id.UserID]
	a.Identity = id
	return r, a, nil
}
func (f *fakeRooms) CheckStreamKey(context.Context, live.RoomID, string) (bool, error) {
	return false, nil
}
func (f *fakeRooms) SetStatus(context.Context, live.RoomID, live.RoomStatus) (live.Room, error) {
	return live.Room{}, live.InvalidState("no", "not in tests")
}

func (f *fakeRooms) settings(room live.RoomID, fn func(*live.RoomSettings)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rooms[room]
	fn(&r.Settings)
	f.rooms[room] = r
}

func (f *fakeRooms) setAccess(user live.UserID, fn func(*live.RoomAccess)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.access[user]
	fn(&a)
	f.access[user] = a
}

type fakeSnaps struct{ rooms *fakeRooms }

func (f fakeSnaps) Snapshot(ctx context.Context, room live.RoomID) (live.RoomSnapshot, error) {
	f.rooms.mu.Lock()
	defer f.rooms.mu.Unlock()
	return live.RoomSnapshot{Room: f.rooms.rooms[room], Shelf: []live.JobCard{}, Exhibitors: []live.Org{}}, nil
}

// world is the shared state of a test: users, rooms and the broker factory.
type world struct {
	sessions *fakeSessions
	rooms    *fakeRooms
	room     live.RoomID
	users    map[string]live.UserID // token → user
}

func newWorld() *world {
	w := &world{
		sessions: &fakeSessions{tokens: map[string]live.Identity{}},
		rooms:    &fakeRooms{rooms: map[live.RoomID]live.Room{}, access: map[live.UserID]live.RoomAccess{}},
		users:    map[string]live.UserID{},
	}
	w.room = live.NewID[live.RoomID]()
	w.rooms.rooms[w.room] = live.Room{ID: w.room, OrgID: live.NewID[live.OrgID](), Title: "fair", Status: live.RoomLive, Settings: live.DefaultSettings()}
	return w
}

// user registers a signed-in user with token tok and access fn.
func (w *world) user(tok, name string, fn func(*live.RoomAccess)) live.UserID {
	id := live.NewID[live.UserID]()
	w.sessions.mu.Lock()
	w.sessions.tokens[tok] = live.Identity{UserID: id, Name: name}
	w.sessions.mu.Unlock()
	w.users[tok] = id
	w.rooms.setAccess(id, func(a *live.RoomAccess) {
		if fn != nil {
			fn(a)
		}
	})
	return id
}

// node is one Service behind its own HTTP server.
type node struct {
	svc *Service
	srv *httptest.Server
	url string
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startNode serves a Service over b on a loopback httptest server. lnWrap
// may wrap the listener (socket buffer sizes in the slow-consumer test).
func startNode(t testing.TB, w *world, b Broker, cfg Config, lnWrap func(net.Listener) net.Listener) *node {
	t.Helper()
	if cfg.PresenceInterval == 0 {
		cfg.PresenceInterval = 100 * time.Millisecond
	}
	svc := New(cfg, b, w.sessions, w.rooms, fakeSnaps{w.rooms}, quietLog())
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/api/rooms/:room/ws", svc.HandleWS)
	srv := httptest.NewUnstartedServer(r)
	if lnWrap != nil {
		srv.Listener = lnWrap(srv.Listener)
	}
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	t.Cleanup(func() {
		svc.Close()
		cancel()
		<-done
		srv.Close()
	})
	return &node{svc: svc, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

func (n *node) wsURL(room live.RoomID, query string) string {
	u := n.url + "/api/rooms/" + string(room) + "/ws"
	if query != "" {
		u += "?" + query
	}
	return u
}

// statusOf dials and returns the HTTP status of a refused upgrade (101 if
// it was accepted).
func statusOf(t *testing.T, url string, h http.Header) int {
	t.Helper()
	c, resp, err := dialer().Dial(url, h)
	if err == nil {
		c.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return resp.StatusCode
}
