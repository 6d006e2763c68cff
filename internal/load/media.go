package load

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// VP8Source makes synthetic VP8 frames at a target bitrate: a keyframe
// (frame tag with key_frame=0, show_frame=1, the first partition size, the
// 9d 01 2a start code and the frame size) every KeyEvery frames or when one
// is requested, interframes between, sized so a group of pictures averages
// the bitrate (a keyframe is 5× an average frame, as in real encodings).
// The payload after the headers is noise: packetizers, SFUs and loss
// accounting see real VP8 framing; a decoder would reject the picture. Not
// safe for concurrent use except RequestKeyframe.
type VP8Source struct {
	Width, Height int
	FPS           int
	KeyEvery      int
	keySize       int
	interSize     int
	n             int
	wantKey       atomic.Bool
	noise         []byte
}

// NewVP8Source returns a 1280×720 source at fps and bitsPerSecond with a
// keyframe every two seconds.
func NewVP8Source(bitsPerSecond, fps int) *VP8Source {
	s := &VP8Source{Width: 1280, Height: 720, FPS: fps, KeyEvery: 2 * fps}
	avg := bitsPerSecond / 8 / fps
	s.keySize = 5 * avg
	s.interSize = max((avg*s.KeyEvery-s.keySize)/(s.KeyEvery-1), 16)
	s.noise = make([]byte, s.keySize)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range s.noise {
		s.noise[i] = byte(r.Uint32())
	}
	return s
}

// RequestKeyframe makes the next frame a keyframe (a viewer's PLI). Safe
// for concurrent use.
func (s *VP8Source) RequestKeyframe() { s.wantKey.Store(true) }

// Next returns the next frame and whether it is a keyframe. The slice is
// fresh (the caller may keep it).
func (s *VP8Source) Next() ([]byte, bool) {
	key := s.n%s.KeyEvery == 0 || s.wantKey.Swap(false)
	s.n++
	size := s.interSize
	if key {
		size = s.keySize
	}
	f := make([]byte, size)
	copy(f, s.noise[s.n%7:])
	hdr := 3
	if key {
		hdr = 10
	}
	first := uint32(min(size-hdr, 0x7FFFF) / 2) // first partition: part of the frame, as encoders do
	tag := first<<5 | 1<<4                      // show_frame=1, version 0
	if !key {
		tag |= 1 // interframe
	}
	f[0], f[1], f[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	if key {
		f[3], f[4], f[5] = 0x9d, 0x01, 0x2a
		binary.LittleEndian.PutUint16(f[6:], uint16(s.Width))
		binary.LittleEndian.PutUint16(f[8:], uint16(s.Height))
	}
	return f, key
}

// IsVP8Keyframe reports whether a VP8 frame starts with a valid keyframe
// header, and its size.
func IsVP8Keyframe(f []byte) (ok bool, width, height int) {
	if len(f) < 10 || f[0]&1 != 0 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return false, 0, 0
	}
	return true, int(binary.LittleEndian.Uint16(f[6:]) & 0x3fff), int(binary.LittleEndian.Uint16(f[8:]) & 0x3fff)
}

// opusFrame is a 20 ms CELT fullband mono frame (TOC 0xF8) of 160 bytes:
// 64 kbit/s of audio-shaped packets.
var opusFrame = append([]byte{0xF8}, bytes.Repeat([]byte{0x55}, 159)...)

// clientAPI is the pion API of the load tool's publisher and viewers.
// loopback limits gathering to 127.0.0.1 (tests, same-box runs against a
// server started with loopback media).
func clientAPI(loopback bool) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	if loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	ir := &interceptorRegistry{}
	if err := ir.register(m); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir.r)), nil
}

// signal posts an SDP offer to a WHIP/WHEP endpoint after gathering and
// applies the answer; it returns the session URL. It blocks for gathering
// (≤ 10 s) and one round trip.
func signal(ctx context.Context, c *http.Client, pc *webrtc.PeerConnection, endpoint, token string) (string, error) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		return "", fmt.Errorf("ICE gathering did not complete in 10 s")
	case <-ctx.Done():
		return "", ctx.Err()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("%s: status %d: %.200s", endpoint, res.StatusCode, body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		return "", err
	}
	loc := res.Header.Get("Location")
	if loc != "" && !strings.HasPrefix(loc, "http") {
		loc = endpoint[:strings.Index(endpoint, "/api/")] + loc
	}
	return loc, nil
}

// Publisher is a pion WHIP client sending the synthetic VP8 source and
// Opus-shaped audio. Start it with Publish; Close stops it.
type Publisher struct {
	pc      *webrtc.PeerConnection
	src     *VP8Source
	video   *webrtc.TrackLocalStaticSample
	audio   *webrtc.TrackLocalStaticSample
	session string
	http    *http.Client
	key     string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	Frames  atomic.Int64
	PLIs    atomic.Int64
}

// Publish connects a publisher to endpoint (…/api/rooms/R/whip) with the
// stream key and sends media until Close. It blocks until the answer is
// applied; media flows from goroutines the Publisher owns.
func Publish(ctx context.Context, c *http.Client, endpoint, key string, bitsPerSecond int, loopback bool) (*Publisher, error) {
	api, err := clientAPI(loopback)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &Publisher{pc: pc, src: NewVP8Source(bitsPerSecond, 30), http: c, key: key}
	fail := func(err error) (*Publisher, error) { _ = pc.Close(); return nil, err }
	if p.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "load"); err != nil {
		return fail(err)
	}
	if p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "load"); err != nil {
		return fail(err)
	}
	vs, err := pc.AddTransceiverFromTrack(p.video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fail(err)
	}
	as, err := pc.AddTransceiverFromTrack(p.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fail(err)
	}
	if p.session, err = signal(ctx, c, pc, endpoint, key); err != nil {
		return fail(err)
	}
	mctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(4)
	go func() { defer p.wg.Done(); p.readRTCP(vs.Sender(), true) }()
	go func() { defer p.wg.Done(); p.readRTCP(as.Sender(), false) }()
	go func() { defer p.wg.Done(); p.sendVideo(mctx) }()
	go func() { defer p.wg.Done(); p.sendAudio(mctx) }()
	return p, nil
}

func (p *Publisher) readRTCP(s *webrtc.RTPSender, video bool) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return // the sender stopped (Close)
		}
		for _, pk := range pkts {
			switch pk.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if video {
					p.PLIs.Add(1)
					p.src.RequestKeyframe()
				}
			}
		}
	}
}

func (p *Publisher) sendVideo(ctx context.Context) {
	d := time.Second / time.Duration(p.src.FPS)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		f, _ := p.src.Next()
		if err := p.video.WriteSample(media.Sample{Data: f, Duration: d}); err != nil {
			return
		}
		p.Frames.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Publisher) sendAudio(ctx context.Context) {
	const d = 20 * time.Millisecond
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		if err := p.audio.WriteSample(media.Sample{Data: opusFrame, Duration: d}); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close ends the WHIP session (DELETE, which ends the broadcast) and stops
// every goroutine. It blocks for one round trip at most.
func (p *Publisher) Close() {
	p.cancel()
	if p.session != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, p.session, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+p.key)
			if res, err := p.http.Do(req); err == nil {
				res.Body.Close()
			}
		}
		cancel()
	}
	_ = p.pc.Close()
	p.wg.Wait()
}
