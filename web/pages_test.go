package web

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// Fixtures of the fake API: just enough data that every part of every page
// renders (the real API is exercised by the story test).
const (
	fakeRoom  = "0193b1f0-0000-7000-8000-00000000a001"
	fakeRoom2 = "0193b1f0-0000-7000-8000-00000000a002"
	fakeOrg   = "0193b1f0-0000-7000-8000-00000000b001"
	fakeJob1  = "0193b1f0-0000-7000-8000-00000000c001"
	fakeJob2  = "0193b1f0-0000-7000-8000-00000000c002"
	fakeUser  = "0193b1f0-0000-7000-8000-00000000d001"
	fakeApp   = "0193b1f0-0000-7000-8000-00000000e001"
)

func jsonOK(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// fakeOpts changes parts of the fake API for one test.
type fakeOpts struct {
	ws      http.HandlerFunc // the room WebSocket (default: welcome, two chats, one held)
	noApps  bool             // the user has applied to nothing yet
	status  string           // the room's status in snapshots (default scheduled)
	media   http.Handler     // serves WHIP/WHEP paths when set
	handler map[string]http.HandlerFunc
}

// fakeAPI serves Handler() plus a fake of the REST API and the room
// WebSocket. A request carrying a bearer token is signed in as a host who
// also moderates.
func fakeAPI(t *testing.T, opts ...fakeOpts) *httptest.Server {
	var o fakeOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	t.Helper()
	card := func(id, title string, tags []string) map[string]any {
		return map[string]any{
			"job_id": id, "org_id": fakeOrg, "org_name": "Acme Logistics", "title": title, "city": "Shenzhen",
			"salary_min": 6000, "salary_max": 9000, "salary_period": "month", "openings": 12, "tags": tags,
			"accessible": contains(tags, "accessible"), "status": "open", "applicants": 3,
		}
	}
	shelf := []any{card(fakeJob1, "Warehouse clerk", []string{"accessible", "no_experience"}), card(fakeJob2, "Forklift driver", []string{"graduate"})}
	room := func(id, status string) map[string]any {
		return map[string]any{
			"id": id, "org_id": fakeOrg, "org_name": "Acme Logistics", "title": "Spring job fair " + status,
			"description": "Twenty employers, two hundred jobs.", "status": status, "starts_at": "2026-03-01T02:00:00Z",
			"settings": map[string]any{"slow_mode_seconds": 0, "chat": "open", "blocked_words": []string{"deposit"}},
		}
	}
	status := o.status
	if status == "" {
		status = "scheduled"
	}
	snapshot := func(id string) map[string]any {
		return map[string]any{"room": room(id, status), "shelf": shelf, "pinned": shelf[0], "exhibitors": []any{}, "viewers": 42}
	}
	job := func(id, title string, tags []string, status string) map[string]any {
		return map[string]any{"id": id, "org_id": fakeOrg, "title": title, "description": "Good job.", "city": "Shenzhen",
			"salary_min": 6000, "salary_max": 9000, "salary_period": "month", "openings": 12, "tags": tags, "status": status}
	}
	app := map[string]any{
		"id": fakeApp, "job_id": fakeJob1, "job_title": "Warehouse clerk", "org_id": fakeOrg, "room_id": fakeRoom,
		"seeker_id": fakeUser, "status": "new", "note": "", "notes": "", "created_at": "2026-03-01T02:10:00Z", "updated_at": "2026-03-01T02:10:00Z",
		"profile": map[string]any{"full_name": "Li Hua", "phone": "13800000000", "city": "Shenzhen", "skills": []string{"Excel"}, "summary": "", "accessibility_needs": "Wheelchair user"},
	}
	mux := http.NewServeMux()
	signedIn := func(r *http.Request) bool { return strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") }
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		if !signedIn(r) {
			w.WriteHeader(401)
			jsonOK(w, map[string]any{"error": map[string]string{"code": "unauthenticated", "message": "sign in first"}})
			return
		}
		jsonOK(w, map[string]any{
			"user":    map[string]any{"id": fakeUser, "email": "host@example.test", "name": "Host Wang"},
			"profile": map[string]any{"full_name": "Wang Fang", "phone": "", "city": "Shenzhen", "skills": []string{"Go"}, "summary": "", "accessibility_needs": ""},
			"orgs":    []any{map[string]any{"org": map[string]any{"id": fakeOrg, "name": "Acme Logistics"}, "role": "owner"}},
		})
	})
	mux.HandleFunc("GET /api/me/applications", func(w http.ResponseWriter, r *http.Request) {
		if o.noApps {
			jsonOK(w, map[string]any{"applications": []any{}})
			return
		}
		jsonOK(w, map[string]any{"applications": []any{app}})
	})
	for pattern, h := range o.handler {
		mux.HandleFunc(pattern, h)
	}
	mux.HandleFunc("GET /api/rooms", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("status") {
		case "live":
			jsonOK(w, []any{room(fakeRoom, "live")})
		case "scheduled":
			jsonOK(w, []any{room(fakeRoom2, "scheduled")})
		default:
			jsonOK(w, []any{})
		}
	})
	mux.HandleFunc("GET /api/rooms/{id}", func(w http.ResponseWriter, r *http.Request) { jsonOK(w, snapshot(r.PathValue("id"))) })
	mux.HandleFunc("GET /api/orgs/{org}/jobs", func(w http.ResponseWriter, r *http.Request) {
		jsonOK(w, []any{job(fakeJob1, "Warehouse clerk", []string{"accessible"}, "open"), job(fakeJob2, "Forklift driver", nil, "closed"),
			job("0193b1f0-0000-7000-8000-00000000c003", "Night shift picker", []string{"remote"}, "open")})
	})
	mux.HandleFunc("GET /api/orgs/{org}/members", func(w http.ResponseWriter, r *http.Request) {
		jsonOK(w, []any{map[string]any{"org_id": fakeOrg, "user_id": fakeUser, "name": "Host Wang", "role": "owner"}})
	})
	mux.HandleFunc("GET /api/orgs/{org}/applications", func(w http.ResponseWriter, r *http.Request) {
		app2 := maps.Clone(app)
		app2["id"], app2["job_id"], app2["job_title"], app2["created_at"] = fakeApp[:35]+"2", fakeJob2, "Forklift driver", "2026-03-01T02:20:00Z"
		jsonOK(w, map[string]any{"applications": []any{app, app2}})
	})
	mux.HandleFunc("GET /api/rooms/{id}/held", func(w http.ResponseWriter, r *http.Request) {
		jsonOK(w, map[string]any{"held": []any{map[string]any{"id": "0193b1f0-0000-7000-8000-00000000f001", "status": "pending", "reason": "asks for money",
			"message": map[string]any{"id": "0193b1f0-0000-7000-8000-00000000f001", "user_id": "u3", "name": "Scammer", "text": "Pay a 500 yuan deposit to reserve"}}}})
	})
	mux.HandleFunc("GET /api/rooms/{id}/messages/direct", func(w http.ResponseWriter, r *http.Request) {
		jsonOK(w, map[string]any{"messages": []any{
			map[string]any{"id": "d1", "from_id": r.URL.Query().Get("with"), "text": "Hello, I can help you prepare for interviews.", "created_at": "2026-03-01T02:05:00Z"},
			map[string]any{"id": "d2", "from_id": fakeUser, "text": "Thank you!", "created_at": "2026-03-01T02:06:00Z"},
		}})
	})
	mux.HandleFunc("GET /api/rooms/{id}/report", func(w http.ResponseWriter, r *http.Request) {
		jsonOK(w, map[string]any{"room_id": r.PathValue("id"), "viewers": map[string]any{"unique_signed_in": 40, "peak": 57},
			"help_requests": map[string]any{"seekers": 4, "asks": 5}, "applications": map[string]any{"total": 2}})
	})
	mux.HandleFunc("GET /api/rooms/{id}/bans", func(w http.ResponseWriter, r *http.Request) {
		jsonOK(w, map[string]any{"bans": []any{map[string]any{"user_id": "u4", "name": "Troll", "reason": "spam", "created_at": "2026-03-01T02:00:00Z"}}})
	})
	mux.HandleFunc("GET /api/applications/{id}", func(w http.ResponseWriter, r *http.Request) { jsonOK(w, app) })
	up := websocket.Upgrader{}
	if o.ws != nil {
		mux.HandleFunc("GET /api/rooms/{id}/ws", o.ws)
	} else {
		mux.HandleFunc("GET /api/rooms/{id}/ws", func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			now := time.Now().UTC().Format(time.RFC3339)
			events := []any{
				map[string]any{"type": "welcome", "at": now, "data": map[string]any{
					"role": "host", "seq": 7, "epoch": "e1", "recovered": false, "viewers": 42, "snapshot": snapshot(r.PathValue("id"))}},
				map[string]any{"type": "chat", "seq": 8, "at": now, "data": map[string]any{"id": "m1", "user_id": "u2", "name": "Zhang <b>Wei</b>", "role": "seeker", "text": "Is there a dormitory? <img src=x onerror=alert(1)>"}},
				map[string]any{"type": "chat", "seq": 9, "at": now, "data": map[string]any{"id": "m2", "user_id": fakeUser, "name": "Host Wang", "role": "host", "text": "Yes, free for the first year."}},
			}
			// Two frames: a batch joined by newlines (as the chat service sends)
			// and a single event.
			var batch []byte
			for i, ev := range events {
				b, _ := json.Marshal(ev)
				if i > 0 {
					batch = append(batch, '\n')
				}
				batch = append(batch, b...)
			}
			if err := c.WriteMessage(websocket.TextMessage, batch); err != nil {
				return
			}
			_ = c.WriteJSON(map[string]any{"type": "recommendations", "at": now, "data": map[string]any{"room_id": fakeRoom, "complete": true, "count": 2,
				"jobs": []any{
					map[string]any{"card": shelf[1], "room_id": fakeRoom, "score": 50, "reasons": []any{map[string]any{"code": "on_shelf"}, map[string]any{"code": "graduate"}}},
					map[string]any{"card": card("0193b1f0-0000-7000-8000-00000000c009", "Call-centre agent", []string{"accessible", "remote"}), "room_id": fakeRoom2, "score": 40,
						"reasons": []any{map[string]any{"code": "accessible"}, map[string]any{"code": "same_city", "value": "Shenzhen"}, map[string]any{"code": "open_elsewhere"}}},
				}}})
			_ = c.WriteJSON(map[string]any{"type": "dm", "at": now, "data": map[string]any{"id": "d1", "room_id": fakeRoom, "from_id": "0193b1f0-0000-7000-8000-00000000d009", "seeker_id": fakeUser}})
			_ = c.WriteJSON(map[string]any{"type": "chat.held", "at": now, "data": map[string]any{"message": map[string]any{"id": "0193b1f0-0000-7000-8000-00000000f001", "user_id": "u3", "name": "Scammer", "text": "Pay a 500 yuan deposit to reserve"}, "reason": "asks for money"}})
			for {
				var m map[string]any
				if err := c.ReadJSON(&m); err != nil {
					return
				}
			}
		})
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		jsonOK(w, map[string]any{"error": map[string]string{"code": "not_found", "message": "not found"}})
	})
	mux.Handle("/", Handler())
	var h http.Handler = mux
	if o.media != nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/whip") || strings.Contains(r.URL.Path, "/whep") {
				o.media.ServeHTTP(w, r)
				return
			}
			mux.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestPagesInBrowser loads every page in headless Chromium in English and
// Chinese: no console errors, no missing translations, no serious or
// critical axe-core violations, nothing wider than a 360 px phone, and
// (with $JOBCAST_ARTIFACTS) screenshots at desktop and phone width.
func TestPagesInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	srv := fakeAPI(t)
	browser := newBrowser(t)
	dir := artifactsDir(t)
	pages := []struct {
		name, path string
		signedIn   bool
		readyJS    string // extra condition after body[data-ready]
	}{
		{"rooms", "/", false, `document.querySelectorAll('.room-item').length === 2`},
		{"watch", "/rooms/" + fakeRoom, true, `!document.getElementById('mod').hidden && document.querySelectorAll('#chat .chat-list > li').length === 2 && document.querySelectorAll('#held > li').length === 1 && document.querySelectorAll('#bans > li').length === 1 && document.querySelectorAll('#recs-list > li').length === 2 && document.querySelectorAll('#dm-list > li').length === 2`},
		{"watch-visitor", "/rooms/" + fakeRoom, false, `document.querySelectorAll('#chat .chat-list > li').length === 2`},
		{"studio", "/studio/" + fakeRoom, true, `document.querySelectorAll('#shelf > li').length === 2 && document.getElementById('camera').options.length > 0`},
		{"dashboard", "/dashboard", true, `document.querySelectorAll('#apps-body tr').length === 2 && document.querySelectorAll('#summary svg').length === 2 && document.querySelectorAll('#summary .facts dd').length === 3`},
		{"signin", "/signin", false, `true`},
		{"profile", "/profile", true, `document.getElementById('p-city').value === 'Shenzhen'`},
		{"applications", "/me/applications", true, `document.querySelectorAll('.app-item').length === 1`},
	}
	for _, lang := range []string{"en", "zh-CN"} {
		for _, pg := range pages {
			t.Run(lang+"/"+pg.name, func(t *testing.T) {
				ctx, console := newTab(t, browser)
				token := ""
				if pg.signedIn {
					token = "fake-token"
				}
				if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/static/css/app.css")); err != nil {
					t.Fatal(err)
				}
				eval[chromedp.Void](t, ctx, `localStorage.setItem('jobcast.lang', '`+lang+`'); localStorage.setItem('jobcast.token', '`+token+`')`)
				if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(srv.URL+pg.path)); err != nil {
					t.Fatal(err)
				}
				waitJS(t, ctx, `document.body.dataset.ready === '1' && (`+pg.readyJS+`)`, 10*time.Second)
				if got := eval[string](t, ctx, `document.documentElement.lang`); got != lang {
					t.Errorf("html lang = %q, want %q", got, lang)
				}
				// User text is shown as text, never parsed as HTML.
				if pg.name == "watch" {
					if n := eval[int](t, ctx, `document.querySelectorAll('.chat-log img, .chat-log b').length`); n != 0 {
						t.Errorf("chat rendered %d HTML elements from user text", n)
					}
				}
				if vs := runAxe(t, ctx); len(vs) > 0 {
					t.Errorf("axe: %d serious/critical violations:%s", len(vs), formatViolations(vs))
				}
				// Screenshots of the fake-data pages only when someone collects
				// them (the story test always writes the real pages').
				if os.Getenv("JOBCAST_ARTIFACTS") != "" {
					screenshot(t, ctx, dir, lang+"-"+pg.name+"-desktop", 1280, 900)
				}
				if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740)); err != nil {
					t.Fatal(err)
				}
				if os.Getenv("JOBCAST_ARTIFACTS") != "" {
					screenshot(t, ctx, dir, lang+"-"+pg.name+"-360", 360, 740)
				}
				if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 360 {
					t.Errorf("page is %d px wide at a 360 px viewport", w)
				}
				if missing := eval[[]string](t, ctx, `window.__i18nMissing || []`); len(missing) > 0 {
					t.Errorf("missing translations: %v", missing)
				}
				// A visitor's GET /api/me answers 401 by design; the browser logs it.
				if msgs := console.take(visitor401); len(msgs) > 0 {
					t.Errorf("console:\n  %s", strings.Join(msgs, "\n  "))
				}
			})
		}
	}
}

// TestLanguageSwitch switches language with the header button: the page
// re-translates in place, and the choice is remembered.
func TestLanguageSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	srv := fakeAPI(t)
	browser := newBrowser(t)
	ctx, console := newTab(t, browser)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/static/css/app.css")); err != nil {
		t.Fatal(err)
	}
	eval[chromedp.Void](t, ctx, `localStorage.setItem('jobcast.lang', 'en')`)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/rooms/"+fakeRoom)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.body.dataset.ready === '1' && document.querySelector('.lang-switch')`, 10*time.Second)
	if got := eval[string](t, ctx, `document.getElementById('shelf-h').textContent`); got != "Jobs in this room" {
		t.Fatalf("English heading = %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".lang-switch"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.documentElement.lang === 'zh-CN'`, 5*time.Second)
	for sel, want := range map[string]string{
		"#shelf-h":                       "本场岗位",
		"#pinned-card .apply":            "立即投递",
		"#pinned-card .badge-accessible": "♿ 残疾人友好",
		"#chat-h":                        "聊天",
	} {
		if got := eval[string](t, ctx, `document.querySelector('`+sel+`').textContent`); got != want {
			t.Errorf("%s = %q after switching, want %q", sel, got, want)
		}
	}
	if got := eval[string](t, ctx, `localStorage.getItem('jobcast.lang')`); got != "zh-CN" {
		t.Errorf("remembered language = %q", got)
	}
	if msgs := console.take(visitor401); len(msgs) > 0 {
		t.Errorf("console:\n  %s", strings.Join(msgs, "\n  "))
	}
}

var visitor401 = regexp.MustCompile(`status of 401 \(Unauthorized\) \(http://[^ ]+/api/me:0\)$`)
