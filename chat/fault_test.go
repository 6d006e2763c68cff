package chat

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"jobcast/live"
)

// privateRedis is a redis-server process of the test's own on a free
// loopback port, for tests that kill connections, flush or restart it.
type privateRedis struct {
	t    *testing.T
	bin  string
	port int
	cmd  *exec.Cmd
}

func (p *privateRedis) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", p.t.TempDir())
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *privateRedis) stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// ownRedis starts a private redis-server for tests that kill connections
// or flush data, so other tests never see it.
func ownRedis(t *testing.T) (*redis.Client, *privateRedis) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is required in CI")
		}
		t.Skip("redis-server not installed; skipping")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &privateRedis{t: t, bin: bin, port: l.Addr().(*net.TCPAddr).Port}
	l.Close()
	p.start()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(p.port)})
	t.Cleanup(func() {
		_ = rdb.Close()
		p.stop()
	})
	eventually(t, 5*time.Second, "redis-server up", func() bool { return rdb.Ping(context.Background()).Err() == nil })
	return rdb, p
}

// Redis restarted empty: the node's subscriber reconnects, the hub finds
// its epoch gone and asks clients to resync; recovery then answers
// recovered:false with a snapshot and the stream goes on.
func TestRedisRestartedEmpty(t *testing.T) {
	rdb, srv := ownRedis(t)
	w := newWorld()
	n := startNode(t, w, NewRedisBroker(rdb, RedisOptions{Prefix: "j:", Log: quietLog()}), Config{}, nil)
	c := connect(t, n.wsURL(w.room, ""), nil)
	publishN(t, n.svc, w.room, 5)
	last := c.ordered(5, 5*time.Second)[4].Seq
	srv.stop()
	srv.start()
	eventually(t, 10*time.Second, "redis back", func() bool { return rdb.Ping(context.Background()).Err() == nil })
	if code := c.closeCode(10 * time.Second); code != CloseResync {
		t.Fatalf("close code %d, want %d", code, CloseResync)
	}
	c2 := connect(t, n.wsURL(w.room, fmt.Sprintf("since=%d&epoch=%s", last, c.welcome.Epoch)), nil)
	if c2.welcome.Recovered || c2.welcome.Snapshot == nil || c2.welcome.Epoch == c.welcome.Epoch {
		t.Fatalf("welcome after restart = %+v", c2.welcome)
	}
	publishN(t, n.svc, w.room, 3)
	checkContiguous(t, c2.ordered(3, 5*time.Second), c2.welcome.Seq)
}

// A node whose pub/sub connection is killed while events flow must not
// leave a silent gap: every client ends with contiguous seqs.
func TestPubSubKilledWhileEventsFlow(t *testing.T) {
	rdb, _ := ownRedis(t)
	w := newWorld()
	n := startNode(t, w, NewRedisBroker(rdb, RedisOptions{Prefix: "j:", Log: quietLog()}), Config{}, nil)
	publisher := NewRedisBroker(rdb, RedisOptions{Prefix: "j:", Log: quietLog()}) // "another node"
	clients := make([]*client, 5)
	for i := range clients {
		clients[i] = connect(t, n.wsURL(w.room, ""), nil)
	}
	const total = 300
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < total; i++ {
			tail, _ := encodeTail(time.Now(), []byte(fmt.Sprintf(`{"n":%d}`, i)))
			if _, err := publisher.Publish(context.Background(), w.room, live.EvApplyCount, tail); err != nil {
				t.Error(err)
				return
			}
			if i%50 == 25 {
				if err := rdb.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
					t.Error(err)
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	for i, c := range clients {
		evs := c.ordered(total, 10*time.Second)
		checkContiguous(t, evs, c.welcome.Seq)
		t.Logf("client %d: %d contiguous events", i, len(evs))
	}
	if n.svc.broker.(*RedisBroker).Reconnects() == 0 {
		t.Fatal("the kill was not noticed")
	}
}

// FLUSHDB loses history: the hub sees the new epoch, asks clients to
// reconnect, and their recovery answers recovered:false with a snapshot.
func TestFlushedRedisStartsNewEpoch(t *testing.T) {
	rdb, _ := ownRedis(t)
	w := newWorld()
	n := startNode(t, w, NewRedisBroker(rdb, RedisOptions{Prefix: "j:", Log: quietLog()}), Config{}, nil)
	c := connect(t, n.wsURL(w.room, ""), nil)
	publishN(t, n.svc, w.room, 10)
	last := c.ordered(10, 5*time.Second)[9].Seq
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	publishN(t, n.svc, w.room, 1)
	if code := c.closeCode(5 * time.Second); code != CloseResync {
		t.Fatalf("close code %d, want %d", code, CloseResync)
	}
	c2 := connect(t, n.wsURL(w.room, fmt.Sprintf("since=%d&epoch=%s", last, c.welcome.Epoch)), nil)
	if c2.welcome.Recovered || c2.welcome.Snapshot == nil || c2.welcome.Epoch == c.welcome.Epoch {
		t.Fatalf("welcome after flush = %+v (old epoch %s)", c2.welcome, c.welcome.Epoch)
	}
	publishN(t, n.svc, w.room, 1)
	if ev := c2.ordered(1, 5*time.Second)[0]; ev.Seq != c2.welcome.Seq+1 {
		t.Fatalf("seq after flush %d, welcome %d", ev.Seq, c2.welcome.Seq)
	}
}

// Notices have no history: a logout, ban or applicant notice published while
// a node's subscription is down never reaches it. After the subscription is
// back the node closes every signed-in connection with CloseResync, so the
// reconnect re-checks the session (here revoked while the notice could not
// arrive) and clients re-read what notices carried; visitors, who receive
// nothing targeted, stay connected. The first subscription is not a loss.
func TestNoticesLostResyncSignedIn(t *testing.T) {
	rdb, _ := ownRedis(t)
	w := newWorld()
	w.user("alice", "Alice", nil)
	w.user("bob", "Bob", nil)
	n := startNode(t, w, NewRedisBroker(rdb, RedisOptions{Prefix: "j:", Log: quietLog()}), Config{}, nil)
	visitor := connect(t, n.wsURL(w.room, ""), nil)
	alice := connect(t, n.wsURL(w.room, "token=alice"), nil)
	bob := connect(t, n.wsURL(w.room, "token=bob"), nil)
	publishN(t, n.svc, w.room, 2)
	last := alice.ordered(2, 5*time.Second)[1].Seq
	bob.ordered(2, 5*time.Second)
	visitor.ordered(2, 5*time.Second)

	// Bob signs out while this node cannot hear the kick.
	w.sessions.mu.Lock()
	delete(w.sessions.tokens, "bob")
	w.sessions.mu.Unlock()
	if err := rdb.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{alice, bob} {
		if code := c.closeCode(10 * time.Second); code != CloseResync {
			t.Fatalf("signed-in close code %d, want %d", code, CloseResync)
		}
	}
	// Alice comes back without a gap; Bob's reconnect is refused.
	a2 := connect(t, n.wsURL(w.room, fmt.Sprintf("token=alice&since=%d&epoch=%s", last, alice.welcome.Epoch)), nil)
	if !a2.welcome.Recovered {
		t.Fatalf("alice's welcome after the resync = %+v", a2.welcome)
	}
	if _, res, err := dialer().Dial(n.wsURL(w.room, "token=bob"), nil); err == nil || res == nil || res.StatusCode != 401 {
		t.Fatalf("signed-out bob reconnected: err %v", err)
	}
	publishN(t, n.svc, w.room, 3)
	checkContiguous(t, a2.ordered(3, 5*time.Second), last)
	checkContiguous(t, visitor.ordered(3, 5*time.Second), last)
	if r := n.svc.broker.(*RedisBroker).Reconnects(); r == 0 {
		t.Fatal("the kill was not noticed")
	}
}
