package chat

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jobcast/live"
)

func errorOf(t *testing.T, c *client) live.ErrorData {
	t.Helper()
	return decode[live.ErrorData](t, c.nextOf(5*time.Second, "error").Data)
}

// chatNode starts one node with users: alice and bob (seekers), mod
// (moderator), host.
func chatNode(t *testing.T, cfg Config) (*world, *node) {
	w := newWorld()
	w.user("alice", "Alice", nil)
	w.user("bob", "Bob", nil)
	w.user("mod", "Mo", func(a *live.RoomAccess) { a.Moderator = true })
	w.user("host", "Hu", func(a *live.RoomAccess) { a.Host = true })
	return w, startNode(t, w, NewMemoryBroker(HistoryConfig{}), cfg, nil)
}

func TestChatRules(t *testing.T) {
	t.Run("visitor cannot chat", func(t *testing.T) {
		w, n := chatNode(t, Config{})
		c := connect(t, n.wsURL(w.room, ""), nil)
		c.chat("hi", "v1")
		if e := errorOf(t, c); e.Code != "sign_in_to_chat" || e.Nonce != "v1" {
			t.Fatalf("error = %+v", e)
		}
	})
	t.Run("5 KiB frame closes with 1009", func(t *testing.T) {
		w, n := chatNode(t, Config{})
		c := connect(t, n.wsURL(w.room, "token=alice"), nil)
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat","text":"`+strings.Repeat("a", 5<<10)+`"}`)); err != nil {
			t.Fatal(err)
		}
		if code := c.closeCode(5 * time.Second); code != websocket.CloseMessageTooBig {
			t.Fatalf("close code %d", code)
		}
	})
	t.Run("bad frames get error events", func(t *testing.T) {
		w, n := chatNode(t, Config{})
		c := connect(t, n.wsURL(w.room, "token=alice"), nil)
		_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`not json`))
		if e := errorOf(t, c); e.Code != "bad_message" {
			t.Fatalf("error = %+v", e)
		}
		c.sendJSON(map[string]any{"type": "chat", "text": "x", "html": "<b>"})
		if e := errorOf(t, c); e.Code != "bad_message" {
			t.Fatalf("unknown field: %+v", e)
		}
		c.sendJSON(map[string]any{"type": "dance"})
		if e := errorOf(t, c); e.Code != "unknown_type" {
			t.Fatalf("unknown type: %+v", e)
		}
		c.sendJSON(map[string]any{"type": "ping"})
		c.nextOf(5*time.Second, "pong")
		c.chat("   ", "e")
		if e := errorOf(t, c); e.Code != "empty_message" {
			t.Fatalf("empty: %+v", e)
		}
		c.chat(strings.Repeat("好", 501), "long")
		if e := errorOf(t, c); e.Code != "message_too_long" || e.Nonce != "long" {
			t.Fatalf("long: %+v", e)
		}
		c.chat(strings.Repeat("好", 500), "ok")
		if ev := c.nextOf(5*time.Second, "chat"); decode[live.ChatData](t, ev.Data).Nonce != "ok" {
			t.Fatalf("500 characters refused: %s", ev.Data)
		}
	})
	t.Run("flood is rate limited, others unaffected", func(t *testing.T) {
		w, n := chatNode(t, Config{})
		a := connect(t, n.wsURL(w.room, "token=alice"), nil)
		b := connect(t, n.wsURL(w.room, "token=bob"), nil)
		for i := 0; i < 10; i++ {
			a.chat("spam", "")
		}
		if e := errorOf(t, a); e.Code != "rate_limited" {
			t.Fatalf("error = %+v", e)
		}
		b.chat("still here", "b1")
		for {
			ev := b.nextOf(5*time.Second, "chat", "error")
			if ev.Type == "error" {
				t.Fatalf("bob refused: %s", ev.Data)
			}
			if decode[live.ChatData](t, ev.Data).Nonce == "b1" {
				break
			}
		}
	})
	t.Run("phone and ID numbers are masked", func(t *testing.T) {
		w, n := chatNode(t, Config{})
		a := connect(t, n.wsURL(w.room, "token=alice"), nil)
		v := connect(t, n.wsURL(w.room, ""), nil)
		a.chat("call me 138 1234 5678 or id 11010519491231002X", "m")
		msg := decode[live.ChatData](t, v.nextOf(5*time.Second, "chat").Data)
		if !msg.Masked || strings.Contains(msg.Text, "1234") || strings.Contains(msg.Text, "0519491231") {
			t.Fatalf("not masked: %+v", msg)
		}
		w.rooms.settings(w.room, func(s *live.RoomSettings) { s.MaskPII = false })
		time.Sleep(1100 * time.Millisecond) // rate limit
		a.chat("13812345678", "m2")
		if msg := decode[live.ChatData](t, v.nextOf(5*time.Second, "chat").Data); msg.Text != "13812345678" {
			t.Fatalf("masked with masking off: %+v", msg)
		}
	})
	t.Run("scam requests are held for staff only", func(t *testing.T) {
		w, n := chatNode(t, Config{})
		a := connect(t, n.wsURL(w.room, "token=alice"), nil)
		mod := connect(t, n.wsURL(w.room, "token=mod"), nil)
		v := connect(t, n.wsURL(w.room, ""), nil)
		a.chat("入职前先交押金 500 元, call 13812345678", "s")
		if e := errorOf(t, a); e.Code != "held_for_review" || e.Nonce != "s" {
			t.Fatalf("sender: %+v", e)
		}
		held := decode[heldData](t, mod.nextOf(5*time.Second, "chat.held").Data)
		if held.Message.UserID != w.users["alice"] || !strings.Contains(held.Message.Text, "押金") || strings.Contains(held.Message.Text, "12345678") {
			t.Fatalf("held = %+v", held)
		}
		b := connect(t, n.wsURL(w.room, "token=bob"), nil)
		b.chat("what is the salary?", "q")
		ev := v.nextOf(5*time.Second, "chat", "chat.held")
		if ev.Type != "chat" || decode[live.ChatData](t, ev.Data).Nonce != "q" {
			t.Fatalf("viewer saw %s %s", ev.Type, ev.Data)
		}
		// Staff are not held.
		mod.chat("no deposit is ever required here", "m")
		if ev := v.nextOf(5*time.Second, "chat"); decode[live.ChatData](t, ev.Data).Nonce != "m" {
			t.Fatalf("moderator message: %s", ev.Data)
		}
	})
	t.Run("blocked words refused to the sender only", func(t *testing.T) {
		w, n := chatNode(t, Config{})
		w.rooms.settings(w.room, func(s *live.RoomSettings) { s.BlockedWords = []string{"SpamCo"} })
		a := connect(t, n.wsURL(w.room, "token=alice"), nil)
		v := connect(t, n.wsURL(w.room, ""), nil)
		a.chat("join ＳＰＡＭＣＯ today", "x")
		if e := errorOf(t, a); e.Code != "blocked_word" {
			t.Fatalf("error = %+v", e)
		}
		a.chat("fine message", "y")
		if ev := v.nextOf(5*time.Second, "chat"); decode[live.ChatData](t, ev.Data).Nonce != "y" {
			t.Fatalf("viewer got %s", ev.Data)
		}
	})
	t.Run("slow mode, moderators exempt", func(t *testing.T) {
		w, n := chatNode(t, Config{})
		w.rooms.settings(w.room, func(s *live.RoomSettings) { s.SlowModeSeconds = 30 })
		a := connect(t, n.wsURL(w.room, "token=alice"), nil)
		mod := connect(t, n.wsURL(w.room, "token=mod"), nil)
		a.chat("one", "1")
		a.nextOf(5*time.Second, "chat")
		a.chat("two", "2")
		if e := errorOf(t, a); e.Code != "slow_mode" {
			t.Fatalf("error = %+v", e)
		}
		mod.chat("m1", "m1")
		mod.chat("m2", "m2")
		got := mod.ordered(3, 5*time.Second) // alice's one, m1, m2
		if decode[live.ChatData](t, got[2].Data).Nonce != "m2" {
			t.Fatalf("moderator slowed: %s", got[2].Data)
		}
	})
	t.Run("mute, chat off and ban take effect at once", func(t *testing.T) {
		w, n := chatNode(t, Config{})
		a := connect(t, n.wsURL(w.room, "token=alice"), nil)
		host := connect(t, n.wsURL(w.room, "token=host"), nil)
		w.rooms.setAccess(w.users["alice"], func(acc *live.RoomAccess) { acc.MutedUntil = time.Now().Add(time.Minute) })
		a.chat("hi", "1")
		a.nextOf(5*time.Second, "muted")
		if e := errorOf(t, a); e.Code != "muted" {
			t.Fatalf("muted: %+v", e)
		}
		w.rooms.setAccess(w.users["alice"], func(acc *live.RoomAccess) { acc.MutedUntil = time.Time{} })
		w.rooms.settings(w.room, func(s *live.RoomSettings) { s.Chat = live.ChatOff })
		a.chat("hi", "2")
		if e := errorOf(t, a); e.Code != "chat_off" {
			t.Fatalf("chat off: %+v", e)
		}
		host.chat("host may", "h")
		host.nextOf(5*time.Second, "chat")
		w.rooms.setAccess(w.users["alice"], func(acc *live.RoomAccess) { acc.Banned = true })
		a.chat("hi", "3")
		if code := a.closeCode(5 * time.Second); code != CloseKicked {
			t.Fatalf("banned close code %d", code)
		}
	})
}

func TestKickAndTargetedEventsAcrossNodes(t *testing.T) {
	w := newWorld()
	org := live.NewID[live.OrgID]()
	alice := w.user("alice", "Alice", nil)
	w.user("recruiter", "R", func(a *live.RoomAccess) { a.MemberOf = []live.OrgID{org} })
	mem := NewMemoryBroker(HistoryConfig{})
	a := startNode(t, w, mem, Config{}, nil)
	b := startNode(t, w, mem.Peer(), Config{}, nil)
	var kicked atomic.Int32
	b.svc.OnKick(func(room live.RoomID, user live.UserID) {
		if user == alice {
			kicked.Add(1)
		}
	})
	aliceB := connect(t, b.wsURL(w.room, "token=alice"), nil)
	recB := connect(t, b.wsURL(w.room, "token=recruiter"), nil)
	visB := connect(t, b.wsURL(w.room, ""), nil)
	ctx := context.Background()

	app := live.NewEvent(live.EvApplication, live.ApplicationData{OrgID: org, RoomID: w.room})
	if err := a.svc.ToOrg(ctx, w.room, org, app); err != nil {
		t.Fatal(err)
	}
	dm := live.NewEvent(live.EvDM, map[string]string{"text": "hello"})
	if err := a.svc.ToUser(ctx, "", alice, dm); err != nil {
		t.Fatal(err)
	}
	recB.nextOf(5*time.Second, "application")
	aliceB.nextOf(5*time.Second, "dm")
	if err := a.svc.ToRoom(ctx, w.room, live.NewEvent(live.EvMuted, struct{}{})); err != nil {
		t.Fatal(err)
	}
	// The visitor sees the room-wide event next, not the targeted ones.
	if ev := visB.nextOf(5*time.Second, "application", "dm", "muted"); ev.Type != "muted" {
		t.Fatalf("visitor got %s", ev.Type)
	}
	if _, err := a.svc.Publish(ctx, w.room, live.NewEvent(live.EvDM, nil)); err == nil {
		t.Fatal("published an ephemeral type to the ordered stream")
	}
	if err := a.svc.ToRoom(ctx, w.room, live.NewEvent(live.EvChat, nil)); err == nil {
		t.Fatal("sent an ordered type as ephemeral")
	}

	start := time.Now()
	if err := a.svc.Kick(ctx, w.room, alice, live.NewEvent(live.EvBanned, live.BannedData{Reason: "spam"})); err != nil {
		t.Fatal(err)
	}
	aliceB.nextOf(time.Second, "banned")
	if code := aliceB.closeCode(time.Second); code != CloseKicked {
		t.Fatalf("close code %d", code)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("kick took %v", d)
	}
	eventually(t, time.Second, "OnKick on node B", func() bool { return kicked.Load() == 1 })

	// Logout: every socket of the user in every room closes.
	alice2 := connect(t, a.wsURL(w.room, "token=alice"), nil)
	if err := b.svc.Kick(ctx, "", alice, live.Event{}); err != nil {
		t.Fatal(err)
	}
	if code := alice2.closeCode(time.Second); code != CloseKicked {
		t.Fatalf("logout close code %d", code)
	}
}

func TestDeletedMessageNeverReplayed(t *testing.T) {
	for _, kind := range brokerKinds {
		t.Run(kind.name, func(t *testing.T) {
			w := newWorld()
			w.user("alice", "Alice", nil)
			n := startNode(t, w, kind.make(t, HistoryConfig{})(), Config{}, nil)
			a := connect(t, n.wsURL(w.room, "token=alice"), nil)
			v := connect(t, n.wsURL(w.room, ""), nil)
			a.chat("bad words here", "x")
			msg := v.nextOf(5*time.Second, "chat")
			v.ws.Close()
			if err := n.svc.DeleteMessage(context.Background(), w.room, msg.Seq); err != nil {
				t.Fatal(err)
			}
			del := a.nextOf(5*time.Second, "chat.deleted")
			if decode[live.ChatDeletedData](t, del.Data).Seq != msg.Seq {
				t.Fatalf("chat.deleted = %s", del.Data)
			}
			err := n.svc.DeleteMessage(context.Background(), w.room, del.Seq)
			if e, ok := live.AsError(err); !ok || e.Kind != live.KindNotFound {
				t.Fatalf("deleting a non-chat event: %v", err)
			}
			r := connect(t, n.wsURL(w.room, "since="+itoa(msg.Seq-1)+"&epoch="+v.welcome.Epoch), nil)
			evs := r.ordered(2, 5*time.Second)
			checkContiguous(t, evs, msg.Seq-1)
			for _, ev := range evs {
				if ev.Type == "chat" || strings.Contains(string(ev.Data), "bad words") {
					t.Fatalf("deleted message replayed: %s", ev.Data)
				}
			}
			var d live.ChatDeletedData
			_ = json.Unmarshal(evs[0].Data, &d)
			if evs[0].Type != "chat.deleted" || d.Seq != msg.Seq {
				t.Fatalf("tombstone = %s %s", evs[0].Type, evs[0].Data)
			}
		})
	}
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

type fakeHeld struct {
	mu   sync.Mutex
	msgs []live.ChatData
}

func (f *fakeHeld) Hold(ctx context.Context, room live.RoomID, msg live.ChatData, reason string) error {
	f.mu.Lock()
	f.msgs = append(f.msgs, msg)
	f.mu.Unlock()
	return nil
}

func TestHeldQueueAndChatMessage(t *testing.T) {
	w := newWorld()
	alice := w.user("alice", "Alice", nil)
	w.user("mod", "Mo", func(a *live.RoomAccess) { a.Moderator = true })
	held := &fakeHeld{}
	n := startNode(t, w, NewMemoryBroker(HistoryConfig{}), Config{}, nil)
	n.svc.SetHeldQueue(held)
	a := connect(t, n.wsURL(w.room, "token=alice"), nil)
	mod := connect(t, n.wsURL(w.room, "token=mod"), nil)
	a.chat("pay the training fee first", "h")
	got := decode[heldData](t, mod.nextOf(5*time.Second, "chat.held").Data)
	held.mu.Lock()
	if len(held.msgs) != 1 || held.msgs[0].ID != got.Message.ID {
		t.Fatalf("held queue = %+v, event %+v", held.msgs, got)
	}
	held.mu.Unlock()
	a.chat("a normal question", "q")
	ev := mod.nextOf(5*time.Second, "chat")
	ctx := context.Background()
	msg, err := n.svc.ChatMessage(ctx, w.room, ev.Seq)
	if err != nil || msg.UserID != alice || msg.Text != "a normal question" {
		t.Fatalf("ChatMessage = %+v, %v", msg, err)
	}
	for _, seq := range []uint64{0, ev.Seq + 5} {
		if _, err := n.svc.ChatMessage(ctx, w.room, seq); err == nil {
			t.Fatalf("ChatMessage(%d) found something", seq)
		}
	}
	if err := n.svc.DeleteMessage(ctx, w.room, ev.Seq); err != nil {
		t.Fatal(err)
	}
	if _, err := n.svc.ChatMessage(ctx, w.room, ev.Seq); err == nil {
		t.Fatal("a deleted message is still readable")
	}
}

// Role changes reach open connections through RefreshAccess on any node:
// a removed moderator stops getting held messages, a new one starts.
func TestRefreshAccessReroutesStaffEvents(t *testing.T) {
	w := newWorld()
	w.user("alice", "Alice", nil)
	oldMod := w.user("old", "Old", func(a *live.RoomAccess) { a.Moderator = true })
	newMod := w.user("new", "New", nil)
	mem := NewMemoryBroker(HistoryConfig{})
	a := startNode(t, w, mem, Config{}, nil)
	b := startNode(t, w, mem.Peer(), Config{}, nil)
	sender := connect(t, a.wsURL(w.room, "token=alice"), nil)
	oldC := connect(t, b.wsURL(w.room, "token=old"), nil)
	newC := connect(t, b.wsURL(w.room, "token=new"), nil)
	ctx := context.Background()
	w.rooms.setAccess(oldMod, func(acc *live.RoomAccess) { acc.Moderator = false })
	w.rooms.setAccess(newMod, func(acc *live.RoomAccess) { acc.Moderator = true })
	for _, u := range []live.UserID{oldMod, newMod} {
		if err := a.svc.RefreshAccess(ctx, w.room, u); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "refreshed", func() bool {
		return connStaff(b.svc, newMod) == 1 && connStaff(b.svc, oldMod) == 0
	})
	sender.chat("send a deposit first", "s")
	newC.nextOf(5*time.Second, "chat.held")
	sender.chat("ordinary", "o")
	if ev := oldC.nextOf(5*time.Second, "chat", "chat.held"); ev.Type != "chat" {
		t.Fatalf("removed moderator got %s", ev.Type)
	}
}

// connStaff counts the user's connections on s routed as staff.
func connStaff(s *Service, user live.UserID) int {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	n := 0
	for c := range s.conns {
		if c.user == user && c.staff() {
			n++
		}
	}
	return n
}
