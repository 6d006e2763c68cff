package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"jobcast/live"
)

// recorder is a Handler that records what a node receives.
type recorder struct {
	mu      sync.Mutex
	pubs    []Publication
	notices []Notice
	resyncs map[live.RoomID]int
	lost    int
}

func (r *recorder) Publication(p Publication) {
	r.mu.Lock()
	r.pubs = append(r.pubs, p)
	r.mu.Unlock()
}
func (r *recorder) Notice(n Notice) {
	r.mu.Lock()
	r.notices = append(r.notices, n)
	r.mu.Unlock()
}
func (r *recorder) NoticesLost() {
	r.mu.Lock()
	r.lost++
	r.mu.Unlock()
}
func (r *recorder) Resync(room live.RoomID) {
	r.mu.Lock()
	if r.resyncs == nil {
		r.resyncs = map[live.RoomID]int{}
	}
	r.resyncs[room]++
	r.mu.Unlock()
}
func (r *recorder) counts() (pubs, notices int, resyncs map[live.RoomID]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[live.RoomID]int{}
	for k, v := range r.resyncs {
		m[k] = v
	}
	return len(r.pubs), len(r.notices), m
}

// brokerFactory makes node views of one shared set of room streams.
type brokerFactory func(t *testing.T, cfg HistoryConfig) func() Broker

var brokerKinds = []struct {
	name string
	make brokerFactory
}{
	{"memory", func(t *testing.T, cfg HistoryConfig) func() Broker {
		first := NewMemoryBroker(cfg)
		used := false
		return func() Broker {
			if !used {
				used = true
				return first
			}
			return first.Peer()
		}
	}},
	{"redis", func(t *testing.T, cfg HistoryConfig) func() Broker {
		rdb, prefix := testRedis(t)
		return func() Broker {
			return NewRedisBroker(rdb, RedisOptions{Prefix: prefix, History: cfg, PingEvery: time.Second, Log: quietLog()})
		}
	}},
}

// runNode starts b.Run with a recorder until the test ends.
func runNode(t *testing.T, b Broker) *recorder {
	t.Helper()
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx, rec) }()
	t.Cleanup(func() { cancel(); <-done })
	return rec
}

func pub(t *testing.T, b Broker, room live.RoomID, typ live.EventType, data string) Publication {
	t.Helper()
	tail, err := encodeTail(time.Now(), []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Publish(context.Background(), room, typ, tail)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return p
}

// TestBrokerContract runs one table against both brokers.
func TestBrokerContract(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		cfg  HistoryConfig
		run  func(t *testing.T, node func() Broker)
	}{
		{"seq is contiguous and history replays exactly the missed events", HistoryConfig{}, func(t *testing.T, node func() Broker) {
			a := node()
			room := live.NewID[live.RoomID]()
			pos0, err := a.Position(ctx, room)
			if err != nil || pos0.Seq != 0 || pos0.Epoch == "" {
				t.Fatalf("position of a new room = %+v, %v", pos0, err)
			}
			for i := 1; i <= 120; i++ {
				p := pub(t, a, room, live.EvChat, fmt.Sprintf(`{"n":%d}`, i))
				if p.Seq != uint64(i) || p.Epoch != pos0.Epoch {
					t.Fatalf("publish %d got seq %d epoch %q", i, p.Seq, p.Epoch)
				}
				want := fmt.Sprintf(`{"type":"chat","seq":%d,"at":`, i)
				if string(p.Data[:len(want)]) != want {
					t.Fatalf("envelope %s", p.Data)
				}
			}
			pubs, pos, err := node().History(ctx, room, 20, pos0.Epoch)
			if err != nil || pos.Seq != 120 || len(pubs) != 100 {
				t.Fatalf("history = %d events, %+v, %v", len(pubs), pos, err)
			}
			for i, p := range pubs {
				if p.Seq != uint64(21+i) || string(eventData(p.Data)) != fmt.Sprintf(`{"n":%d}`, 21+i) {
					t.Fatalf("history[%d] = %d %s", i, p.Seq, p.Data)
				}
			}
			if pubs, _, err := a.History(ctx, room, 120, pos0.Epoch); err != nil || len(pubs) != 0 {
				t.Fatalf("history at top = %d, %v", len(pubs), err)
			}
			if _, _, err := a.History(ctx, room, 5, "other-epoch"); !errors.Is(err, ErrUnrecoverable) {
				t.Fatalf("wrong epoch: %v", err)
			}
			if _, _, err := a.History(ctx, room, 121, pos0.Epoch); !errors.Is(err, ErrUnrecoverable) {
				t.Fatalf("since past top: %v", err)
			}
		}},
		{"trimmed history is unrecoverable, recent is not", HistoryConfig{Size: 10}, func(t *testing.T, node func() Broker) {
			a := node()
			room := live.NewID[live.RoomID]()
			var last Publication
			for i := 0; i < 500; i++ {
				last = pub(t, a, room, live.EvPin, `{}`)
			}
			if _, _, err := a.History(ctx, room, 1, last.Epoch); !errors.Is(err, ErrUnrecoverable) {
				t.Fatalf("history from 1 after trimming: %v", err)
			}
			pubs, _, err := a.History(ctx, room, 495, last.Epoch)
			if err != nil || len(pubs) != 5 {
				t.Fatalf("recent history = %d, %v", len(pubs), err)
			}
		}},
		{"history expires after TTL and the gap is detected", HistoryConfig{TTL: 300 * time.Millisecond, MetaTTL: time.Hour}, func(t *testing.T, node func() Broker) {
			a := node()
			room := live.NewID[live.RoomID]()
			p := pub(t, a, room, live.EvChat, `{}`)
			time.Sleep(400 * time.Millisecond)
			if _, _, err := a.History(ctx, room, 0, p.Epoch); !errors.Is(err, ErrUnrecoverable) {
				t.Fatalf("expired history: %v", err)
			}
			p2 := pub(t, a, room, live.EvChat, `{}`)
			if p2.Seq != 2 || p2.Epoch != p.Epoch {
				t.Fatalf("seq after expiry %d %s", p2.Seq, p2.Epoch)
			}
		}},
		{"subscribed nodes get publications in order, with resync first", HistoryConfig{}, func(t *testing.T, node func() Broker) {
			a, b, c := node(), node(), node()
			ra, rb, rc := runNode(t, a), runNode(t, b), runNode(t, c)
			room := live.NewID[live.RoomID]()
			for _, n := range []Broker{a, b} {
				if err := n.Subscribe(ctx, room); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, 3*time.Second, "resync", func() bool {
				_, _, ma := ra.counts()
				_, _, mb := rb.counts()
				return ma[room] >= 1 && mb[room] >= 1
			})
			for i := 0; i < 50; i++ {
				pub(t, c, room, live.EvChat, `{}`)
			}
			eventually(t, 3*time.Second, "publications", func() bool {
				na, _, _ := ra.counts()
				nb, _, _ := rb.counts()
				return na == 50 && nb == 50
			})
			for _, r := range []*recorder{ra, rb} {
				r.mu.Lock()
				for i, p := range r.pubs {
					if p.Seq != uint64(i+1) || p.Room != room || p.Type != live.EvChat {
						t.Errorf("pub %d = %+v", i, p)
					}
				}
				r.mu.Unlock()
			}
			if n, _, _ := rc.counts(); n != 0 {
				t.Fatalf("unsubscribed node got %d", n)
			}
			if err := b.Unsubscribe(ctx, room); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // let the unsubscribe reach Redis
			pub(t, c, room, live.EvChat, `{}`)
			eventually(t, 3*time.Second, "a gets 51", func() bool { n, _, _ := ra.counts(); return n == 51 })
			if n, _, _ := rb.counts(); n != 50 {
				t.Fatalf("unsubscribed b got %d", n)
			}
		}},
		{"remove leaves a tombstone with the same seq", HistoryConfig{}, func(t *testing.T, node func() Broker) {
			a := node()
			room := live.NewID[live.RoomID]()
			p1 := pub(t, a, room, live.EvChat, `{"text":"bad"}`)
			p2 := pub(t, a, room, live.EvPin, `{}`)
			ok, err := a.Remove(ctx, room, p1.Seq, tombstone(p1.Seq, time.Now()))
			if err != nil || !ok {
				t.Fatalf("remove = %v, %v", ok, err)
			}
			if ok, _ := a.Remove(ctx, room, p2.Seq, tombstone(p2.Seq, time.Now())); ok {
				t.Fatal("removed a pin")
			}
			if ok, _ := a.Remove(ctx, room, 99, tombstone(99, time.Now())); ok {
				t.Fatal("removed a missing seq")
			}
			pubs, _, err := node().History(ctx, room, 0, p1.Epoch)
			if err != nil || len(pubs) != 2 {
				t.Fatalf("history %d %v", len(pubs), err)
			}
			if pubs[0].Seq != 1 || pubs[0].Type != live.EvChatDeleted || string(eventData(pubs[0].Data)) != `{"seq":1}` {
				t.Fatalf("tombstone = %+v %s", pubs[0], pubs[0].Data)
			}
			if pubs[1].Type != live.EvPin {
				t.Fatalf("second = %+v", pubs[1])
			}
		}},
		{"notices reach every running node", HistoryConfig{}, func(t *testing.T, node func() Broker) {
			a, b := node(), node()
			ra, rb := runNode(t, a), runNode(t, b)
			time.Sleep(100 * time.Millisecond) // subscriber sessions up
			n := Notice{Target: ToUser, User: live.NewID[live.UserID](), Event: []byte(`{"type":"dm"}`)}
			if err := a.Notify(ctx, n); err != nil {
				t.Fatal(err)
			}
			eventually(t, 3*time.Second, "notices", func() bool {
				_, na, _ := ra.counts()
				_, nb, _ := rb.counts()
				return na == 1 && nb == 1
			})
			rb.mu.Lock()
			got := rb.notices[0]
			rb.mu.Unlock()
			if got.Target != ToUser || got.User != n.User || string(got.Event) != string(n.Event) {
				t.Fatalf("notice = %+v", got)
			}
		}},
		{"presence sums nodes and forgets stale ones", HistoryConfig{PresenceTTL: 300 * time.Millisecond}, func(t *testing.T, node func() Broker) {
			a, b := node(), node()
			room := live.NewID[live.RoomID]()
			if n, err := a.Presence(ctx, room, 3); err != nil || n != 3 {
				t.Fatalf("a: %d %v", n, err)
			}
			if n, _ := b.Presence(ctx, room, 4); n != 7 {
				t.Fatalf("a+b = %d", n)
			}
			if n, _ := b.Presence(ctx, room, 0); n != 3 {
				t.Fatalf("after b left = %d", n)
			}
			time.Sleep(400 * time.Millisecond) // a "crashed": no refresh
			if n, _ := b.Presence(ctx, room, 1); n != 1 {
				t.Fatalf("stale a still counted: %d", n)
			}
		}},
	}
	for _, kind := range brokerKinds {
		t.Run(kind.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, kind.make(t, tc.cfg))
				})
			}
		})
	}
}

func TestBrokerThrottle(t *testing.T) {
	ctx := context.Background()
	for _, kind := range brokerKinds {
		t.Run(kind.name, func(t *testing.T) {
			node := kind.make(t, HistoryConfig{})
			a, b := node(), node()
			key := "rate:" + string(live.NewID[live.UserID]())
			// Burst 3 shared by both nodes, then one per second.
			for i, n := range []Broker{a, b, a} {
				if wait, err := n.Throttle(ctx, key, time.Second, 3); err != nil || wait != 0 {
					t.Fatalf("token %d refused: %v %v", i, wait, err)
				}
			}
			wait, err := b.Throttle(ctx, key, time.Second, 3)
			if err != nil || wait <= 0 || wait > time.Second {
				t.Fatalf("4th token: wait %v err %v", wait, err)
			}
			slow := "slow:" + key
			if wait, _ := a.Throttle(ctx, slow, 200*time.Millisecond, 1); wait != 0 {
				t.Fatal("first slow-mode token refused")
			}
			if wait, _ := b.Throttle(ctx, slow, 200*time.Millisecond, 1); wait == 0 {
				t.Fatal("slow mode not shared across nodes")
			}
			time.Sleep(250 * time.Millisecond)
			if wait, _ := b.Throttle(ctx, slow, 200*time.Millisecond, 1); wait != 0 {
				t.Fatalf("slow-mode token after the interval refused: %v", wait)
			}
		})
	}
}
