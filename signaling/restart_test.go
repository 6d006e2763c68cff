package signaling

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// ICE restart over PATCH (RFC 9725 section 4.3): a playing WHEP viewer
// sends new ICE credentials and its candidates; the server answers 200
// with its own new credentials and candidates and a new ETag; the viewer
// applies them and media keeps flowing over the restarted ICE session. The
// old ETag no longer matches.
func TestICERestart(t *testing.T) {
	e := newEnv(t, nil)
	_, _, v, ans := publishAndWatch(t, e, "key-1")
	oldETag := ans.header.Get("ETag")

	newETag := restartICE(t, v.pc, v.location, "", oldETag)
	before := v.video.Load()
	eventually(t, 10*time.Second, "video after the restart", func() bool { return v.video.Load() > before+20 })
	if st := v.pc.ICEConnectionState(); st != webrtc.ICEConnectionStateConnected && st != webrtc.ICEConnectionStateCompleted {
		t.Fatalf("ICE state after restart: %s", st)
	}

	// The old ETag is stale now; the new one works.
	if a := do(t, "PATCH", v.location, "", "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n", "If-Match", oldETag); a.status != http.StatusPreconditionFailed {
		t.Fatalf("PATCH with the old ETag: %d, want 412", a.status)
	}
	if a := do(t, "PATCH", v.location, "", "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n", "If-Match", newETag); a.status != http.StatusNoContent {
		t.Fatalf("PATCH with the new ETag: %d %s", a.status, a.body)
	}
}

// A publisher restarts ICE too (its phone changed networks): viewers keep
// getting its video.
func TestICERestartPublisher(t *testing.T) {
	e := newEnv(t, nil)
	room := e.rooms.add("key-1")
	pub, ans := publish(t, e.url, room, "key-1")
	if pub == nil {
		t.Fatalf("publish: %d %s", ans.status, ans.body)
	}
	v, a := watch(t, e.url, room, "")
	if v == nil {
		t.Fatalf("watch: %d %s", a.status, a.body)
	}
	eventually(t, 10*time.Second, "video before the restart", func() bool { return v.video.Load() > 10 })
	restartICE(t, pub.pc, pub.location, "key-1", ans.header.Get("ETag"))
	before := v.video.Load()
	eventually(t, 10*time.Second, "video after the publisher's restart", func() bool { return v.video.Load() > before+20 })
	if st := pub.pc.ICEConnectionState(); st != webrtc.ICEConnectionStateConnected && st != webrtc.ICEConnectionStateCompleted {
		t.Fatalf("publisher ICE state after restart: %s", st)
	}
}

// restartICE restarts pc's ICE session through a PATCH of the session at
// location, as a WHIP/WHEP client does, checks the answer fragment and
// applies it; it returns the session's new ETag.
func restartICE(t *testing.T, pc *webrtc.PeerConnection, location, token, oldETag string) string {
	t.Helper()
	oldServerUfrag := ufragOf(t, pc.RemoteDescription().SDP)
	oldClientUfrag := ufragOf(t, pc.LocalDescription().SDP)
	offer, err := pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	local := pc.LocalDescription().SDP
	var frag strings.Builder
	for _, l := range strings.Split(local, "\r\n") {
		if strings.HasPrefix(l, "a=ice-ufrag:") {
			frag.WriteString(l + "\r\n")
			break
		}
	}
	for _, l := range strings.Split(local, "\r\n") {
		if strings.HasPrefix(l, "a=ice-pwd:") {
			frag.WriteString(l + "\r\n")
			break
		}
	}
	frag.WriteString("a=mid:0\r\n")
	for _, l := range strings.Split(local, "\r\n") {
		if strings.HasPrefix(l, "a=candidate:") {
			frag.WriteString(l + "\r\n")
		}
	}
	frag.WriteString("a=end-of-candidates\r\n")
	if ufragOf(t, local) == oldClientUfrag {
		t.Fatal("the client's restart offer kept its ufrag")
	}

	a := do(t, "PATCH", location, token, "application/trickle-ice-sdpfrag", frag.String(), "If-Match", "*")
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/trickle-ice-sdpfrag" {
		t.Fatalf("restart PATCH: %d %v %s", a.status, a.header, a.body)
	}
	newETag := a.header.Get("ETag")
	if newETag == "" || newETag == oldETag {
		t.Fatalf("ETag after restart %q (was %q)", newETag, oldETag)
	}
	newUfrag, newPwd, cands := "", "", []string{}
	for _, l := range strings.Split(a.body, "\r\n") {
		switch {
		case strings.HasPrefix(l, "a=ice-ufrag:"):
			newUfrag = strings.TrimPrefix(l, "a=ice-ufrag:")
		case strings.HasPrefix(l, "a=ice-pwd:"):
			newPwd = strings.TrimPrefix(l, "a=ice-pwd:")
		case strings.HasPrefix(l, "a=candidate:"):
			cands = append(cands, strings.TrimPrefix(l, "a="))
		}
	}
	if newUfrag == "" || newPwd == "" || newUfrag == oldServerUfrag || len(cands) == 0 || !strings.Contains(a.body, "a=end-of-candidates") {
		t.Fatalf("restart answer fragment %q (old server ufrag %s)", a.body, oldServerUfrag)
	}

	// Apply the fragment to the previous answer, as a WHIP/WHEP client does.
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(pc.RemoteDescription().SDP); err != nil {
		t.Fatal(err)
	}
	swap := func(attrs []sdp.Attribute, first bool) []sdp.Attribute {
		var out []sdp.Attribute
		for _, at := range attrs {
			switch at.Key {
			case "ice-ufrag":
				at.Value = newUfrag
			case "ice-pwd":
				at.Value = newPwd
			case "candidate", "end-of-candidates":
				continue
			}
			out = append(out, at)
		}
		if first {
			for _, c := range cands {
				out = append(out, sdp.NewAttribute("candidate", strings.TrimPrefix(c, "candidate:")))
			}
			out = append(out, sdp.NewPropertyAttribute("end-of-candidates"))
		}
		return out
	}
	sd.Attributes = swap(sd.Attributes, false)
	for i, md := range sd.MediaDescriptions {
		md.Attributes = swap(md.Attributes, i == 0)
	}
	raw, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(raw)}); err != nil {
		t.Fatal(err)
	}
	return newETag
}
