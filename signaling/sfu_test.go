package signaling

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/prometheus/client_golang/prometheus"

	"jobcast/live"
)

// A WHIP publisher sends VP8 and Opus; three viewers get both; a viewer
// joining mid-stream gets a keyframe within a second; the host's DELETE
// ends the room and tears every session down.
func TestPublishFanOutAndTeardown(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *Config) { c.Registerer = reg; c.FanoutShards = 2 })
	room := e.rooms.add("key-1")

	pub, ans := publish(t, e.url, room, "key-1")
	if pub == nil {
		t.Fatalf("publish: %d %s", ans.status, ans.body)
	}
	if e.rooms.status(room) != live.RoomLive {
		t.Fatalf("room status %s after publish, want live", e.rooms.status(room))
	}
	var viewers []*testViewer
	for i := 0; i < 3; i++ {
		v, ans := watch(t, e.url, room, "")
		if v == nil {
			t.Fatalf("viewer %d: %d %s", i, ans.status, ans.body)
		}
		viewers = append(viewers, v)
	}
	for i, v := range viewers {
		eventually(t, 5*time.Second, "viewer receiving audio and video", func() bool { return v.audio.Load() > 20 && v.video.Load() > 20 && v.keyframes.Load() > 0 })
		t.Logf("viewer %d: %d video, %d audio packets, %d keyframes", i, v.video.Load(), v.audio.Load(), v.keyframes.Load())
	}

	// Mid-stream join: the keyframe must come from a PLI, well before the
	// publisher's periodic one (every 3 s).
	time.Sleep(700 * time.Millisecond)
	plisBefore := pub.plis.Load()
	late, ans := watch(t, e.url, room, "")
	if late == nil {
		t.Fatalf("late viewer: %d %s", ans.status, ans.body)
	}
	var connectedAt time.Time
	select {
	case connectedAt = <-late.connected:
	case <-time.After(5 * time.Second):
		t.Fatal("late viewer never connected")
	}
	select {
	case at := <-late.firstKey:
		wait := at.Sub(connectedAt)
		t.Logf("mid-stream viewer: first keyframe %v after connecting", wait)
		if wait > time.Second {
			t.Fatalf("first keyframe took %v, want < 1s", wait)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("late viewer got no keyframe")
	}
	if pub.plis.Load() <= plisBefore {
		t.Fatal("publisher got no PLI for the late viewer")
	}
	if n := metricValue(t, reg, "jobcast_media_viewers"); n != 4 {
		t.Fatalf("viewers gauge %v, want 4", n)
	}
	if n := metricValue(t, reg, "jobcast_media_rtp_packets_forwarded_total"); n < 100 {
		t.Fatalf("forwarded packets %v", n)
	}

	// The host's DELETE ends the broadcast for everyone.
	if a := do(t, "DELETE", pub.location, "key-1", "", ""); a.status != http.StatusOK {
		t.Fatalf("DELETE publisher: %d %s", a.status, a.body)
	}
	for _, v := range append(viewers, late) {
		select {
		case <-v.gone:
		case <-time.After(15 * time.Second):
			t.Fatal("viewer still connected after the publisher's DELETE")
		}
	}
	if e.rooms.status(room) != live.RoomEnded {
		t.Fatalf("room status %s after DELETE, want ended", e.rooms.status(room))
	}
	eventually(t, 2*time.Second, "gauges back to zero", func() bool {
		return metricValue(t, reg, "jobcast_media_viewers") == 0 &&
			metricValue(t, reg, "jobcast_media_publishers") == 0
	})
	if a := do(t, "DELETE", pub.location, "key-1", "", ""); a.status != http.StatusNotFound {
		t.Fatalf("second DELETE: %d, want 404", a.status)
	}
	if _, a := watch(t, e.url, room, ""); a.status != http.StatusConflict {
		t.Fatalf("WHEP after end: %d, want 409", a.status)
	}
}

// metricValue reads one gauge or counter from the registry.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// H.264 publishers are forwarded too, and a publisher that comes back with
// another codec gets its viewers disconnected (they must renegotiate)
// instead of receiving a stream they cannot decode.
func TestH264AndCodecChange(t *testing.T) {
	e := newEnv(t, nil)
	room := e.rooms.add("k")
	h264 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}
	pub, a := publishCodec(t, e.url, room, "k", false, h264)
	if pub == nil {
		t.Fatalf("H.264 publish: %d %s", a.status, a.body)
	}
	if !strings.Contains(a.body, "H264/90000") || strings.Contains(a.body, "VP8/90000") {
		t.Fatal("the answer should accept exactly the offered H.264")
	}
	v, a := watch(t, e.url, room, "")
	if v == nil {
		t.Fatalf("watch: %d %s", a.status, a.body)
	}
	eventually(t, 5*time.Second, "H.264 packets at the viewer", func() bool { return v.video.Load() > 10 && v.audio.Load() > 10 })
	if c := v.pc.GetTransceivers()[0].Receiver().Track().Codec(); !strings.EqualFold(c.MimeType, webrtc.MimeTypeH264) {
		t.Fatalf("viewer got %s", c.MimeType)
	}

	pub.close()
	pub2, a := publish(t, e.url, room, "k") // back with VP8
	if pub2 == nil {
		t.Fatalf("VP8 publish: %d %s", a.status, a.body)
	}
	select {
	case <-v.gone:
	case <-time.After(10 * time.Second):
		t.Fatal("H.264 viewer kept after the publisher switched to VP8")
	}
	v2, _ := watch(t, e.url, room, "")
	eventually(t, 5*time.Second, "VP8 at a new viewer", func() bool { return v2.keyframes.Load() > 0 })
}

// Close with live sessions closes every peer connection, keeps the room
// live (its publisher may come back on another node) and leaks nothing
// (goleak checks the package at the end).
func TestCloseWithLiveSessions(t *testing.T) {
	e := newEnv(t, nil)
	room := e.rooms.add("k")
	pub, _ := publish(t, e.url, room, "k")
	v, _ := watch(t, e.url, room, "")
	if pub == nil || v == nil {
		t.Fatal("setup failed")
	}
	eventually(t, 5*time.Second, "video", func() bool { return v.video.Load() > 5 })
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-v.gone:
	case <-time.After(15 * time.Second):
		t.Fatal("viewer still connected after Close")
	}
	if n := len(e.srv.byID); n != 0 {
		t.Fatalf("%d sessions after Close", n)
	}
	if e.rooms.status(room) != live.RoomLive {
		t.Fatalf("Close changed the room to %s", e.rooms.status(room))
	}
	if a := do(t, "POST", e.url+"/api/rooms/"+string(room)+"/whep", "", "application/sdp", viewerOffer(t)); a.status != 503 {
		t.Fatalf("WHEP after Close: %d %s", a.status, a.body)
	}
}
