package signaling

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"

	"jobcast/live"
)

// MaxSDPSize caps offers and trickle fragments; larger bodies get 413 before
// any parsing.
const MaxSDPSize = 64 << 10

const (
	mimeSDP     = "application/sdp"
	mimeSDPFrag = "application/trickle-ice-sdpfrag"
)

// readBody checks the media type and reads at most MaxSDPSize bytes.
func readBody(r *http.Request, want string) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.EqualFold(mt, want) {
		return nil, &live.Error{Kind: live.KindUnsupported, Code: "unsupported_media_type", Message: "send " + want}
	}
	if r.ContentLength > MaxSDPSize {
		return nil, sdpTooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxSDPSize+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, sdpTooLarge()
		}
		return nil, live.Invalid("bad_body", "could not read the request body")
	}
	if len(body) > MaxSDPSize {
		return nil, sdpTooLarge()
	}
	return body, nil
}

func sdpTooLarge() error {
	return &live.Error{Kind: live.KindTooLarge, Code: "body_too_large", Message: "the SDP body is larger than 64 KiB"}
}

func badSDP(msg string) error { return live.Invalid("malformed_sdp", msg) }

// offerInfo is what the SFU needs to know about an offer before handing it
// to pion.
type offerInfo struct {
	audio, video   bool                    // has an audio / video m-line
	audioSend      bool                    // the audio m-line sends (sendrecv/sendonly)
	videoSend      bool                    // the video m-line sends
	audioRecv      bool                    // the audio m-line receives
	videoRecv      bool                    // the video m-line receives
	audioOpus      bool                    // offers Opus
	videoCodecs    []*sdp.MediaDescription // video m-lines
	ufrag          string
	hasCredentials bool
}

// parseOffer validates an SDP offer from an untrusted client and returns a
// summary; any problem is a 400 *live.Error with a clear message.
func parseOffer(body []byte) (*sdp.SessionDescription, offerInfo, error) {
	var info offerInfo
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, info, badSDP("the SDP offer is empty")
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return nil, info, badSDP("the SDP offer cannot be parsed: " + trimErr(err))
	}
	if len(sd.MediaDescriptions) == 0 {
		return nil, info, badSDP("the SDP offer has no media sections")
	}
	sessUfrag, _ := sd.Attribute("ice-ufrag")
	sessPwd, _ := sd.Attribute("ice-pwd")
	sessFP, _ := sd.Attribute("fingerprint")
	for _, md := range sd.MediaDescriptions {
		ufrag, ok := md.Attribute("ice-ufrag")
		if !ok {
			ufrag = sessUfrag
		}
		pwd, ok := md.Attribute("ice-pwd")
		if !ok {
			pwd = sessPwd
		}
		fp, ok := md.Attribute("fingerprint")
		if !ok {
			fp = sessFP
		}
		if md.MediaName.Port.Value == 0 {
			continue // rejected or stopped section
		}
		if ufrag == "" || pwd == "" {
			return nil, info, badSDP("the SDP offer lacks ICE credentials (a=ice-ufrag, a=ice-pwd)")
		}
		if fp == "" {
			return nil, info, badSDP("the SDP offer lacks a DTLS fingerprint (a=fingerprint)")
		}
		if info.ufrag == "" {
			info.ufrag = ufrag
		}
		info.hasCredentials = true
		send, recv := directions(md)
		switch md.MediaName.Media {
		case "audio":
			info.audio = true
			info.audioSend = info.audioSend || send
			info.audioRecv = info.audioRecv || recv
			info.audioOpus = info.audioOpus || hasOpus(md)
		case "video":
			info.video = true
			info.videoSend = info.videoSend || send
			info.videoRecv = info.videoRecv || recv
			info.videoCodecs = append(info.videoCodecs, md)
		case "application":
		default:
			return nil, info, badSDP("unsupported media section " + md.MediaName.Media)
		}
	}
	if !info.hasCredentials {
		return nil, info, badSDP("the SDP offer has no active media sections")
	}
	return &sd, info, nil
}

func directions(md *sdp.MediaDescription) (send, recv bool) {
	for _, a := range md.Attributes {
		switch a.Key {
		case "sendonly":
			return true, false
		case "recvonly":
			return false, true
		case "inactive":
			return false, false
		case "sendrecv":
			return true, true
		}
	}
	return true, true
}

func trimErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// sdpFrag is a parsed application/trickle-ice-sdpfrag body (RFC 8840).
type sdpFrag struct {
	ufrag, pwd string
	cands      []fragCandidate
	end        bool
}

type fragCandidate struct {
	mid  string
	line string // "candidate:..." without the "a="
}

// parseFrag parses a trickle ICE fragment. Each candidate is checked with
// pion's ICE parser so a malformed one is a 400 before anything changes.
func parseFrag(body []byte) (sdpFrag, error) {
	var f sdpFrag
	mid := ""
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		switch {
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			f.ufrag = strings.TrimPrefix(line, "a=ice-ufrag:")
		case strings.HasPrefix(line, "a=ice-pwd:"):
			f.pwd = strings.TrimPrefix(line, "a=ice-pwd:")
		case strings.HasPrefix(line, "a=mid:"):
			mid = strings.TrimPrefix(line, "a=mid:")
		case strings.HasPrefix(line, "a=candidate:"):
			c := normalizeCandidate(strings.TrimPrefix(line, "a="))
			if _, err := ice.UnmarshalCandidate(c); err != nil {
				return f, live.Invalid("malformed_candidate", "an ICE candidate cannot be parsed: "+trimErr(err))
			}
			f.cands = append(f.cands, fragCandidate{mid: mid, line: c})
		case line == "a=end-of-candidates":
			f.end = true
		case strings.HasPrefix(line, "m="), strings.HasPrefix(line, "a="), strings.HasPrefix(line, "c="):
			// other attributes (ice-options, group, ...) are allowed and ignored
		default:
			return f, live.Invalid("malformed_sdpfrag", "the trickle ICE fragment has an invalid line")
		}
	}
	if len(f.cands) > 64 {
		return f, live.Invalid("malformed_sdpfrag", "too many candidates in one fragment (max 64)")
	}
	return f, nil
}

// normalizeCandidate repairs two quirks of deployed WHIP clients
// (@eyevinn/whip-web-client 1.1.x writes component 0 for RTP and brackets
// around IPv6 addresses) so their trickled candidates are usable; anything
// else is left for the ICE parser to judge.
func normalizeCandidate(c string) string {
	f := strings.Fields(c)
	if len(f) < 8 {
		return c
	}
	if f[1] == "0" {
		f[1] = "1"
	}
	f[4] = strings.TrimSuffix(strings.TrimPrefix(f[4], "["), "]")
	return strings.Join(f, " ")
}
