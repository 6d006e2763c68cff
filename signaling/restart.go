package signaling

import (
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"jobcast/live"
)

// iceRestart performs the ICE restart a PATCH asked for (RFC 9725 section
// 4.3): the client's new credentials replace the old ones in its offer
// (its old candidates go, the fragment's come), pion restarts ICE with
// fresh server credentials, and the answer fragment — the server's new
// ufrag, pwd and candidates — is returned. The caller holds sess.patchMu.
func (srv *Server) iceRestart(sess *session, frag sdpFrag) (string, error) {
	if frag.ufrag == "" || frag.pwd == "" {
		return "", live.Invalid("malformed_sdpfrag", "an ICE restart needs both a=ice-ufrag and a=ice-pwd")
	}
	rd := sess.pc.RemoteDescription()
	if rd == nil {
		return "", live.InvalidState("not_negotiated", "the session has no offer to restart")
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(rd.SDP); err != nil {
		return "", badSDP("the session's offer cannot be restarted: " + trimErr(err))
	}
	sd.Attributes = restartAttrs(sd.Attributes, frag)
	for _, md := range sd.MediaDescriptions {
		md.Attributes = restartAttrs(md.Attributes, frag)
	}
	raw, err := sd.Marshal()
	if err != nil {
		return "", badSDP("the session's offer cannot be restarted: " + trimErr(err))
	}
	if err := sess.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(raw)}); err != nil {
		return "", badSDP("the ICE restart was refused: " + trimErr(err))
	}
	srv.addCandidates(sess, frag)
	ans, err := finishAnswer(sess.pc)
	if err != nil {
		return "", err
	}
	return answerFrag(ans)
}

// restartAttrs swaps the ICE credentials for the fragment's and drops the
// old candidates.
func restartAttrs(attrs []sdp.Attribute, frag sdpFrag) []sdp.Attribute {
	out := make([]sdp.Attribute, 0, len(attrs))
	for _, a := range attrs {
		switch a.Key {
		case "ice-ufrag":
			a.Value = frag.ufrag
		case "ice-pwd":
			a.Value = frag.pwd
		case "candidate", "end-of-candidates":
			continue
		}
		out = append(out, a)
	}
	return out
}

// answerFrag turns a local description into the application/trickle-ice-sdpfrag
// answer of an ICE restart (RFC 8840): credentials, the first (bundled)
// media section's mid and candidates, end-of-candidates.
func answerFrag(answer string) (string, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(answer); err != nil || len(sd.MediaDescriptions) == 0 {
		return "", badSDP("no ICE restart answer can be made")
	}
	md := sd.MediaDescriptions[0]
	ufrag, _ := md.Attribute("ice-ufrag")
	pwd, _ := md.Attribute("ice-pwd")
	if ufrag == "" {
		ufrag, _ = sd.Attribute("ice-ufrag")
	}
	if pwd == "" {
		pwd, _ = sd.Attribute("ice-pwd")
	}
	var b strings.Builder
	b.WriteString("a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:" + pwd + "\r\n")
	b.WriteString("m=" + md.MediaName.String() + "\r\n")
	if mid, ok := md.Attribute("mid"); ok {
		b.WriteString("a=mid:" + mid + "\r\n")
	}
	for _, a := range md.Attributes {
		if a.Key == "candidate" {
			b.WriteString("a=candidate:" + a.Value + "\r\n")
		}
	}
	b.WriteString("a=end-of-candidates\r\n")
	return b.String(), nil
}
