package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"jobcast/chat"
)

// loopbackPC is a pion peer connection that gathers only loopback UDP
// candidates.
func loopbackPC(t *testing.T) *webrtc.PeerConnection {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// negotiate posts pc's offer to url (WHIP or WHEP) with token and applies
// the answer; it returns the status and the session URL.
func negotiate(t *testing.T, pc *webrtc.PeerConnection, url, token string) (int, string) {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
		t.Fatal("ICE gathering timed out")
	}
	req, _ := http.NewRequest("POST", url, strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		return res.StatusCode, string(body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		t.Fatal(err)
	}
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = "http://" + res.Request.URL.Host + loc
	}
	return res.StatusCode, loc
}

// sessionExists probes a WHEP/WHIP session without changing it (a PATCH
// with only end-of-candidates): 204 while it lives, 404 once it is gone.
func sessionExists(t *testing.T, loc string) bool {
	t.Helper()
	req, _ := http.NewRequest("PATCH", loc, strings.NewReader("a=end-of-candidates\r\n"))
	req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusNotFound {
		t.Fatalf("probe %s: %d", loc, res.StatusCode)
	}
	return res.StatusCode == http.StatusNoContent
}

// TestBanClosesPlayerAcrossNodes: the host publishes over WHIP to node B
// and a seeker plays the room over WHEP and chats on node B; a moderator
// bans the seeker on node A. Within a second the seeker's socket closes with
// 4003 and their WHEP session is gone; other viewers keep playing.
func TestBanClosesPlayerAcrossNodes(t *testing.T) {
	rds := startPrivateRedis(t)
	cl := &modCluster{t: t, redis: rds.url(), prefix: "modmedia:", dir: t.TempDir()}
	addrA, _ := cl.add()
	addrB, _ := cl.add()
	A := netAPI(addrA)
	w := newModWorld(t, A)
	roomURL := "http://" + addrB + "/api/rooms/" + string(w.room)

	// The host goes live from node B with fake VP8 and Opus.
	pub := loopbackPC(t)
	video, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "pub")
	audio, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "pub")
	for _, tr := range []*webrtc.TrackLocalStaticRTP{video, audio} {
		if _, err := pub.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	if code, msg := negotiate(t, pub, roomURL+"/whip", w.host.Token); code != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", code, msg)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		payload := make([]byte, 100)
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			vp := append([]byte{0x10, 0x00}, payload...) // VP8 keyframe start
			_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(n), Timestamp: uint32(n * 1800)}, Payload: vp})
			_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: uint32(n * 960)}, Payload: payload[:40]})
		}
	}()
	t.Cleanup(func() { close(stop); _ = pub.Close(); wg.Wait() })

	play := func(token string) (*webrtc.PeerConnection, string) {
		t.Helper()
		pc := loopbackPC(t)
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
			if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { _ = pc.Close() })
		var code int
		var loc string
		// The room turns live as the publisher connects: retry briefly.
		deadline := time.Now().Add(5 * time.Second)
		for {
			code, loc = negotiate(t, pc, roomURL+"/whep", token)
			if code == http.StatusCreated || time.Now().After(deadline) {
				break
			}
			_ = pc.Close()
			pc = loopbackPC(t)
			for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
				_, _ = pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
			}
			t.Cleanup(func() { _ = pc.Close() })
			time.Sleep(100 * time.Millisecond)
		}
		if code != http.StatusCreated {
			t.Fatalf("WHEP: %d %s", code, loc)
		}
		return pc, loc
	}
	_, targetLoc := play(w.target.Token)
	_, otherLoc := play(w.target2.Token)
	sock := mustDial(t, addrB, w.room, w.target.Token, "")
	if !sessionExists(t, targetLoc) || !sessionExists(t, otherLoc) {
		t.Fatal("sessions missing before the ban")
	}

	start := time.Now()
	mustStatus(t, A, 201, "POST", "/api/rooms/"+string(w.room)+"/bans", w.mod.Token, `{"user_id":"`+w.target.ID+`","reason":"spam"}`, nil)
	if code, _ := sock.closed(time.Second); code != chat.CloseKicked {
		t.Fatalf("socket close code %d", code)
	}
	for sessionExists(t, targetLoc) {
		if time.Since(start) > time.Second {
			t.Fatal("the banned user's WHEP session still exists after 1 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("ban on node A → WHEP session on node B gone after %v", time.Since(start).Round(time.Millisecond))
	if !sessionExists(t, otherLoc) {
		t.Fatal("another viewer's session was closed")
	}
	if code, ecode := whep(t, addrB, w.room, w.target.Token); code != 403 || ecode != "banned" {
		t.Fatalf("WHEP after the ban: %d %s", code, ecode)
	}
}
