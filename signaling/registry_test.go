package signaling

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"jobcast/live"
)

// testRedis connects to the local Redis (JOBCAST_TEST_REDIS_URL or
// 127.0.0.1:6379) and returns a client and a key prefix of its own. It
// skips when Redis is absent, unless CI=true.
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	opts := &redis.Options{Addr: "127.0.0.1:6379"}
	if u := os.Getenv("JOBCAST_TEST_REDIS_URL"); u != "" {
		var err error
		if opts, err = redis.ParseURL(u); err != nil {
			t.Fatal(err)
		}
	}
	rdb := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis is required in CI: %v", err)
		}
		t.Skipf("Redis not reachable (%v); start redis-server to run this test", err)
	}
	prefix := "test:" + uuid.NewString() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if keys, err := rdb.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		_ = rdb.Close()
	})
	return rdb, prefix
}

// One contract, both twins.
func TestRegistryContract(t *testing.T) {
	twins := map[string]func(t *testing.T) Registry{
		"memory": func(*testing.T) Registry { return NewMemoryRegistry() },
		"redis": func(t *testing.T) Registry {
			rdb, prefix := testRedis(t)
			return NewRedisRegistry(rdb, prefix)
		},
	}
	for name, mk := range twins {
		t.Run(name, func(t *testing.T) {
			reg := mk(t)
			ctx := context.Background()
			room := live.NewID[live.RoomID]()
			const a, b = "http://node-a:8080", "http://node-b:8080"
			if n, err := reg.Lookup(ctx, room); err != nil || n != "" {
				t.Fatalf("empty lookup: %q %v", n, err)
			}
			if h, err := reg.Claim(ctx, room, a, 400*time.Millisecond); err != nil || h != a {
				t.Fatalf("first claim: %q %v", h, err)
			}
			if h, _ := reg.Claim(ctx, room, b, time.Second); h != a {
				t.Fatalf("competing claim won: %q", h)
			}
			if h, _ := reg.Claim(ctx, room, a, 400*time.Millisecond); h != a {
				t.Fatalf("refresh: %q", h)
			}
			if err := reg.Release(ctx, room, b); err != nil {
				t.Fatal(err)
			}
			if n, _ := reg.Lookup(ctx, room); n != a {
				t.Fatalf("another node's release removed the claim: %q", n)
			}
			eventually(t, 2*time.Second, "claim expiry", func() bool {
				n, _ := reg.Lookup(ctx, room)
				return n == ""
			})
			if h, _ := reg.Claim(ctx, room, b, time.Second); h != b {
				t.Fatalf("claim after expiry: %q", h)
			}
			if err := reg.Release(ctx, room, b); err != nil {
				t.Fatal(err)
			}
			if n, _ := reg.Lookup(ctx, room); n != "" {
				t.Fatalf("after release: %q", n)
			}
		})
	}
}

// Two nodes share Redis: the publisher is on node A; a viewer sent to node B
// is redirected (307) to A and plays; a WHIP to B is redirected too.
func TestTwoNodesRedirectViewer(t *testing.T) {
	rdb, prefix := testRedis(t)
	rooms, auth := newFakeRooms(), newFakeSessions()
	short := func(c *Config) { c.RegistryTTL = 900 * time.Millisecond }
	nodeA := newEnvWith(t, rooms, auth, NewRedisRegistry(rdb, prefix), short)
	nodeB := newEnvWith(t, rooms, auth, NewRedisRegistry(rdb, prefix), short)
	room := rooms.add("k")

	pub, a := publish(t, nodeA.url, room, "k")
	if pub == nil {
		t.Fatalf("publish on A: %d %s", a.status, a.body)
	}
	if !strings.HasPrefix(a.header.Get("Location"), nodeA.url+"/api/rooms/") {
		t.Fatalf("Location %q is not absolute on node A", a.header.Get("Location"))
	}
	// Raw request to B: 307 to the same path on A.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", nodeB.url+"/api/rooms/"+string(room)+"/whep", strings.NewReader(viewerOffer(t)))
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != nodeA.url+"/api/rooms/"+string(room)+"/whep" {
		t.Fatalf("WHEP on B: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	req, _ = http.NewRequest("POST", nodeB.url+"/api/rooms/"+string(room)+"/whip", strings.NewReader(publisherOffer(t)))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer k")
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != nodeA.url+"/api/rooms/"+string(room)+"/whip" {
		t.Fatalf("WHIP on B: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A real player sent to B follows the redirect and plays from A, even
	// after several TTLs (A keeps refreshing its claim).
	time.Sleep(1200 * time.Millisecond)
	v, a := watch(t, nodeB.url, room, "")
	if v == nil {
		t.Fatalf("viewer via B: %d %s", a.status, a.body)
	}
	if !strings.HasPrefix(v.location, nodeA.url) {
		t.Fatalf("viewer session %q not on node A", v.location)
	}
	eventually(t, 5*time.Second, "video via redirect", func() bool { return v.video.Load() > 10 && v.keyframes.Load() > 0 })
	if n := len(nodeB.srv.byID); n != 0 {
		t.Fatalf("node B holds %d sessions", n)
	}
}

type downRegistry struct{}

func (downRegistry) Claim(context.Context, live.RoomID, string, time.Duration) (string, error) {
	return "", errors.New("connection refused")
}
func (downRegistry) Lookup(context.Context, live.RoomID) (string, error) {
	return "", errors.New("connection refused")
}
func (downRegistry) Release(context.Context, live.RoomID, string) error {
	return errors.New("connection refused")
}

// With the shared registry down, a node neither guesses nor fails with a
// bare 500: WHIP and WHEP get 503 + Retry-After.
func TestRegistryDown(t *testing.T) {
	e := newEnvWith(t, newFakeRooms(), newFakeSessions(), downRegistry{}, nil)
	room := e.rooms.add("k")
	for _, ep := range []struct{ path, token, offer string }{
		{"whip", "k", publisherOffer(t)},
		{"whep", "", viewerOffer(t)},
	} {
		a := do(t, "POST", e.url+"/api/rooms/"+string(room)+"/"+ep.path, ep.token, "application/sdp", ep.offer)
		if a.status != 503 || errCode(a) != "media_registry_unavailable" || a.header.Get("Retry-After") == "" {
			t.Fatalf("%s with the registry down: %d %s", ep.path, a.status, a.body)
		}
	}
}
