package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gorilla/websocket"
)

// wsEvent encodes one event envelope.
func wsEvent(typ string, seq int, data any) []byte {
	m := map[string]any{"type": typ, "at": time.Now().UTC().Format(time.RFC3339), "data": data}
	if seq > 0 {
		m["seq"] = seq
	}
	b, _ := json.Marshal(m)
	return b
}

func chatEv(seq int, text string) []byte {
	return wsEvent("chat", seq, map[string]any{"id": text, "user_id": "u9", "name": "Zhao", "role": "seeker", "text": text})
}

// TestChatRecovery drops the WebSocket and checks that the page reconnects
// with ?since=&epoch=, drops replayed duplicates, applies a deletion, and
// reconnects to fill a gap in seq — ending with exactly the right messages.
func TestChatRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	type dial struct{ since, epoch string }
	dials := make(chan dial, 10)
	var mu sync.Mutex
	n := 0
	up := websocket.Upgrader{}
	ws := func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		mu.Lock()
		n++
		attempt := n
		mu.Unlock()
		dials <- dial{r.URL.Query().Get("since"), r.URL.Query().Get("epoch")}
		send := func(evs ...[]byte) {
			_ = c.WriteMessage(websocket.TextMessage, []byte(strings.Join(func() []string {
				var s []string
				for _, e := range evs {
					s = append(s, string(e))
				}
				return s
			}(), "\n")))
		}
		snap := map[string]any{"room": map[string]any{"id": fakeRoom, "org_id": fakeOrg, "title": "Fair", "status": "scheduled",
			"settings": map[string]any{"chat": "open", "slow_mode_seconds": 0, "blocked_words": []string{}}}, "shelf": []any{}, "pinned": nil, "exhibitors": []any{}}
		switch attempt {
		case 1: // fresh join at seq 7: the page reconnects at once for recent history
			send(wsEvent("welcome", 0, map[string]any{"role": "visitor", "seq": 7, "epoch": "e1", "recovered": false, "snapshot": snap, "viewers": 1}),
				chatEv(8, "early news the backfill replays"))
		case 2: // history from 0: chats 6 and 7 (old), a pin (old, not passed on), 8 and 9 (new), then the network drops
			send(wsEvent("welcome", 0, map[string]any{"role": "visitor", "seq": 0, "epoch": "e1", "recovered": true, "viewers": 1}),
				chatEv(6, "m6"), wsEvent("unpin", 5, map[string]any{"job_id": fakeJob1}), chatEv(7, "m7"), chatEv(8, "m8"), chatEv(9, "m9"))
			time.Sleep(300 * time.Millisecond)
			return
		case 3: // recovered: replays 9 (a duplicate), then 10 and a deletion of 8, then skips 12
			send(wsEvent("welcome", 0, map[string]any{"role": "visitor", "seq": 9, "epoch": "e1", "recovered": true, "viewers": 1}),
				chatEv(9, "m9"), chatEv(10, "m10"), wsEvent("chat.deleted", 11, map[string]any{"seq": 8}))
			time.Sleep(200 * time.Millisecond)
			send(chatEv(13, "m13"))
		default: // the gap is filled from since=11
			send(wsEvent("welcome", 0, map[string]any{"role": "visitor", "seq": 11, "epoch": "e1", "recovered": true, "viewers": 1}),
				chatEv(12, "m12"), chatEv(13, "m13"))
		}
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}
	srv := fakeAPI(t, fakeOpts{ws: ws})
	browser := newBrowser(t)
	ctx, console := newTab(t, browser)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/rooms/"+fakeRoom)); err != nil {
		t.Fatal(err)
	}
	want := []dial{{"", ""}, {"0", "e1"}, {"9", "e1"}, {"11", "e1"}}
	for i, w := range want {
		select {
		case d := <-dials:
			if d != w {
				t.Errorf("connection %d: since=%q epoch=%q, want %+v", i+1, d.since, d.epoch, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("connection %d never came", i+1)
		}
	}
	waitJS(t, ctx, `[...document.querySelectorAll('#chat .chat-list .text')].map(e => e.textContent).join(',') === 'm6,m7,m9,m10,m12,m13'`, 5*time.Second)
	if msgs := console.take(visitor401); len(msgs) > 0 {
		t.Errorf("console:\n  %s", strings.Join(msgs, "\n  "))
	}
}

// TestApplyWithKeyboard applies from the pinned card with the keyboard
// alone: Tab to Apply, Enter, the short profile form on 409
// profile_incomplete, then the receipt and its announcement.
func TestApplyWithKeyboard(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	var mu sync.Mutex
	var phone string
	var keys []string
	apply := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		if phone == "" {
			w.WriteHeader(http.StatusConflict)
			jsonOK(w, map[string]any{"error": map[string]any{"code": "profile_incomplete", "message": "add phone", "fields": []string{"phone"}}})
			return
		}
		w.WriteHeader(http.StatusCreated)
		jsonOK(w, map[string]any{"id": fakeApp, "job_id": r.PathValue("job"), "status": "new"})
	}
	profile := func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			FullName string `json:"full_name"`
			Phone    string `json:"phone"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &p)
		mu.Lock()
		phone = p.Phone
		mu.Unlock()
		jsonOK(w, map[string]any{"profile": p})
	}
	srv := fakeAPI(t, fakeOpts{noApps: true, handler: map[string]http.HandlerFunc{
		"POST /api/rooms/{id}/jobs/{job}/apply": apply,
		"PUT /api/me/profile":                   profile,
	}})
	browser := newBrowser(t)
	ctx, console := newTab(t, browser)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/static/css/app.css")); err != nil {
		t.Fatal(err)
	}
	eval[chromedp.Void](t, ctx, `localStorage.setItem('jobcast.token', 't'); localStorage.setItem('jobcast.lang', 'en')`)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/rooms/"+fakeRoom)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.body.dataset.ready === '1' && document.querySelector('#pinned-card .apply')`, 10*time.Second)
	// Tab from the top of the page until the pinned Apply button has focus.
	reached := false
	for i := 0; i < 40 && !reached; i++ {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		reached = eval[bool](t, ctx, `document.activeElement === document.querySelector('#pinned-card .apply')`)
	}
	if !reached {
		t.Fatal("the pinned Apply button is not reachable with Tab")
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.getElementById('profile-dialog').open && document.activeElement.id === 'pd-phone'`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("13800000000"+kb.Enter)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelector('#pinned-card .apply').textContent === 'Applied ✓'`, 5*time.Second)
	waitJS(t, ctx, `document.getElementById('announcer').textContent === 'Applied to Warehouse clerk.'`, 5*time.Second)
	if got := eval[string](t, ctx, `document.querySelector('#pinned-card .receipt').textContent`); !strings.Contains(got, "Your application was sent") {
		t.Errorf("receipt = %q", got)
	}
	// The shelf copy of the same job shows the receipt too.
	if got := eval[string](t, ctx, `document.querySelector('#shelf .apply').textContent`); got != "Applied ✓" {
		t.Errorf("shelf button = %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if phone != "13800000000" {
		t.Errorf("profile phone = %q", phone)
	}
	if len(keys) != 2 || keys[0] == "" || keys[1] == "" {
		t.Errorf("apply calls with keys %q, want two keyed calls", keys)
	}
	if msgs := console.take(); len(msgs) > 0 {
		// The 409 is logged by the browser as a failed resource load; nothing else may be.
		for _, m := range msgs {
			if !strings.Contains(m, "status of 409") {
				t.Errorf("console: %s", m)
			}
		}
	}
}
