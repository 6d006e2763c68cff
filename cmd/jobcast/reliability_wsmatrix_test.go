package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jobcast/auth"
	"jobcast/chat"
	"jobcast/httpx"
	"jobcast/live"
	"jobcast/store"
)

// TestReliabilityWebSocketMatrix: every abuse of the room channel in one
// table, against the whole app, each refused as DESIGN.md §5 and
// docs/api-realtime.md say — with an HTTP status and the JSON error shape
// before the upgrade where the server can know (origin, credentials, ban,
// malformed request), else with the documented close code or an error
// event after it (frame size, floods, logout, commands a seeker may not
// send). Every refusal leaves nothing changed: the victim of a seeker's
// "ban" stays connected and unbanned, and a refused connection never joins.
func TestReliabilityWebSocketMatrix(t *testing.T) {
	s := newSrv(t)
	ts := httptest.NewServer(s.app.Handler())
	t.Cleanup(ts.Close)
	addr := strings.TrimPrefix(ts.URL, "http://")
	host := s.register("host@wsm.test")
	org := s.createOrg(host, "WS matrix bureau")
	var room struct{ ID live.RoomID }
	s.ok(call{method: "POST", path: "/api/rooms", token: host.Token, body: `{"title":"Matrix","org_id":"` + org + `"}`}, 201, &room)
	seeker := s.register("seeker@wsm.test")
	victim := s.register("victim@wsm.test")
	leaver := s.register("leaver@wsm.test")
	banned := s.register("banned@wsm.test")
	revoked := s.register("revoked@wsm.test")
	s.ok(call{method: "POST", path: "/api/auth/logout", token: revoked.Token}, 204, nil)
	s.ok(call{method: "POST", path: "/api/rooms/" + string(room.ID) + "/bans", token: host.Token, body: `{"user_id":"` + banned.ID + `"}`}, 201, nil)
	// An expired session, written straight into the store.
	expired := "expired-" + strings.Repeat("e", 40)
	now := time.Now().UTC()
	if err := s.app.DB.CreateSession(context.Background(), store.Session{TokenHash: auth.TokenHash(expired), UserID: live.UserID(seeker.ID),
		CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	wsURL := "ws://" + addr + "/api/rooms/" + string(room.ID) + "/ws"
	victimSock := mustDial(t, addr, room.ID, victim.Token, "")

	// Before the upgrade: an HTTP status and the error shape.
	type pre struct {
		name   string
		url    string // "" = the room's channel
		query  string
		hdr    map[string]string
		status int
		code   string
	}
	pres := []pre{
		{name: "foreign Origin with the session cookie", hdr: map[string]string{"Origin": "https://evil.example", "Cookie": httpx.SessionCookie + "=" + seeker.Token}, status: 403, code: "origin_not_allowed"},
		{name: "foreign Origin without credentials", hdr: map[string]string{"Origin": "https://evil.example"}, status: 403, code: "origin_not_allowed"},
		{name: "Origin null with the session cookie", hdr: map[string]string{"Origin": "null", "Cookie": httpx.SessionCookie + "=" + seeker.Token}, status: 403, code: "origin_not_allowed"},
		{name: "revoked session (signed out) as ?token=", query: "token=" + revoked.Token, status: 401},
		{name: "revoked session as a bearer token", hdr: map[string]string{"Authorization": "Bearer " + revoked.Token}, status: 401},
		{name: "expired session", hdr: map[string]string{"Authorization": "Bearer " + expired}, status: 401},
		{name: "unknown token", query: "token=" + strings.Repeat("0", 48), status: 401},
		{name: "banned user", hdr: map[string]string{"Authorization": "Bearer " + banned.Token}, status: 403, code: "banned"},
		{name: "unknown room", url: "ws://" + addr + "/api/rooms/" + string(live.NewID[live.RoomID]()) + "/ws", status: 404},
		{name: "malformed room id", url: "ws://" + addr + "/api/rooms/%3Cscript%3E/ws", status: 400},
		{name: "half a recovery (since without epoch)", query: "since=5", status: 400, code: "invalid_recovery"},
		{name: "recovery with a non-numeric since", query: "since=x&epoch=e", status: 400, code: "invalid_recovery"},
	}
	refused := 0
	for _, r := range pres {
		u := r.url
		if u == "" {
			u = wsURL
		}
		if r.query != "" {
			u += "?" + r.query
		}
		h := http.Header{}
		for k, v := range r.hdr {
			h.Set(k, v)
		}
		c, res, err := websocket.DefaultDialer.Dial(u, h)
		if err == nil {
			c.Close()
			t.Errorf("%s: upgraded, want %d", r.name, r.status)
			continue
		}
		if res == nil {
			t.Errorf("%s: %v", r.name, err)
			continue
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(res.Body)
		res.Body.Close()
		var eb httpx.ErrorBody
		if res.StatusCode != r.status || json.Unmarshal(body.Bytes(), &eb) != nil || eb.Error.Message == "" || (r.code != "" && eb.Error.Code != r.code) {
			t.Errorf("%s: %d %s, want %d %s in the error shape", r.name, res.StatusCode, body.String(), r.status, r.code)
			continue
		}
		refused++
		t.Logf("refused before the upgrade: %-42s → %d %s", r.name, res.StatusCode, eb.Error.Code)
	}
	// Plain HTTP to the channel.
	res, err := http.Get(ts.URL + "/api/rooms/" + string(room.ID) + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Errorf("plain GET of the channel: %d, want 400 not_websocket", res.StatusCode)
	} else {
		refused++
	}

	// A stale cookie (same origin) is not an error: the viewer continues as
	// a visitor, read-only (a public room must not lock anyone out).
	{
		h := http.Header{"Origin": {ts.URL}, "Cookie": {httpx.SessionCookie + "=" + revoked.Token}}
		c, _, err := websocket.DefaultDialer.Dial(wsURL, h)
		if err != nil {
			t.Fatalf("stale cookie, same origin: %v", err)
		}
		w := &wsc{t: t, c: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
		go w.read()
		t.Cleanup(func() { c.Close(); <-w.done })
		ev := w.waitFor(5*time.Second, "welcome", func(ev live.Event) bool { return ev.Type == live.EvWelcome })
		var wd struct{ Role live.Role }
		_ = json.Unmarshal(ev.Data, &wd)
		if wd.Role != live.RoleVisitor {
			t.Errorf("stale cookie: role %q, want visitor", wd.Role)
		}
		if _, e := w.say("hello"); e == nil || e.Code != "sign_in_to_chat" {
			t.Errorf("stale cookie visitor chatting: %+v, want sign_in_to_chat", e)
		}
		t.Logf("stale session cookie, same origin → connected read-only as %s; chat → error sign_in_to_chat", wd.Role)
	}

	// After the upgrade: close codes and error events.
	type post struct {
		name  string
		token string
		act   func(w *wsc)
		close int    // expected close code (0: stays open)
		errs  string // expected error event codes, comma-separated
		// within bounds the close (0: 5 s)
		within time.Duration
	}
	send := func(w *wsc, typ int, b []byte) { _ = w.c.WriteMessage(typ, b) }
	posts := []post{
		{name: "visitor (no credentials) sends chat", act: func(w *wsc) {
			send(w, websocket.TextMessage, []byte(`{"type":"chat","text":"hi","nonce":"v1"}`))
		}, errs: "sign_in_to_chat"},
		{name: "1 MiB frame", token: seeker.Token, act: func(w *wsc) {
			go send(w, websocket.TextMessage, bytes.Repeat([]byte("a"), 1<<20))
		}, close: chat.CloseTooBig},
		{name: "4 KiB + 1 frame", token: seeker.Token, act: func(w *wsc) {
			send(w, websocket.TextMessage, append([]byte(`{"type":"chat","text":"`), bytes.Repeat([]byte("a"), 4096)...))
		}, close: chat.CloseTooBig},
		{name: "ping flood (200 frames at once)", token: seeker.Token, act: func(w *wsc) {
			for range 200 {
				send(w, websocket.TextMessage, []byte(`{"type":"ping"}`))
			}
		}, close: websocket.ClosePolicyViolation},
		{name: "junk flood (200 binary frames)", act: func(w *wsc) {
			for range 200 {
				send(w, websocket.BinaryMessage, []byte{0xff, 0x00})
			}
		}, close: websocket.ClosePolicyViolation},
		{name: "chat flood (8 messages at once)", token: seeker.Token, act: func(w *wsc) {
			for i := range 8 {
				send(w, websocket.TextMessage, []byte(`{"type":"chat","text":"flood `+string(rune('a'+i))+`","nonce":"f`+string(rune('a'+i))+`"}`))
			}
		}, errs: "rate_limited,rate_limited,rate_limited,rate_limited,rate_limited"},
		{name: "binary frame", token: seeker.Token, act: func(w *wsc) { send(w, websocket.BinaryMessage, []byte("{}")) }, errs: "bad_message"},
		{name: "not JSON", token: seeker.Token, act: func(w *wsc) { send(w, websocket.TextMessage, []byte("ban everyone")) }, errs: "bad_message"},
		{name: "seeker sends moderator commands", token: seeker.Token, act: func(w *wsc) {
			for _, m := range []string{
				`{"type":"ban","nonce":"m1"}`, `{"type":"delete","nonce":"m2"}`, `{"type":"mute","nonce":"m3"}`,
				`{"type":"pin","nonce":"m4"}`, `{"type":"settings","nonce":"m5"}`, `{"type":"kick","nonce":"m6"}`,
				`{"type":"ban","user_id":"` + victim.ID + `"}`, `{"type":"chat.deleted","seq":1}`,
				`{"type":"room.status","status":"ended"}`,
			} {
				send(w, websocket.TextMessage, []byte(m))
			}
		}, errs: "unknown_type,unknown_type,unknown_type,unknown_type,unknown_type,unknown_type,bad_message,bad_message,bad_message"},
		{name: "logout while connected", token: leaver.Token, act: func(w *wsc) {
			s.ok(call{method: "POST", path: "/api/auth/logout", token: leaver.Token}, 204, nil)
		}, close: chat.CloseKicked, within: time.Second},
	}
	for _, r := range posts {
		w := mustDial(t, addr, room.ID, r.token, "")
		start := time.Now()
		r.act(w)
		if r.close != 0 {
			within := r.within
			if within == 0 {
				within = 5 * time.Second
			}
			code, at := w.closed(within)
			if code != r.close {
				t.Errorf("%s: close code %d, want %d", r.name, code, r.close)
				continue
			}
			t.Logf("after the upgrade: %-42s → close %d after %v", r.name, code, at.Sub(start).Round(time.Millisecond))
			refused++
			continue
		}
		wants := strings.Split(r.errs, ",")
		errEvents := func() []live.ErrorData {
			w.mu.Lock()
			defer w.mu.Unlock()
			var out []live.ErrorData
			for _, ev := range w.evs {
				if ev.Type == live.EvError {
					var e live.ErrorData
					_ = json.Unmarshal(ev.Data, &e)
					out = append(out, e)
				}
			}
			return out
		}
		for deadline := time.Now().Add(5 * time.Second); len(errEvents()) < len(wants); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d error events after 5 s, want %d", r.name, len(errEvents()), len(wants))
			}
			select {
			case <-w.wake:
			case <-time.After(100 * time.Millisecond):
			}
		}
		time.Sleep(100 * time.Millisecond) // no more than wanted
		var got []string
		for i, e := range errEvents() {
			if i >= len(wants) || e.Code != wants[i] {
				t.Errorf("%s: error event #%d %q, want %v", r.name, i+1, e.Code, wants)
			}
			got = append(got, e.Code)
		}
		// The connection stays usable: a ping is answered.
		send(w, websocket.TextMessage, []byte(`{"type":"ping"}`))
		w.waitFor(5*time.Second, r.name+": pong after the refusal", func(ev live.Event) bool { return ev.Type == live.EvPong })
		t.Logf("after the upgrade: %-42s → error events %v, connection stays open", r.name, got)
		refused++
	}
	// Nothing changed for the seeker's "ban" target: still connected, not banned.
	select {
	case <-victimSock.done:
		t.Errorf("the victim's socket closed (code %d)", victimSock.code)
	default:
	}
	if c, _, err := websocket.DefaultDialer.Dial(wsURL+"?token="+victim.Token, nil); err != nil {
		t.Errorf("the victim cannot connect after the seeker's commands: %v", err)
	} else {
		c.Close()
	}
	t.Logf("%d refusals checked (%d before the upgrade), 0 accepted; the commands' target still connected and unbanned", refused, len(pres)+1)
}
