package signaling

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"jobcast/live"
)

func init() { gin.SetMode(gin.TestMode) }

// env is one media node under test: a Server on loopback behind an
// httptest server, with fake rooms and sessions.
type env struct {
	t     *testing.T
	rooms *fakeRooms
	auth  *fakeSessions
	srv   *Server
	hs    *httptest.Server
	url   string

	mu     sync.Mutex
	counts map[string]int // "METHOD status" → requests answered
}

// count returns how many method requests were answered with status.
func (e *env) count(method string, status int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[method+" "+strconv.Itoa(status)]
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

func newEnv(t *testing.T, mutate func(*Config)) *env {
	return newEnvWith(t, newFakeRooms(), newFakeSessions(), nil, mutate)
}

func newEnvWith(t *testing.T, rooms *fakeRooms, auth *fakeSessions, reg Registry, mutate func(*Config)) *env {
	t.Helper()
	e := &env{t: t, rooms: rooms, auth: auth, counts: map[string]int{}}
	mux := http.NewServeMux()
	e.hs = httptest.NewServer(mux)
	e.url = e.hs.URL
	cfg := Config{LoopbackOnly: true, PublisherGrace: 2 * time.Second, ConnectTimeout: 5 * time.Second}
	if reg != nil {
		cfg.NodeURL = e.url
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, rooms, auth, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	g := gin.New()
	srv.Register(g)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		g.ServeHTTP(rec, r)
		e.mu.Lock()
		e.counts[r.Method+" "+strconv.Itoa(rec.status)]++
		e.mu.Unlock()
	})
	t.Cleanup(func() {
		e.hs.Close()
		_ = srv.Close()
	})
	return e
}

// clientAPI is a pion API as a third party would build it: default codecs
// and interceptors, loopback only (tcp = ICE-TCP only).
func clientAPI(t *testing.T, tcp bool) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if tcp {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

type httpAnswer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url, token, ctype, body string, hdr ...string) httpAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// offerFrom makes a complete (gathered) offer.
func offerFrom(t *testing.T, pc *webrtc.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("client ICE gathering timed out")
	}
	return pc.LocalDescription().SDP
}

func resolve(base, loc string) string {
	if strings.HasPrefix(loc, "http") {
		return loc
	}
	return base + loc
}

// testPublisher sends fake VP8 (one packet per frame, a keyframe when
// asked by PLI and every 3 s) and Opus at 50 packets/s each.
type testPublisher struct {
	pc       *webrtc.PeerConnection
	location string
	token    string
	plis     atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

var capVP8 = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}

func newPublisherPC(t *testing.T, tcp bool) (*testPublisher, *webrtc.TrackLocalStaticRTP, *webrtc.TrackLocalStaticRTP) {
	return newPublisherPCWith(t, tcp, capVP8)
}

func newPublisherPCWith(t *testing.T, tcp bool, vcap webrtc.RTPCodecCapability) (*testPublisher, *webrtc.TrackLocalStaticRTP, *webrtc.TrackLocalStaticRTP) {
	t.Helper()
	pc, err := clientAPI(t, tcp).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	video, _ := webrtc.NewTrackLocalStaticRTP(vcap, "video", "pub")
	audio, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "pub")
	p := &testPublisher{pc: pc, stop: make(chan struct{})}
	for _, tr := range []*webrtc.TrackLocalStaticRTP{video, audio} {
		tc, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			t.Fatal(err)
		}
		if tr == video && vcap.MimeType != webrtc.MimeTypeVP8 {
			// Offer the wanted codec first, as a browser would with
			// setCodecPreferences.
			if err := tc.SetCodecPreferences([]webrtc.RTPCodecParameters{{RTPCodecCapability: vcap}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return p, video, audio
}

// publish runs a WHIP publisher; a non-201 answer is returned with a nil
// publisher.
func publish(t *testing.T, base string, room live.RoomID, token string) (*testPublisher, httpAnswer) {
	return publishWith(t, base, room, token, false)
}

func publishWith(t *testing.T, base string, room live.RoomID, token string, tcp bool) (*testPublisher, httpAnswer) {
	return publishCodec(t, base, room, token, tcp, capVP8)
}

func publishCodec(t *testing.T, base string, room live.RoomID, token string, tcp bool, vcap webrtc.RTPCodecCapability) (*testPublisher, httpAnswer) {
	t.Helper()
	p, video, audio := newPublisherPCWith(t, tcp, vcap)
	ans := do(t, "POST", base+"/api/rooms/"+string(room)+"/whip", token, "application/sdp", offerFrom(t, p.pc))
	if ans.status != http.StatusCreated {
		_ = p.pc.Close()
		return nil, ans
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.body}); err != nil {
		t.Fatal(err)
	}
	p.location = resolve(base, ans.header.Get("Location"))
	p.token = token
	var keyWanted atomic.Bool
	keyWanted.Store(true)
	for _, s := range p.pc.GetSenders() {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				pkts, _, err := s.ReadRTCP()
				if err != nil {
					return
				}
				for _, pk := range pkts {
					if _, ok := pk.(*rtcp.PictureLossIndication); ok {
						p.plis.Add(1)
						keyWanted.Store(true)
					}
				}
			}
		}()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var seq uint16
		var n int
		payload := make([]byte, 200)
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			n++
			seq++
			if n%150 == 0 {
				keyWanted.Store(true)
			}
			vp := append([]byte{0x10, 0x01}, payload...)
			if keyWanted.Swap(false) {
				vp[1] = 0x00 // VP8 P bit clear: keyframe
			}
			_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: seq, Timestamp: uint32(n * 1800)}, Payload: vp})
			_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(n * 960)}, Payload: payload[:60]})
		}
	}()
	t.Cleanup(p.close)
	return p, ans
}

// close stops sending and closes the connection without a DELETE (a crash
// or network loss from the server's point of view).
func (p *testPublisher) close() {
	p.once.Do(func() {
		close(p.stop)
		_ = p.pc.Close()
		p.wg.Wait()
	})
}

// testViewer plays a room over WHEP and counts what arrives.
type testViewer struct {
	pc        *webrtc.PeerConnection
	location  string
	audio     atomic.Int64
	video     atomic.Int64
	keyframes atomic.Int64
	seqGaps   atomic.Int64
	connected chan time.Time
	firstKey  chan time.Time
	gone      chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
}

// publishAndWatch makes a room with stream key key, publishes to it and
// starts one viewer, and waits until the viewer gets video.
func publishAndWatch(t *testing.T, e *env, key string) (live.RoomID, *testPublisher, *testViewer, httpAnswer) {
	t.Helper()
	room := e.rooms.add(key)
	pub, a := publish(t, e.url, room, key)
	if pub == nil {
		t.Fatalf("publish: %d %s", a.status, a.body)
	}
	v, a := watch(t, e.url, room, "")
	if v == nil {
		t.Fatalf("watch: %d %s", a.status, a.body)
	}
	eventually(t, 10*time.Second, "video", func() bool { return v.video.Load() > 10 })
	return room, pub, v, a
}

func watch(t *testing.T, base string, room live.RoomID, token string) (*testViewer, httpAnswer) {
	return watchWith(t, base, room, token, false)
}

func watchWith(t *testing.T, base string, room live.RoomID, token string, tcp bool) (*testViewer, httpAnswer) {
	t.Helper()
	pc, err := clientAPI(t, tcp).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := &testViewer{pc: pc, connected: make(chan time.Time, 1), firstKey: make(chan time.Time, 1), gone: make(chan struct{})}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	var goneOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			select {
			case v.connected <- time.Now():
			default:
			}
		case webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateDisconnected:
			goneOnce.Do(func() { close(v.gone) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			var last uint16
			first := true
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				if tr.Kind() == webrtc.RTPCodecTypeAudio {
					v.audio.Add(1)
					continue
				}
				v.video.Add(1)
				if !first && p.SequenceNumber != last+1 {
					v.seqGaps.Add(1)
				}
				first, last = false, p.SequenceNumber
				if len(p.Payload) > 1 && p.Payload[0]&0x10 != 0 && p.Payload[1]&0x01 == 0 {
					if v.keyframes.Add(1) == 1 {
						v.firstKey <- time.Now()
					}
				}
			}
		}()
	})
	ans := do(t, "POST", base+"/api/rooms/"+string(room)+"/whep", token, "application/sdp", offerFrom(t, pc))
	if ans.status != http.StatusCreated {
		_ = pc.Close()
		return nil, ans
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.body}); err != nil {
		t.Fatal(err)
	}
	v.location = resolve(base, ans.header.Get("Location"))
	t.Cleanup(v.close)
	return v, ans
}

func (v *testViewer) close() {
	v.once.Do(func() {
		_ = v.pc.Close()
		v.wg.Wait()
	})
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exists probes a session resource without changing it (a PATCH with only
// end-of-candidates): 404 means it is gone.
func exists(t *testing.T, loc string) bool { return existsAs(t, loc, "") }

func existsAs(t *testing.T, loc, token string) bool {
	t.Helper()
	a := do(t, "PATCH", loc, token, "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n")
	if a.status != http.StatusNoContent && a.status != http.StatusNotFound {
		t.Fatalf("probe %s: %d %s", loc, a.status, a.body)
	}
	return a.status == http.StatusNoContent
}
