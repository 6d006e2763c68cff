package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jobcast/chat"
	"jobcast/live"
	"jobcast/moderation"
	"jobcast/store/storetest"
)

// wsc is a real WebSocket client of a room's channel that keeps every
// event it receives and how the socket closed.
type wsc struct {
	t    *testing.T
	c    *websocket.Conn
	mu   sync.Mutex
	evs  []live.Event
	wake chan struct{}
	done chan struct{}
	code int // close code from the server (0 until closed)
	at   time.Time
}

// dialRoom connects to room's channel on addr; query is appended as is
// ("since=…&epoch=…" or ""). It returns the HTTP status of a refused
// upgrade (and a nil client).
func dialRoom(t *testing.T, addr string, room live.RoomID, token, query string) (*wsc, int) {
	t.Helper()
	u := "ws://" + addr + "/api/rooms/" + string(room) + "/ws"
	if query != "" {
		u += "?" + query
	}
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	c, res, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		if res != nil {
			return nil, res.StatusCode
		}
		t.Fatalf("ws dial: %v", err)
	}
	w := &wsc{t: t, c: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.read()
	t.Cleanup(func() { c.Close(); <-w.done })
	return w, 101
}

func mustDial(t *testing.T, addr string, room live.RoomID, token, query string) *wsc {
	t.Helper()
	w, code := dialRoom(t, addr, room, token, query)
	if w == nil {
		t.Fatalf("ws dial refused with %d", code)
	}
	w.waitFor(5*time.Second, "welcome", func(ev live.Event) bool { return ev.Type == live.EvWelcome })
	return w
}

func (w *wsc) read() {
	defer close(w.done)
	for {
		_, msg, err := w.c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			w.mu.Lock()
			w.code, w.at = -1, time.Now()
			if errors.As(err, &ce) {
				w.code = ce.Code
			}
			w.mu.Unlock()
			w.poke()
			return
		}
		w.mu.Lock()
		for _, line := range bytes.Split(msg, []byte("\n")) {
			var ev live.Event
			if json.Unmarshal(line, &ev) == nil {
				w.evs = append(w.evs, ev)
			}
		}
		w.mu.Unlock()
		w.poke()
	}
}

func (w *wsc) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// find returns the first event matching pred, if any.
func (w *wsc) find(pred func(live.Event) bool) (live.Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ev := range w.evs {
		if pred(ev) {
			return ev, true
		}
	}
	return live.Event{}, false
}

// waitFor waits up to d for an event matching pred and fails otherwise.
func (w *wsc) waitFor(d time.Duration, what string, pred func(live.Event) bool) live.Event {
	w.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if ev, ok := w.find(pred); ok {
			return ev
		}
		select {
		case <-w.wake:
		case <-deadline.C:
			w.t.Fatalf("no %s within %v", what, d)
		}
	}
}

// closed waits up to d for the server to close the socket and returns the
// close code and when it closed.
func (w *wsc) closed(d time.Duration) (int, time.Time) {
	w.t.Helper()
	select {
	case <-w.done:
	case <-time.After(d):
		w.t.Fatalf("socket still open after %v", d)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.code, w.at
}

var nonceN struct {
	sync.Mutex
	n int
}

// say sends a chat message and returns the server's answer to it: the
// broadcast chat event (data.nonce) or an error event with the nonce. A
// rate-limited attempt is retried (the per-user rate is 1/s, burst 3).
func (w *wsc) say(text string) (live.ChatData, *live.ErrorData) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		nonceN.Lock()
		nonceN.n++
		nonce := fmt.Sprintf("n%d", nonceN.n)
		nonceN.Unlock()
		b, _ := json.Marshal(map[string]string{"type": "chat", "text": text, "nonce": nonce})
		if err := w.c.WriteMessage(websocket.TextMessage, b); err != nil {
			w.t.Fatalf("ws write: %v", err)
		}
		ev := w.waitFor(5*time.Second, "answer to "+nonce, func(ev live.Event) bool {
			if ev.Type != live.EvChat && ev.Type != live.EvError {
				return false
			}
			var d struct {
				Nonce string `json:"nonce"`
			}
			return json.Unmarshal(ev.Data, &d) == nil && d.Nonce == nonce
		})
		if ev.Type == live.EvChat {
			var m live.ChatData
			_ = json.Unmarshal(ev.Data, &m)
			return m, nil
		}
		var e live.ErrorData
		_ = json.Unmarshal(ev.Data, &e)
		if e.Code == "rate_limited" && time.Now().Before(deadline) {
			time.Sleep(250 * time.Millisecond) // the limiter refills at 1/s
			continue
		}
		return live.ChatData{}, &e
	}
}

func (w *wsc) mustSay(text string) live.ChatData {
	w.t.Helper()
	m, e := w.say(text)
	if e != nil {
		w.t.Fatalf("chat %q refused: %+v", text, *e)
	}
	return m
}

func (w *wsc) mustRefuse(text, code string) {
	w.t.Helper()
	_, e := w.say(text)
	if e == nil || e.Code != code {
		w.t.Fatalf("chat %q: got %+v, want error %s", text, e, code)
	}
}

func chatWith(text string) func(live.Event) bool {
	return func(ev live.Event) bool {
		var m live.ChatData
		return ev.Type == live.EvChat && json.Unmarshal(ev.Data, &m) == nil && strings.Contains(m.Text, text)
	}
}

func netAPI(addr string) modAPI {
	return func(method, path, token, body string) (int, []byte) {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
}

func whep(t *testing.T, addr string, room live.RoomID, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/rooms/"+string(room)+"/whep", strings.NewReader("v=0\r\n"))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(res.Body).Decode(&b)
	return res.StatusCode, b.Error.Code
}

// modCluster starts n nodes sharing one database and one private Redis;
// more can be started later with add.
type modCluster struct {
	t      *testing.T
	redis  string
	prefix string
	db     string // PostgreSQL URL, or "" for a shared SQLite dir
	dir    string
}

func (c *modCluster) add() (string, *srv) {
	c.t.Helper()
	cfg := modConfig(c.t)
	cfg.RedisURL, cfg.DatabaseURL = c.redis, c.db
	if c.db == "" {
		cfg.DataDir = c.dir
	}
	s := newSrvCfg(c.t, cfg, Options{RedisPrefix: c.prefix})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	go func() { _ = s.app.Serve(ln) }()
	return ln.Addr().String(), s
}

// TestModerationAcrossNodes: two nodes (NewApp twice, one database, one
// Redis, one key prefix), moderators act on node A, users sit on node B.
func TestModerationAcrossNodes(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		rds := startPrivateRedis(t)
		moderationAcrossNodes(t, &modCluster{t: t, redis: rds.url(), prefix: "mod:", dir: t.TempDir()})
	})
	t.Run("postgres", func(t *testing.T) {
		url := storetest.PostgresURL(t)
		rds := startPrivateRedis(t)
		moderationAcrossNodes(t, &modCluster{t: t, redis: rds.url(), prefix: "mod:", db: url})
	})
}

func moderationAcrossNodes(t *testing.T, cl *modCluster) {
	addrA, _ := cl.add()
	addrB, _ := cl.add()
	A, B := netAPI(addrA), netAPI(addrB)
	w := newModWorld(t, A)
	base := "/api/rooms/" + string(w.room)

	mod := mustDial(t, addrA, w.room, w.mod.Token, "")
	target := mustDial(t, addrB, w.room, w.target.Token, "")
	viewer := mustDial(t, addrB, w.room, w.target2.Token, "")
	// Each chatting step has its own sender: the per-user chat rate (1/s,
	// burst 3) would otherwise set the pace of the test.
	scammer := registerVia(t, A, "scammer@mod.test")
	seekerC := mustDial(t, addrB, w.room, w.seeker.Token, "")
	recC := mustDial(t, addrB, w.room, w.recruiter.Token, "")
	m2C := mustDial(t, addrB, w.room, w.mod2.Token, "")
	scamC := mustDial(t, addrB, w.room, scammer.Token, "")
	step := func(name string, f func()) {
		t.Helper()
		t.Logf("step: %s", name)
		f()
	}
	target.mustSay("hello from node B")
	mod.waitFor(2*time.Second, "target's message on node A", chatWith("hello from node B"))

	step("time-out", func() {
		mustStatus(t, A, 201, "POST", base+"/mutes", w.mod.Token, `{"user_id":"`+w.target.ID+`","seconds":600,"reason":"flooding"}`, nil)
		ev := target.waitFor(time.Second, "muted event on node B", func(ev live.Event) bool { return ev.Type == live.EvMuted })
		var d live.MutedData
		_ = json.Unmarshal(ev.Data, &d)
		if time.Until(d.Until) < 590*time.Second || d.Reason != "flooding" {
			t.Fatalf("muted %+v", d)
		}
		target.mustRefuse("still here", "muted")
		mustStatus(t, A, 200, "DELETE", base+"/mutes/"+w.target.ID, w.host.Token, `{"reason":"forgiven"}`, nil)
		target.mustSay("back again")
		// A short time-out ends by itself.
		mustStatus(t, A, 201, "POST", base+"/mutes", w.mod.Token, `{"user_id":"`+w.target.ID+`","seconds":2,"reason":"cool down"}`, nil)
		target.mustRefuse("too soon", "muted")
		deadline := time.Now().Add(8 * time.Second)
		for {
			if _, e := target.say("after the time-out"); e == nil {
				break
			} else if e.Code != "muted" || time.Now().After(deadline) {
				t.Fatalf("after the time-out: %+v", *e)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	patch := func(body string) live.RoomSettings {
		t.Helper()
		var out struct {
			Settings live.RoomSettings `json:"settings"`
		}
		mustStatus(t, A, 200, "PATCH", base+"/settings", w.mod.Token, body, &out)
		return out.Settings
	}

	step("slow mode, staff exempt", func() {
		patch(`{"slow_mode_seconds":60,"reason":"busy"}`)
		ev := viewer.waitFor(time.Second, "settings event on node B", func(ev live.Event) bool {
			var s live.RoomSettings
			return ev.Type == live.EvSettings && json.Unmarshal(ev.Data, &s) == nil && s.SlowModeSeconds == 60
		})
		if ev.Seq == 0 {
			t.Fatal("settings event without seq")
		}
		viewer.mustSay("first in slow mode")
		viewer.mustRefuse("second in slow mode", "slow_mode")
		mod.mustSay("staff one")
		mod.mustSay("staff two")
		patch(`{"slow_mode_seconds":0}`)
	})

	step("chat modes", func() {
		patch(`{"chat":"off"}`)
		seekerC.mustRefuse("chat is off?", "chat_off")
		mod.mustSay("only staff now")
		patch(`{"chat":"profile_complete"}`)
		seekerC.mustRefuse("no profile yet", "profile_required")
		mustStatus(t, B, 200, "PUT", "/api/me/profile", w.seeker.Token, `{"full_name":"T","phone":"13800000000","city":"","skills":[],"summary":"","accessibility_needs":""}`, nil)
		seekerC.mustSay("profile done")
		patch(`{"chat":"open"}`)
		// Visitors never chat.
		visitor := mustDial(t, addrB, w.room, "", "")
		visitor.mustRefuse("I am anonymous", "sign_in_to_chat")
	})

	step("blocked words", func() {
		patch(`{"blocked_words":["Scamco"]}`)
		recC.mustRefuse("join ＳＣＡＭＣＯ today", "blocked_word")
		marker := viewer.mustSay("marker after blocked")
		_ = marker
		if _, ok := viewer.find(chatWith("today")); ok {
			t.Fatal("a blocked message reached another viewer")
		}
		patch(`{"blocked_words":[]}`)
	})

	step("masking", func() {
		m := m2C.mustSay("call me 138-1234-5678 or id 110101199003071234")
		got := viewer.waitFor(time.Second, "masked message", func(ev live.Event) bool {
			var d live.ChatData
			return ev.Type == live.EvChat && json.Unmarshal(ev.Data, &d) == nil && d.ID == m.ID
		})
		var d live.ChatData
		_ = json.Unmarshal(got.Data, &d)
		if !d.Masked || strings.Contains(d.Text, "1234-56") || strings.Contains(d.Text, "19900307") {
			t.Fatalf("not masked: %+v", d)
		}
		patch(`{"mask_pii":false}`)
		m = m2C.mustSay("now 13812345678")
		if m.Masked || !strings.Contains(m.Text, "13812345678") {
			t.Fatalf("masked although off: %+v", m)
		}
		patch(`{"mask_pii":true}`)
	})

	step("scam hold-back, approve and reject", func() {
		scamC.mustRefuse("send 押金 500 first", "held_for_review")
		scamC.mustRefuse("training fee required via wechat", "held_for_review")
		mod.waitFor(time.Second, "chat.held on node A", func(ev live.Event) bool { return ev.Type == live.EvHeld })
		var held struct {
			Held []struct {
				ID      string        `json:"id"`
				Message live.ChatData `json:"message"`
				Reason  string        `json:"reason"`
			} `json:"held"`
		}
		mustStatus(t, B, 200, "GET", base+"/held", w.host.Token, "", &held)
		if len(held.Held) != 2 || held.Held[0].Message.UserID != live.UserID(scammer.ID) || held.Held[0].Reason == "" {
			t.Fatalf("held queue %+v", held)
		}
		if _, ok := viewer.find(chatWith("押金")); ok {
			t.Fatal("a held message reached viewers")
		}
		mustStatus(t, A, 200, "POST", base+"/held/"+held.Held[0].ID+"/approve", w.mod.Token, `{"reason":"a refundable key deposit, fine"}`, nil)
		viewer.waitFor(time.Second, "approved message on node B", chatWith("押金"))
		mustStatus(t, A, 200, "POST", base+"/held/"+held.Held[1].ID+"/reject", w.mod.Token, `{"reason":"fee scam"}`, nil)
		mod.waitFor(time.Second, "held.decided", func(ev live.Event) bool {
			var d moderation.HeldDecidedData
			return ev.Type == moderation.EvHeldDecided && json.Unmarshal(ev.Data, &d) == nil && d.ID == held.Held[1].ID && d.Status == "rejected"
		})
		mustStatus(t, B, 200, "GET", base+"/held", w.mod.Token, "", &held)
		if len(held.Held) != 0 {
			t.Fatalf("queue after decisions: %+v", held)
		}
		marker := viewer.mustSay("marker after reject")
		_ = marker
		if _, ok := viewer.find(chatWith("training fee")); ok {
			t.Fatal("a rejected message reached viewers")
		}
	})

	step("delete", func() {
		welcome := viewer.waitFor(time.Second, "welcome", func(ev live.Event) bool { return ev.Type == live.EvWelcome })
		var wd struct {
			Epoch string `json:"epoch"`
		}
		_ = json.Unmarshal(welcome.Data, &wd)
		m := target.mustSay("delete me please")
		ev := viewer.waitFor(time.Second, "message", chatWith("delete me please"))
		seq := ev.Seq
		mustStatus(t, A, 200, "DELETE", fmt.Sprintf("%s/messages/%d", base, seq), w.mod.Token, `{"reason":"off topic"}`, nil)
		viewer.waitFor(time.Second, "chat.deleted on node B", func(ev live.Event) bool {
			var d live.ChatDeletedData
			return ev.Type == live.EvChatDeleted && json.Unmarshal(ev.Data, &d) == nil && d.Seq == seq
		})
		// Clients recovering from before the message, on either node, and
		// a node that starts now: the tombstone, never the message.
		addrC, _ := cl.add()
		for _, addr := range []string{addrA, addrB, addrC} {
			late := mustDial(t, addr, w.room, w.seeker.Token, fmt.Sprintf("since=%d&epoch=%s", seq-1, wd.Epoch))
			late.waitFor(2*time.Second, "tombstone at "+addr, func(ev live.Event) bool { return ev.Type == live.EvChatDeleted && ev.Seq == seq })
			if _, ok := late.find(chatWith(m.Text)); ok {
				t.Fatalf("deleted message replayed on %s", addr)
			}
		}
	})

	step("ban", func() {
		if code, _ := whep(t, addrB, w.room, w.target.Token); code == 403 {
			t.Fatal("WHEP refused before the ban")
		}
		start := time.Now()
		mustStatus(t, A, 201, "POST", base+"/bans", w.mod.Token, `{"user_id":"`+w.target.ID+`","reason":"scam links"}`, nil)
		code, at := target.closed(time.Second)
		if code != chat.CloseKicked {
			t.Fatalf("close code %d, want %d", code, chat.CloseKicked)
		}
		t.Logf("ban on node A → socket on node B closed after %v", at.Sub(start).Round(time.Millisecond))
		if _, ok := target.find(func(ev live.Event) bool { return ev.Type == live.EvBanned }); !ok {
			t.Fatal("no banned event before the close")
		}
		// Refused afterwards on every node, with the old session and with
		// a fresh login, on a node that starts later too.
		var login struct {
			Token string `json:"token"`
		}
		mustStatus(t, B, 200, "POST", "/api/auth/login", "", `{"email":"`+w.target.Email+`","password":"long enough"}`, &login)
		addrD, _ := cl.add()
		for _, addr := range []string{addrA, addrB, addrD} {
			for _, tok := range []string{w.target.Token, login.Token} {
				if c, status := dialRoom(t, addr, w.room, tok, ""); c != nil || status != 403 {
					t.Fatalf("banned user's socket on %s: %d", addr, status)
				}
				if code, ecode := whep(t, addr, w.room, tok); code != 403 || ecode != "banned" {
					t.Fatalf("banned user's WHEP on %s: %d %s", addr, code, ecode)
				}
			}
		}
		// Unban restores.
		mustStatus(t, B, 200, "DELETE", base+"/bans/"+w.target.ID, w.host.Token, `{"reason":"appeal accepted"}`, nil)
		back := mustDial(t, addrB, w.room, login.Token, "")
		back.mustSay("thanks for the unban")
		if code, _ := whep(t, addrA, w.room, login.Token); code == 403 {
			t.Fatal("WHEP refused after the unban")
		}
	})

	step("audit", func() {
		var page struct {
			Entries []moderation.AuditRow `json:"entries"`
		}
		mustStatus(t, B, 200, "GET", base+"/audit?limit=200", w.host.Token, "", &page)
		seen := map[string]bool{}
		for _, e := range page.Entries {
			if strings.HasPrefix(e.Action, "room.") {
				continue
			}
			if e.ActorID == "" || e.Role == "" {
				t.Fatalf("audit row without actor or role: %+v", e)
			}
			seen[e.Action+":"+e.Reason] = true
		}
		for _, want := range []string{
			"user.muted:flooding", "user.unmuted:forgiven", "settings.changed:busy", "held.approved:a refundable key deposit, fine",
			"held.rejected:fee scam", "message.deleted:off topic", "user.banned:scam links", "user.unbanned:appeal accepted",
		} {
			if !seen[want] {
				t.Errorf("no audit row %s in %v", want, seen)
			}
		}
	})
}
