package signaling

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"jobcast/live"
)

// publisherOffer returns a valid WHIP offer (VP8 + Opus, sendonly).
func publisherOffer(t *testing.T) string {
	t.Helper()
	p, _, _ := newPublisherPC(t, false)
	defer p.pc.Close()
	return offerFrom(t, p.pc)
}

func viewerOffer(t *testing.T) string {
	t.Helper()
	pc, err := clientAPI(t, false).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	return offerFrom(t, pc)
}

func errCode(a httpAnswer) string {
	i := strings.Index(a.body, `"code":"`)
	if i < 0 {
		return ""
	}
	rest := a.body[i+8:]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestWHIPStatusCodes(t *testing.T) {
	e := newEnv(t, nil)
	hostTok, seekerTok := "host-token", "seeker-token"
	host := e.auth.user(hostTok)
	e.auth.user(seekerTok)
	room := e.rooms.add("key-w", host)
	ended := e.rooms.add("key-e", host)
	e.rooms.setStatusDirect(ended, live.RoomEnded)
	offer := publisherOffer(t)
	whip := func(r live.RoomID) string { return e.url + "/api/rooms/" + string(r) + "/whip" }

	cases := []struct {
		name, url, token, ctype, body string
		status                        int
		code                          string
	}{
		{"wrong content type", whip(room), "key-w", "application/json", `{"sdp":"x"}`, 415, "unsupported_media_type"},
		{"no content type", whip(room), "key-w", "", offer, 415, "unsupported_media_type"},
		{"too large", whip(room), "key-w", "application/sdp", strings.Repeat("a", MaxSDPSize+1), 413, "body_too_large"},
		{"malformed SDP", whip(room), "key-w", "application/sdp", "v=0\r\nthis is not sdp\r\n", 400, "malformed_sdp"},
		{"empty SDP", whip(room), "key-w", "application/sdp", "", 400, "malformed_sdp"},
		{"receive-only offer", whip(room), "key-w", "application/sdp", viewerOffer(t), 400, "malformed_sdp"},
		{"no credentials", whip(room), "", "application/sdp", offer, 401, "unauthenticated"},
		{"wrong stream key", whip(room), "nope", "application/sdp", offer, 401, "invalid_credentials"},
		{"seeker token", whip(room), seekerTok, "application/sdp", offer, 403, "forbidden"},
		{"unknown room", whip(live.NewID[live.RoomID]()), "key-w", "application/sdp", offer, 404, "not_found"},
		{"malformed room id", e.url + "/api/rooms/not-a-uuid/whip", "key-w", "application/sdp", offer, 404, "not_found"},
		{"ended room", whip(ended), "key-e", "application/sdp", offer, 409, "room_ended"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, "POST", tc.url, tc.token, tc.ctype, tc.body)
			if a.status != tc.status || errCode(a) != tc.code {
				t.Fatalf("got %d %s, want %d %s", a.status, a.body, tc.status, tc.code)
			}
			if tc.status == 401 && a.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	if n := len(e.srv.byID); n != 0 {
		t.Fatalf("%d sessions left after refused requests", n)
	}

	// The host publishes with its token: 201 with Location, ETag, SDP.
	pub, a := publish(t, e.url, room, hostTok)
	if pub == nil {
		t.Fatalf("host publish: %d %s", a.status, a.body)
	}
	if a.header.Get("Content-Type") != "application/sdp" || a.header.Get("ETag") == "" ||
		!strings.HasPrefix(a.header.Get("Location"), "/api/rooms/"+string(room)+"/whip/") || !strings.HasPrefix(a.body, "v=0") {
		t.Fatalf("bad 201: %v %q", a.header, a.body[:20])
	}
	if !strings.Contains(a.body, "a=candidate:") || !strings.Contains(a.body, "a=end-of-candidates") {
		t.Fatal("answer lacks gathered candidates")
	}
	// Someone else (the stream key) while the host publishes: 409.
	if p2, a := publish(t, e.url, room, "key-w"); p2 != nil || a.status != 409 || errCode(a) != "publisher_exists" {
		t.Fatalf("second publisher: %d %s", a.status, a.body)
	}

	// Session resource: PATCH and DELETE check the credentials again.
	frag := "a=ice-ufrag:" + ufragOf(t, pub.pc.LocalDescription().SDP) + "\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n"
	patch := []struct {
		name, url, token, ctype, body string
		hdr                           []string
		status                        int
		code                          string
	}{
		{"patch no auth", pub.location, "", "application/trickle-ice-sdpfrag", frag, nil, 401, "unauthenticated"},
		{"patch stream key is another principal", pub.location, "key-w", "application/trickle-ice-sdpfrag", frag, nil, 403, "forbidden"},
		{"patch wrong type", pub.location, hostTok, "application/sdp", frag, nil, 415, "unsupported_media_type"},
		{"patch bad candidate", pub.location, hostTok, "application/trickle-ice-sdpfrag", "a=candidate:garbage\r\n", nil, 400, "malformed_candidate"},
		{"patch bad line", pub.location, hostTok, "application/trickle-ice-sdpfrag", "hello\r\n", nil, 400, "malformed_sdpfrag"},
		{"patch too large", pub.location, hostTok, "application/trickle-ice-sdpfrag", strings.Repeat("a", MaxSDPSize+1), nil, 413, "body_too_large"},
		{"patch ice restart without pwd", pub.location, hostTok, "application/trickle-ice-sdpfrag", "a=ice-ufrag:zzzz\r\n", nil, 400, "malformed_sdpfrag"},
		{"patch etag mismatch", pub.location, hostTok, "application/trickle-ice-sdpfrag", frag, []string{"If-Match", `"nope"`}, 412, "etag_mismatch"},
		{"patch unknown session", e.url + "/api/rooms/" + string(room) + "/whip/nope", hostTok, "application/trickle-ice-sdpfrag", frag, nil, 404, "not_found"},
		{"patch ok", pub.location, hostTok, "application/trickle-ice-sdpfrag", frag, []string{"If-Match", a.header.Get("ETag")}, 204, ""},
		{"patch eyevinn-style candidate", pub.location, hostTok, "application/trickle-ice-sdpfrag", "m=audio 9 RTP/AVP 0\r\na=mid:0\r\na=candidate:1 0 udp 2122134271 [::1] 42893 typ host\r\n", nil, 204, ""},
		{"patch end of candidates", pub.location, hostTok, "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n", nil, 204, ""},
	}
	for _, tc := range patch {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, "PATCH", tc.url, tc.token, tc.ctype, tc.body, tc.hdr...)
			if a.status != tc.status || errCode(a) != tc.code {
				t.Fatalf("got %d %s, want %d %s", a.status, a.body, tc.status, tc.code)
			}
		})
	}
	if a := do(t, "DELETE", pub.location, "key-w", "", ""); a.status != 403 {
		t.Fatalf("DELETE by another principal: %d", a.status)
	}
	// The same host publishing again replaces its own session.
	pub2, a := publish(t, e.url, room, hostTok)
	if pub2 == nil {
		t.Fatalf("replacing publish: %d %s", a.status, a.body)
	}
	eventually(t, 3*time.Second, "old session gone", func() bool {
		return !existsAs(t, pub.location, hostTok)
	})
	if a := do(t, "DELETE", pub2.location, hostTok, "", ""); a.status != 200 {
		t.Fatalf("DELETE: %d %s", a.status, a.body)
	}
	if e.rooms.status(room) != live.RoomEnded {
		t.Fatal("room not ended after DELETE")
	}
}

func ufragOf(t *testing.T, sdp string) string {
	t.Helper()
	for _, l := range strings.Split(sdp, "\r\n") {
		if strings.HasPrefix(l, "a=ice-ufrag:") {
			return strings.TrimPrefix(l, "a=ice-ufrag:")
		}
	}
	t.Fatal("no ufrag")
	return ""
}

func TestCORSAndOptions(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.AllowedOrigins = []string{"https://jobs.example"}
		c.ICEServers = []ICEServer{{URLs: []string{"stun:stun.example.net:3478"}}, {URLs: []string{"turn:turn.example.net:3478"}, Username: "u", Credential: "p"}}
	})
	room := e.rooms.add("k")
	for _, ep := range []string{"whip", "whep"} {
		a := do(t, "OPTIONS", e.url+"/api/rooms/"+string(room)+"/"+ep, "", "", "",
			"Origin", "https://jobs.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
		if a.status != 204 || a.header.Get("Accept-Post") != "application/sdp" ||
			a.header.Get("Access-Control-Allow-Origin") != "https://jobs.example" ||
			!strings.Contains(a.header.Get("Access-Control-Expose-Headers"), "Location") ||
			!strings.Contains(a.header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Fatalf("%s preflight: %d %v", ep, a.status, a.header)
		}
		a = do(t, "OPTIONS", e.url+"/api/rooms/"+string(room)+"/"+ep, "", "", "", "Origin", "https://evil.example")
		if a.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s: foreign origin allowed", ep)
		}
	}
	pub, a := publish(t, e.url, room, "k")
	if pub == nil {
		t.Fatalf("publish: %d", a.status)
	}
	links := a.header.Values("Link")
	if len(links) != 2 || links[0] != `<stun:stun.example.net:3478>; rel="ice-server"` ||
		links[1] != `<turn:turn.example.net:3478>; rel="ice-server"; username="u"; credential="p"; credential-type="password"` {
		t.Fatalf("Link headers: %q", links)
	}
}

func TestParseICEServers(t *testing.T) {
	got, err := ParseICEServers("stun:a.example:3478, turn:b.example:3478?transport=udp|user|pass")
	if err != nil || len(got) != 2 || got[1].Username != "user" || got[1].Credential != "pass" || got[0].URLs[0] != "stun:a.example:3478" {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"http://x", "turn:x|onlyuser", "stun:"} {
		if _, err := ParseICEServers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// ICE-TCP fallback: a publisher and a viewer that can only use TCP.
func TestICETCPFallback(t *testing.T) {
	e := newEnv(t, nil)
	room := e.rooms.add("k")
	pub, a := publishWith(t, e.url, room, "k", true)
	if pub == nil {
		t.Fatalf("publish: %d %s", a.status, a.body)
	}
	v, a := watchWith(t, e.url, room, "", true)
	if v == nil {
		t.Fatalf("watch: %d %s", a.status, a.body)
	}
	eventually(t, 10*time.Second, "video over ICE-TCP", func() bool { return v.video.Load() > 10 && v.keyframes.Load() > 0 })
	if http.StatusOK != do(t, "DELETE", v.location, "", "", "").status {
		t.Fatal("viewer DELETE failed")
	}
}

// JOBCAST_RTC_IPS: media binds to and announces only the listed addresses
// (here loopback, which the default set leaves out), and plays over UDP.
func TestMediaIPs(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.LoopbackOnly = false
		c.IPs = []net.IP{net.IPv4(127, 0, 0, 1)}
		c.UDPPort, c.TCPPort = 0, 0
	})
	_, _, _, a := publishAndWatch(t, e, "k") // it plays: over UDP on loopback
	var cands int
	for l := range strings.SplitSeq(a.body, "\n") {
		if !strings.HasPrefix(l, "a=candidate:") {
			continue
		}
		cands++
		if f := strings.Fields(l); len(f) < 5 || f[4] != "127.0.0.1" {
			t.Errorf("candidate outside JOBCAST_RTC_IPS: %s", strings.TrimSpace(l))
		}
	}
	if cands == 0 {
		t.Fatalf("answer without candidates:\n%s", a.body)
	}
}
