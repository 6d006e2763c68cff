package chat

import (
	"context"
	"sync"
	"testing"
	"time"

	"jobcast/live"
)

// OnJoin fires once per signed-in connection after its welcome, never for
// visitors; Viewers sums every node's presence.
func TestOnJoinAndViewers(t *testing.T) {
	w := newWorld()
	b := NewMemoryBroker(HistoryConfig{})
	n1 := startNode(t, w, b, Config{}, nil)
	n2 := startNode(t, w, b.Peer(), Config{}, nil)
	var mu sync.Mutex
	var joins []live.UserID
	n1.svc.OnJoin(func(room live.RoomID, id live.Identity) {
		if room != w.room {
			t.Errorf("joined %s, want %s", room, w.room)
		}
		mu.Lock()
		joins = append(joins, id.UserID)
		mu.Unlock()
	})
	seeker := w.user("tok-seeker", "Seeker", nil)
	connect(t, n1.wsURL(w.room, tokenQuery("tok-seeker")), nil) // reads the welcome
	connect(t, n1.wsURL(w.room, ""), nil)                       // a visitor
	connect(t, n2.wsURL(w.room, ""), nil)                       // on the other node
	eventually(t, 2*time.Second, "one join", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(joins) == 1
	})
	mu.Lock()
	if joins[0] != seeker {
		t.Fatalf("join for %s, want the seeker", joins[0])
	}
	mu.Unlock()
	eventually(t, 3*time.Second, "3 viewers over both nodes", func() bool {
		v, err := n2.svc.Viewers(context.Background(), w.room)
		return err == nil && v == 3
	})
	if v, err := n1.svc.Viewers(context.Background(), live.NewID[live.RoomID]()); err != nil || v != 0 {
		t.Fatalf("empty room: %d %v", v, err)
	}
}
