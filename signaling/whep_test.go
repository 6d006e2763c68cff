package signaling

import (
	"strings"
	"testing"
	"time"

	"jobcast/live"
)

func TestWHEPStatusCodes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxViewersPerUser = 2; c.MaxViewersPerRoom = 4 })
	bannedTok, fanTok := "banned-token", "fan-token"
	banned := e.auth.user(bannedTok)
	e.auth.user(fanTok)
	room := e.rooms.add("k")
	e.rooms.ban(room, banned)
	ended := e.rooms.add("k2")
	e.rooms.setStatusDirect(ended, live.RoomEnded)
	whep := func(r live.RoomID) string { return e.url + "/api/rooms/" + string(r) + "/whep" }
	offer := viewerOffer(t)

	// Before the host is live: 503 + Retry-After, for POST and HEAD.
	a := do(t, "POST", whep(room), "", "application/sdp", offer)
	if a.status != 503 || a.header.Get("Retry-After") == "" || errCode(a) != "room_not_live" {
		t.Fatalf("viewer before host: %d %v %s", a.status, a.header, a.body)
	}
	if a := do(t, "HEAD", whep(room), "", "", ""); a.status != 503 || a.header.Get("Retry-After") == "" {
		t.Fatalf("HEAD before host: %d", a.status)
	}
	pub, a := publish(t, e.url, room, "k")
	if pub == nil {
		t.Fatalf("publish: %d %s", a.status, a.body)
	}
	if a := do(t, "HEAD", whep(room), "", "", ""); a.status != 200 {
		t.Fatalf("HEAD when live: %d", a.status)
	}

	cases := []struct {
		name, url, token, ctype, body string
		status                        int
		code                          string
	}{
		{"wrong content type", whep(room), "", "text/plain", offer, 415, "unsupported_media_type"},
		{"too large", whep(room), "", "application/sdp", strings.Repeat("v", MaxSDPSize+1), 413, "body_too_large"},
		{"malformed SDP", whep(room), "", "application/sdp", "garbage", 400, "malformed_sdp"},
		{"send-only offer", whep(room), "", "application/sdp", publisherOffer(t), 400, "malformed_sdp"},
		{"bad bearer", whep(room), "who-knows", "application/sdp", offer, 401, "unauthenticated"},
		{"banned", whep(room), bannedTok, "application/sdp", offer, 403, "banned"},
		{"unknown room", whep(live.NewID[live.RoomID]()), "", "application/sdp", offer, 404, "not_found"},
		{"ended room", whep(ended), "", "application/sdp", offer, 409, "room_ended"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, "POST", tc.url, tc.token, tc.ctype, tc.body)
			if a.status != tc.status || errCode(a) != tc.code {
				t.Fatalf("got %d %s, want %d %s", a.status, a.body, tc.status, tc.code)
			}
		})
	}

	// Per-user cap (2): the third player of the same user gets 429.
	v1, _ := watch(t, e.url, room, fanTok)
	v2, _ := watch(t, e.url, room, fanTok)
	if v1 == nil || v2 == nil {
		t.Fatal("fan's players refused")
	}
	if _, a := watch(t, e.url, room, fanTok); a.status != 429 || errCode(a) != "too_many_sessions" || a.header.Get("Retry-After") == "" {
		t.Fatalf("third player: %d %s", a.status, a.body)
	}
	// Per-room cap (4): two visitors fill it, the next one gets 429.
	for i := 0; i < 2; i++ {
		if v, a := watch(t, e.url, room, ""); v == nil {
			t.Fatalf("visitor %d: %d %s", i, a.status, a.body)
		}
	}
	if _, a := watch(t, e.url, room, "other-"+fanTok); a.status != 401 {
		t.Fatalf("unknown token: %d", a.status)
	}
	e.auth.user("late-token")
	if _, a := watch(t, e.url, room, "late-token"); a.status != 429 || errCode(a) != "room_full" {
		t.Fatalf("room cap: %d %s", a.status, a.body)
	}
	// A viewer's DELETE frees its slot.
	if a := do(t, "DELETE", v1.location, "", "", ""); a.status != 200 {
		t.Fatalf("viewer DELETE: %d", a.status)
	}
	if a := do(t, "DELETE", v1.location, "", "", ""); a.status != 404 {
		t.Fatalf("second viewer DELETE: %d", a.status)
	}
	v3, a := watch(t, e.url, room, "late-token")
	if v3 == nil {
		t.Fatalf("after a DELETE: %d %s", a.status, a.body)
	}
	// Another user's bearer may not delete this viewer's session.
	if a := do(t, "DELETE", v2.location, "late-token", "", ""); a.status != 403 {
		t.Fatalf("DELETE by another user: %d", a.status)
	}
	// Kick (ban, logout) closes that user's players only.
	e.srv.Kick(room, e.auth.mustID(t, fanTok))
	select {
	case <-v2.gone:
	case <-time.After(10 * time.Second):
		t.Fatal("kicked viewer still connected")
	}
	eventually(t, 2*time.Second, "kicked session removed", func() bool {
		return !exists(t, v2.location)
	})
	eventually(t, 3*time.Second, "others still playing", func() bool { return v3.video.Load() > 5 })
}

// A publisher whose connection drops gets a grace period: viewers stay
// connected, and when it comes back they keep playing one continuous
// stream. If it does not come back in time, the room ends.
func TestPublisherGracePeriod(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PublisherGrace = 1500 * time.Millisecond })
	room := e.rooms.add("k")
	pub, a := publish(t, e.url, room, "k")
	if pub == nil {
		t.Fatalf("publish: %d", a.status)
	}
	v, _ := watch(t, e.url, room, "")
	eventually(t, 5*time.Second, "video", func() bool { return v.video.Load() > 10 })
	pub.close() // crash: no DELETE
	time.Sleep(300 * time.Millisecond)
	before := v.video.Load()
	pub2, a := publish(t, e.url, room, "k")
	if pub2 == nil {
		t.Fatalf("publish again: %d %s", a.status, a.body)
	}
	eventually(t, 5*time.Second, "video from the returning publisher", func() bool { return v.video.Load() > before+20 })
	if gaps := v.seqGaps.Load(); gaps > 1 {
		t.Fatalf("viewer saw %d sequence gaps across the reconnect, want one continuous stream", gaps)
	}
	select {
	case <-v.gone:
		t.Fatal("viewer dropped during the grace period")
	default:
	}
	if e.rooms.status(room) != live.RoomLive {
		t.Fatal("room left live during the grace period")
	}
	pub2.close()
	select {
	case <-v.gone:
	case <-time.After(15 * time.Second):
		t.Fatal("viewer not closed after the grace period")
	}
	eventually(t, 3*time.Second, "room ended after the grace period", func() bool { return e.rooms.status(room) == live.RoomEnded })
}

// A session whose client never connects is closed after ConnectTimeout,
// freeing its slot and its peer connection.
func TestConnectTimeoutClosesSession(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ConnectTimeout = 700 * time.Millisecond; c.MaxViewersPerIP = 1 })
	room := e.rooms.add("k")
	if pub, a := publish(t, e.url, room, "k"); pub == nil {
		t.Fatalf("publish: %d", a.status)
	}
	// An offer without candidates from a client that never checks: the
	// server has nobody to connect to until its timeout.
	var lines []string
	for _, l := range strings.Split(viewerOffer(t), "\r\n") {
		if !strings.HasPrefix(l, "a=candidate:") && l != "a=end-of-candidates" {
			lines = append(lines, l)
		}
	}
	start := time.Now()
	a := do(t, "POST", e.url+"/api/rooms/"+string(room)+"/whep", "", "application/sdp", strings.Join(lines, "\r\n"))
	if a.status != 201 {
		t.Fatalf("WHEP: %d %s", a.status, a.body)
	}
	loc := e.url + a.header.Get("Location")
	if _, a := watch(t, e.url, room, ""); a.status != 429 {
		t.Fatalf("second session of the same client: %d, want 429 (cap 1)", a.status)
	}
	eventually(t, 5*time.Second, "dead session closed", func() bool {
		return !exists(t, loc)
	})
	if took := time.Since(start); took < 600*time.Millisecond {
		t.Fatalf("session closed after %v, before its connect timeout", took)
	}
	if v, a := watch(t, e.url, room, ""); v == nil {
		t.Fatalf("slot not freed: %d %s", a.status, a.body)
	}
}
