package signaling

import (
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// fanTrack is a webrtc.TrackLocal that writes one packet to every viewer
// bound to it, like TrackLocalStaticRTP, with differences that matter at
// scale: every binding shares the payload, the per-viewer header (SSRC and
// payload type) is written into the binding's own scratch header (no
// allocation per packet per viewer), and NACKs are answered from the
// forwarder's one buffer of recent packets (resend) instead of pion's NACK
// responder, which keeps a copy or a reference per packet per viewer and
// locks per packet.
//
// Payloads passed to write must never be modified afterwards. Safe for
// concurrent use.
type fanTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	codec        webrtc.RTPCodecCapability

	fwd *forwarder // keeps the packets NACKs ask for; nil in tests

	mu       sync.RWMutex
	bindings []*fanBinding

	// Sender-report state, updated once per packet (not per viewer):
	// every binding gets the same packets from the moment it is bound.
	srMu   sync.Mutex
	sent   uint64 // packets written
	octets uint64 // payload bytes written
	lastTS uint32 // RTP timestamp of the latest frame
	lastAt time.Time
}

type fanBinding struct {
	id    string
	ssrc  uint32
	pt    uint8
	write webrtc.TrackLocalWriter
	hdr   rtp.Header // scratch, used only by the goroutine calling write

	baseSent, baseOctets uint64 // the track's counters when bound

	// NACK rate limit, used only by the viewer's SRTCP read goroutine (rtcpSink).
	resendSince time.Time
	resent      int
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
	b := &fanBinding{id: ctx.ID(), ssrc: uint32(ctx.SSRC()), pt: uint8(match.PayloadType), write: ctx.WriteStream()}
	t.mu.Lock()
	t.srMu.Lock()
	b.baseSent, b.baseOctets = t.sent, t.octets
	t.srMu.Unlock()
	t.bindings = append(t.bindings, b)
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
// Only one goroutine (the shard's) may call it. The header is copied into
// each binding's scratch header (nothing downstream keeps it: SRTP
// marshals it, the sender-report interceptor reads it); the payload is
// shared. Write errors belong to viewers that are closing; their sessions
// clean up through their own state handlers.
func (t *fanTrack) write(p *rtp.Packet) int {
	now := time.Now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	t.srMu.Lock()
	if t.sent == 0 || p.Timestamp != t.lastTS {
		t.lastTS, t.lastAt = p.Timestamp, now
	}
	t.sent++
	t.octets += uint64(len(p.Payload))
	t.srMu.Unlock()
	for _, b := range t.bindings {
		b.hdr = p.Header
		b.hdr.SSRC, b.hdr.PayloadType = b.ssrc, b.pt
		if p.PaddingSize != 0 && b.hdr.PaddingSize == 0 {
			b.hdr.PaddingSize = p.PaddingSize
		}
		_, _ = b.write.WriteRTP(&b.hdr, p.Payload)
	}
	return len(t.bindings)
}

// resend answers a viewer's NACK: the packets it lists that are still kept
// are written again to the binding with SSRC ssrc (the viewer's own sender,
// so a viewer cannot direct retransmissions at another viewer). At most
// resendBurst packets per second go to one viewer: an overloaded client
// that NACKs everything must not take the server down with it. Only the
// viewer's SRTCP read goroutine (its rtcpSink) may call it. It returns how many were resent.
func (t *fanTrack) resend(ssrc uint32, nack *rtcp.TransportLayerNack) int {
	if t.fwd == nil || nack.MediaSSRC != ssrc {
		return 0
	}
	b := t.binding(ssrc)
	if b == nil {
		return 0
	}
	now := time.Now()
	if now.Sub(b.resendSince) > time.Second {
		b.resendSince, b.resent = now, 0
	}
	var seqs []uint16
	for _, pair := range nack.Nacks {
		seqs = append(seqs, pair.PacketList()...)
	}
	if budget := resendBurst - b.resent; len(seqs) > budget {
		seqs = seqs[:max(budget, 0)]
	}
	pkts := t.fwd.lookup(seqs)
	b.resent += len(pkts)
	sent := 0
	for _, p := range pkts {
		h := p.Header
		h.SSRC, h.PayloadType = b.ssrc, b.pt
		if p.PaddingSize != 0 && h.PaddingSize == 0 {
			h.PaddingSize = p.PaddingSize
		}
		if _, err := b.write.WriteRTP(&h, p.Payload); err == nil {
			sent++
		}
	}
	if sent > 0 {
		t.fwd.flush()
	}
	return sent
}

// binding returns the viewer binding with SSRC ssrc, or nil.
func (t *fanTrack) binding(ssrc uint32) *fanBinding {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, b := range t.bindings {
		if b.ssrc == ssrc {
			return b
		}
	}
	return nil
}

// resendBurst caps NACK retransmissions per viewer stream and second.
const resendBurst = 50

// report returns the RTCP sender report for the binding with SSRC ssrc at
// now, or nil when it is not bound or nothing was sent to it yet. The RTP
// time is the latest frame's timestamp advanced by the wall-clock time
// since it was written, as pion's sender-report interceptor computes it.
func (t *fanTrack) report(ssrc uint32, now time.Time) *rtcp.SenderReport {
	b := t.binding(ssrc)
	if b == nil {
		return nil
	}
	t.srMu.Lock()
	sent, octets, ts, at := t.sent, t.octets, t.lastTS, t.lastAt
	t.srMu.Unlock()
	if sent == b.baseSent {
		return nil
	}
	return &rtcp.SenderReport{
		SSRC:        ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     ts + uint32(now.Sub(at).Seconds()*float64(t.codec.ClockRate)),
		PacketCount: uint32(sent - b.baseSent),
		OctetCount:  uint32(octets - b.baseOctets),
	}
}

// ntpTime is t as a 64-bit NTP timestamp (RFC 3550 section 4).
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800
	secs := uint64(t.Unix() + unixToNTP)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}
