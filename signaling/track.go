package signaling

import (
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// fanTrack is a webrtc.TrackLocal that writes one packet to every viewer
// bound to it, like TrackLocalStaticRTP, with one difference that matters at
// scale: each binding gets its own small RTP header and every binding shares
// the payload. pion's NACK responder is configured not to copy packets
// (nack.DisableCopy), so a viewer's retransmission buffer holds references
// to the shared payloads instead of a private 1.5 KB copy of each packet:
// about 190 KiB less per viewer with a 128-packet buffer.
//
// Payloads passed to write must never be modified afterwards. Safe for
// concurrent use.
type fanTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	codec        webrtc.RTPCodecCapability

	mu       sync.RWMutex
	bindings []fanBinding
}

type fanBinding struct {
	id    string
	ssrc  uint32
	pt    uint8
	write webrtc.TrackLocalWriter
}

func newFanTrack(kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability, id, streamID string) *fanTrack {
	return &fanTrack{id: id, streamID: streamID, kind: kind, codec: codec}
}

// Bind implements webrtc.TrackLocal: it picks the viewer's payload type for
// our codec (exact format parameters first, then a compatible H.264
// profile).
func (t *fanTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var match *webrtc.RTPCodecParameters
	params := ctx.CodecParameters()
	for i := range params {
		c := &params[i]
		if !strings.EqualFold(c.MimeType, t.codec.MimeType) {
			continue
		}
		if c.SDPFmtpLine == t.codec.SDPFmtpLine {
			match = c
			break
		}
		if match == nil && compatibleFmtp(t.codec, c.RTPCodecCapability) {
			match = c
		}
	}
	if match == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	t.mu.Lock()
	t.bindings = append(t.bindings, fanBinding{id: ctx.ID(), ssrc: uint32(ctx.SSRC()), pt: uint8(match.PayloadType), write: ctx.WriteStream()})
	t.mu.Unlock()
	return *match, nil
}

// compatibleFmtp: Opus and VP8 always; H.264 when packetization mode and
// profile_idc agree (constrained baseline and baseline decode alike).
func compatibleFmtp(ours, theirs webrtc.RTPCodecCapability) bool {
	if !strings.EqualFold(ours.MimeType, webrtc.MimeTypeH264) {
		return true
	}
	a, b := fmtpParams(strings.ToLower(ours.SDPFmtpLine)), fmtpParams(strings.ToLower(theirs.SDPFmtpLine))
	pa, pb := a["profile-level-id"], b["profile-level-id"]
	return a["packetization-mode"] == b["packetization-mode"] && len(pa) >= 2 && len(pb) >= 2 && pa[:2] == pb[:2]
}

// Unbind implements webrtc.TrackLocal.
func (t *fanTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.bindings {
		if t.bindings[i].id == ctx.ID() {
			t.bindings[i] = t.bindings[len(t.bindings)-1]
			t.bindings = t.bindings[:len(t.bindings)-1]
			return nil
		}
	}
	return webrtc.ErrUnbindFailed
}

func (t *fanTrack) ID() string                { return t.id }
func (t *fanTrack) RID() string               { return "" }
func (t *fanTrack) StreamID() string          { return t.streamID }
func (t *fanTrack) Kind() webrtc.RTPCodecType { return t.kind }

// write sends p to every binding and returns how many it was written to.
// The header is copied per binding (the NACK responder keeps it); the
// payload is shared. Write errors belong to viewers that are closing; their
// sessions clean up through their own state handlers.
func (t *fanTrack) write(p *rtp.Packet) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, b := range t.bindings {
		h := new(rtp.Header)
		*h = p.Header
		h.SSRC, h.PayloadType = b.ssrc, b.pt
		if p.PaddingSize != 0 && h.PaddingSize == 0 {
			h.PaddingSize = p.PaddingSize
		}
		_, _ = b.write.WriteRTP(h, p.Payload)
	}
	return len(t.bindings)
}
