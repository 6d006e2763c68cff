package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"jobcast/live"
)

func tokenQuery(tok string) string { return "token=" + tok }

func publishN(t *testing.T, svc *Service, room live.RoomID, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := svc.Publish(context.Background(), room, live.NewEvent(live.EvApplyCount, live.ApplyCountData{JobID: "j", Total: i})); err != nil {
			t.Fatal(err)
		}
	}
}

// checkContiguous asserts evs are exactly seqs from+1 … from+len(evs).
func checkContiguous(t *testing.T, evs []wireEvent, from uint64) {
	t.Helper()
	for i, ev := range evs {
		if ev.Seq != from+uint64(i)+1 {
			t.Fatalf("event %d has seq %d, want %d", i, ev.Seq, from+uint64(i)+1)
		}
	}
}

func TestTwoNodesShareRedis(t *testing.T) {
	rdb, prefix := testRedis(t)
	w := newWorld()
	w.user("alice", "Alice", nil)
	a := startNode(t, w, NewRedisBroker(rdb, RedisOptions{Prefix: prefix, Log: quietLog()}), Config{}, nil)
	b := startNode(t, w, NewRedisBroker(rdb, RedisOptions{Prefix: prefix, Log: quietLog()}), Config{}, nil)

	sender := connect(t, a.wsURL(w.room, tokenQuery("alice")), nil)
	viewers := []*client{connect(t, b.wsURL(w.room, ""), nil), connect(t, b.wsURL(w.room, ""), nil)}
	if sender.welcome.Role != live.RoleSeeker || viewers[0].welcome.Role != live.RoleVisitor {
		t.Fatalf("roles %s %s", sender.welcome.Role, viewers[0].welcome.Role)
	}
	if sender.welcome.Epoch != viewers[0].welcome.Epoch || sender.welcome.Snapshot == nil {
		t.Fatalf("welcome mismatch %+v %+v", sender.welcome, viewers[0].welcome)
	}
	for i := 0; i < 3; i++ {
		sender.chat(fmt.Sprintf("hello %d", i), fmt.Sprintf("n%d", i))
	}
	want := sender.ordered(3, 5*time.Second)
	for _, v := range viewers {
		got := v.ordered(3, 5*time.Second)
		for i := range got {
			if got[i].Seq != want[i].Seq || string(got[i].Data) != string(want[i].Data) {
				t.Fatalf("node B event %d = %d %s, node A %d %s", i, got[i].Seq, got[i].Data, want[i].Seq, want[i].Data)
			}
		}
		checkContiguous(t, got, v.welcome.Seq)
	}
	msg := decode[live.ChatData](t, want[0].Data)
	if msg.Text != "hello 0" || msg.Nonce != "n0" || msg.Name != "Alice" || msg.Role != live.RoleSeeker {
		t.Fatalf("chat = %+v", msg)
	}
	// The viewer count sums both nodes: 1 on A + 2 on B.
	for _, c := range []*client{sender, viewers[0]} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			ev := c.nextOf(time.Until(deadline), "viewers")
			if decode[live.ViewersData](t, ev.Data).Count == 3 {
				break
			}
		}
	}
}

func TestRecoveryReplaysExactlyTheMissedEvents(t *testing.T) {
	for _, kind := range brokerKinds {
		for _, keepHub := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/hub_kept_%v", kind.name, keepHub), func(t *testing.T) {
				w := newWorld()
				n := startNode(t, w, kind.make(t, HistoryConfig{})(), Config{}, nil)
				if keepHub {
					connect(t, n.wsURL(w.room, ""), nil) // keeps the hub (and its ring) alive
				}
				c := connect(t, n.wsURL(w.room, ""), nil)
				publishN(t, n.svc, w.room, 5)
				got := c.ordered(5, 5*time.Second)
				last := got[4].Seq
				epoch := c.welcome.Epoch
				c.ws.Close()
				if !keepHub {
					eventually(t, 5*time.Second, "hub closed", func() bool {
						n.svc.hubsMu.Lock()
						defer n.svc.hubsMu.Unlock()
						return len(n.svc.hubs) == 0
					})
				}
				publishN(t, n.svc, w.room, 100)
				c2 := connect(t, n.wsURL(w.room, fmt.Sprintf("since=%d&epoch=%s", last, epoch)), nil)
				if !c2.welcome.Recovered || c2.welcome.Seq != last || c2.welcome.Snapshot != nil {
					t.Fatalf("welcome = %+v", c2.welcome)
				}
				evs := c2.ordered(100, 5*time.Second)
				checkContiguous(t, evs, last)
				publishN(t, n.svc, w.room, 1)
				if ev := c2.ordered(1, 5*time.Second)[0]; ev.Seq != last+101 {
					t.Fatalf("live after replay: seq %d", ev.Seq)
				}
				// A stale epoch gets a snapshot instead.
				c3 := connect(t, n.wsURL(w.room, fmt.Sprintf("since=%d&epoch=%s", last, "0000")), nil)
				if c3.welcome.Recovered || c3.welcome.Snapshot == nil || c3.welcome.Seq != last+101 {
					t.Fatalf("stale epoch welcome = %+v", c3.welcome)
				}
			})
		}
	}
}

func TestUpgradeSecurity(t *testing.T) {
	w := newWorld()
	w.user("alice", "Alice", nil)
	w.user("banned", "B", func(a *live.RoomAccess) { a.Banned = true })
	n := startNode(t, w, NewMemoryBroker(HistoryConfig{}), Config{AllowedOrigins: []string{"https://fair.example.org"}}, nil)
	cookie := func(origin string) http.Header {
		h := http.Header{"Cookie": {"jobcast_session=alice"}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return h
	}
	cases := []struct {
		name   string
		url    string
		header http.Header
		want   int
	}{
		{"visitor", n.wsURL(w.room, ""), nil, 101},
		{"token in query", n.wsURL(w.room, "token=alice"), nil, 101},
		{"bearer header", n.wsURL(w.room, ""), http.Header{"Authorization": {"Bearer alice"}}, 101},
		{"cookie, allowed origin", n.wsURL(w.room, ""), cookie("https://fair.example.org"), 101},
		{"cookie, same origin", n.wsURL(w.room, ""), cookie(strings.Replace(n.srv.URL, "ws", "http", 1)), 101},
		{"cookie, foreign origin", n.wsURL(w.room, ""), cookie("https://evil.example.com"), 403},
		{"visitor, foreign origin", n.wsURL(w.room, ""), http.Header{"Origin": {"https://evil.example.com"}}, 403},
		{"null origin", n.wsURL(w.room, ""), cookie("null"), 403},
		{"invalid token", n.wsURL(w.room, "token=nope"), nil, 401},
		{"stale cookie is a visitor", n.wsURL(w.room, ""), http.Header{"Cookie": {"jobcast_session=nope"}}, 101},
		{"unknown room", n.wsURL(live.NewID[live.RoomID](), ""), nil, 404},
		{"bad room id", n.url + "/api/rooms/xyz/ws", nil, 400},
		{"bad since", n.wsURL(w.room, "since=abc&epoch=x"), nil, 400},
		{"banned", n.wsURL(w.room, "token=banned"), nil, 403},
	}
	t.Run("plain GET", func(t *testing.T) {
		res, err := http.Get(n.srv.URL + "/api/rooms/" + string(w.room) + "/ws")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.NewDecoder(res.Body).Decode(&body)
		if res.StatusCode != 400 || body.Error.Code != "not_websocket" {
			t.Fatalf("status %d code %q", res.StatusCode, body.Error.Code)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := statusOf(t, tc.url, tc.header); got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
		})
	}
}

// A node subscribes to a room's channel with its first local viewer and
// unsubscribes after the last one leaves.
func TestSubscriptionFollowsLocalViewers(t *testing.T) {
	rdb, prefix := testRedis(t)
	w := newWorld()
	n := startNode(t, w, NewRedisBroker(rdb, RedisOptions{Prefix: prefix, Log: quietLog()}), Config{}, nil)
	channel := prefix + "room:" + string(w.room)
	subs := func() int64 {
		m, err := rdb.PubSubNumSub(context.Background(), channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		return m[channel]
	}
	if subs() != 0 {
		t.Fatal("subscribed before any viewer")
	}
	c1 := connect(t, n.wsURL(w.room, ""), nil)
	c2 := connect(t, n.wsURL(w.room, ""), nil)
	if got := subs(); got != 1 {
		t.Fatalf("%d subscriptions with two viewers, want 1", got)
	}
	c1.ws.Close()
	time.Sleep(50 * time.Millisecond)
	if got := subs(); got != 1 {
		t.Fatalf("unsubscribed with a viewer left (%d)", got)
	}
	c2.ws.Close()
	eventually(t, 5*time.Second, "unsubscribe after the last viewer", func() bool { return subs() == 0 })
}
