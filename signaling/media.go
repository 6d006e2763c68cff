package signaling

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// Codecs the SFU forwards. Payload types are only our preference; pion
// answers with the offerer's numbers.
var (
	codecOpus = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}
	videoFeedback = []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: "transport-cc"}}
	codecVP8      = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback},
		PayloadType:        96,
	}
	// H.264 packetization-mode 1 in the profiles browsers and OBS send:
	// constrained baseline (42e0), baseline (4200) and main (4d00).
	codecH264 = []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: videoFeedback}, PayloadType: 102},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", RTCPFeedback: videoFeedback}, PayloadType: 104},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f", RTCPFeedback: videoFeedback}, PayloadType: 106},
	}
)

func newMediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(codecOpus, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	for _, c := range append([]webrtc.RTPCodecParameters{codecVP8}, codecH264...) {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// transport owns the sockets every peer connection shares: the ICE UDP mux
// and the ICE-TCP listener.
type transport struct {
	udp      ice.UDPMux // closes its sockets
	batches  []*batchConn
	tcpMux   ice.TCPMux
	tcpLn    net.Listener
	udpAddrs []net.Addr
}

func openTransport(cfg *Config, lf logging.LoggerFactory) (*transport, error) {
	t := &transport{}
	ips := []net.IP{net.IPv4(127, 0, 0, 1)}
	switch {
	case cfg.LoopbackOnly:
	case len(cfg.IPs) > 0:
		ips = cfg.IPs
	default:
		var err error
		if ips, err = localIPs(); err != nil {
			return nil, err
		}
	}
	// One socket per local address (so replies leave from the address the
	// client checked), each behind its own mux, all on cfg.UDPPort.
	var muxes []ice.UDPMux
	port := cfg.UDPPort
	for _, ip := range ips {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
		if err != nil {
			for _, m := range muxes {
				_ = m.Close()
			}
			return nil, fmt.Errorf("listen media UDP on %s port %d: %w", ip, port, err)
		}
		if port == 0 {
			port = conn.LocalAddr().(*net.UDPAddr).Port // same port on every address
		}
		_ = conn.SetReadBuffer(4 << 20)
		_ = conn.SetWriteBuffer(4 << 20)
		t.udpAddrs = append(t.udpAddrs, conn.LocalAddr())
		var pc net.PacketConn = conn
		if cfg.WriteBatchInterval > 0 {
			// sendmmsg: one system call for up to batchSize packets,
			// written when a fan-out shard has written a packet to all
			// its viewers, and at least every WriteBatchInterval. One
			// sendto per packet per viewer is the largest single cost of
			// an SFU.
			bc := newBatchConn(conn, cfg.WriteBatchInterval)
			t.batches = append(t.batches, bc)
			pc = bc
		}
		muxes = append(muxes, ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: lf.NewLogger("ice-udp"), UDPConn: pc}))
	}
	if len(muxes) == 1 {
		t.udp = muxes[0]
	} else {
		t.udp = ice.NewMultiUDPMuxDefault(muxes...)
	}
	if cfg.TCPPort >= 0 {
		host := ""
		if cfg.LoopbackOnly {
			host = "127.0.0.1"
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(cfg.TCPPort)))
		if err != nil {
			t.close()
			return nil, fmt.Errorf("listen ICE-TCP: %w", err)
		}
		t.tcpLn = ln
		t.tcpMux = newICETCPMux(ln, lf.NewLogger("ice-tcp"))
	}
	return t, nil
}

// localIPs lists the addresses media is served on: every up, non-loopback
// interface's unicast addresses, without link-local ones.
func localIPs() ([]net.IP, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var ips []net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLinkLocalUnicast() || ipn.IP.IsLoopback() || ipn.IP.IsMulticast() {
				continue
			}
			ips = append(ips, ipn.IP)
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no usable network interface for media")
	}
	return ips, nil
}

// flush writes the media packets queued on every socket now (the fan-out
// shards call it after writing a packet to their viewers).
func (t *transport) flush() {
	for _, b := range t.batches {
		b.flush()
	}
}

func (t *transport) close() {
	if t.udp != nil {
		_ = t.udp.Close()
	}
	if t.tcpMux != nil {
		_ = t.tcpMux.Close()
	}
	if t.tcpLn != nil {
		_ = t.tcpLn.Close()
	}
}

// udpPort returns the media UDP port actually bound.
func (t *transport) udpPort() int {
	for _, a := range t.udpAddrs {
		if u, ok := a.(*net.UDPAddr); ok {
			return u.Port
		}
	}
	return 0
}

// tcpPort returns the ICE-TCP port actually bound, or 0.
func (t *transport) tcpPort() int {
	if t.tcpLn == nil {
		return 0
	}
	return t.tcpLn.Addr().(*net.TCPAddr).Port
}

// ICE-TCP clients: pion's mux queues what is written to each connection in
// a buffer its own goroutine drains, and drops packets when the buffer is
// full, so a slow client never blocks the fan-out shards or the report
// loop. What a stalled one (zero window) holds is bounded here: a 256 KiB
// queue (about a second of video; pion's default is 4 MB) and, once that
// and the kernel's buffer are full, a write that takes 2 s closes the
// connection (its ICE fails and its session ends), freeing both.
const (
	tcpWriteBuffer  = 256 << 10
	tcpWriteTimeout = 2 * time.Second
)

// newICETCPMux is the ICE-TCP mux on ln (passive candidates only).
func newICETCPMux(ln net.Listener, log logging.LeveledLogger) ice.TCPMux {
	return ice.NewTCPMuxDefault(ice.TCPMuxParams{
		Listener: deadlineListener{ln}, Logger: log, ReadBufferSize: 32, WriteBufferSize: tcpWriteBuffer,
	})
}

// deadlineListener hands the ICE-TCP mux connections whose writes time out.
type deadlineListener struct{ net.Listener }

func (l deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c}, nil
}

// deadlineConn closes itself when a write fails or times out: a frame
// written in part would corrupt the RFC 4571 stream.
type deadlineConn struct{ net.Conn }

func (c *deadlineConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
	n, err := c.Conn.Write(b)
	if err != nil {
		_ = c.Conn.Close()
	}
	return n, err
}

// certSource holds the DTLS certificate every peer connection of the
// server presents. By default pion generates a key and a certificate per
// peer connection: a key generation on every join and a parsed certificate
// kept per viewer. Browsers likewise reuse one certificate for many
// connections (the keys of each session come from its own ECDHE exchange).
// It is renewed a day before it expires (pion's last a month).
type certSource struct {
	mu   sync.Mutex
	cert *webrtc.Certificate
}

// config returns a peer connection configuration with the current
// certificate.
func (c *certSource) config() (webrtc.Configuration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert == nil || time.Until(c.cert.Expires()) < 24*time.Hour {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Configuration{}, fmt.Errorf("dtls key: %w", err)
		}
		cert, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Configuration{}, fmt.Errorf("dtls certificate: %w", err)
		}
		c.cert = cert
	}
	return webrtc.Configuration{Certificates: []webrtc.Certificate{*c.cert}}, nil
}

// scopedLoggers hands out one logger per scope. pion asks its factory for
// a dozen loggers per peer connection and the default factory builds five
// log.Loggers for each: about 7 KiB per viewer, for loggers that are the
// same for every connection.
type scopedLoggers struct {
	lf logging.LoggerFactory
	mu sync.Mutex
	m  map[string]logging.LeveledLogger
}

func (l *scopedLoggers) NewLogger(scope string) logging.LeveledLogger {
	l.mu.Lock()
	defer l.mu.Unlock()
	lg, ok := l.m[scope]
	if !ok {
		lg = l.lf.NewLogger(scope)
		l.m[scope] = lg
	}
	return lg
}

func settingEngine(cfg *Config, t *transport, lf logging.LoggerFactory) (webrtc.SettingEngine, error) {
	var se webrtc.SettingEngine
	se.LoggerFactory = lf
	// One view of the host's interfaces for every peer connection: by
	// default each ICE agent enumerates them (netlink) and keeps its own
	// copy, about 8 KiB per viewer. It is taken at start and never
	// refreshed, like the UDP sockets opened at start: an address added
	// later (a rotated IPv6 address) needs a restart to carry media.
	n, err := stdnet.NewNet()
	if err != nil {
		return se, fmt.Errorf("list network interfaces: %w", err)
	}
	se.SetNet(n)
	se.SetICEUDPMux(t.udp)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if cfg.LoopbackOnly {
		networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	}
	if t.tcpMux != nil {
		se.SetICETCPMux(t.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4)
		if !cfg.LoopbackOnly {
			networks = append(networks, webrtc.NetworkTypeTCP6)
		}
	}
	se.SetNetworkTypes(networks)
	// The server never initiates TCP connections: ICE-TCP is passive only.
	se.DisableActiveTCP(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	switch {
	case cfg.LoopbackOnly:
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	case len(cfg.IPs) > 0:
		ips := slices.Clone(cfg.IPs)
		if slices.ContainsFunc(ips, net.IP.IsLoopback) {
			se.SetIncludeLoopbackCandidate(true)
		}
		se.SetIPFilter(func(ip net.IP) bool { return slices.ContainsFunc(ips, ip.Equal) })
	}
	if len(cfg.PublicIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: cfg.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			return se, err
		}
	}
	// Fail fast on dead peers so the publisher's grace period starts soon
	// and viewers' sockets are freed.
	se.SetICETimeouts(5*time.Second, 10*time.Second, 2*time.Second)
	return se, nil
}

// newAPIs builds the pion API for publishers (NACK generator, receiver
// reports, transport-cc feedback so the browser's congestion control can
// ramp up) and a maker of viewer APIs, without interceptors: NACKs are
// answered from one buffer per forwarded stream (fanTrack.resend) instead
// of pion's responder, which allocates and locks per packet per viewer, and
// sender reports come from Server.reportLoop. Each viewer gets its own API
// (a few hundred bytes) so that its RTCP is pushed to its own handlers
// (viewerRTCP) rather than read by a goroutine per sender.
func newAPIs(cfg *Config, t *transport, lf logging.LoggerFactory) (pub *webrtc.API, view func(*viewerRTCP) *webrtc.API, err error) {
	se, err := settingEngine(cfg, t, lf)
	if err != nil {
		return nil, nil, err
	}

	pubMedia, err := newMediaEngine()
	if err != nil {
		return nil, nil, err
	}
	pubReg := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, nil, err
	}
	pubReg.Add(gen)
	recv, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, nil, err
	}
	pubReg.Add(recv)
	if err := pubMedia.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, nil, err
	}
	if err := pubMedia.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, nil, err
	}
	tw, err := twcc.NewSenderInterceptor()
	if err != nil {
		return nil, nil, err
	}
	pubReg.Add(tw)
	pub = webrtc.NewAPI(webrtc.WithMediaEngine(pubMedia), webrtc.WithInterceptorRegistry(pubReg), webrtc.WithSettingEngine(se))

	viewMedia, err := newMediaEngine()
	if err != nil {
		return nil, nil, err
	}
	// No interceptors on the viewer side: every one of them runs per
	// packet per viewer. NACKs (fanTrack.resend) and sender reports
	// (Server.reportLoop) are handled per stream instead.
	noInterceptors := &interceptor.Registry{}
	view = func(v *viewerRTCP) *webrtc.API {
		vse := se // WithSettingEngine copies it again; the copy shares the muxes
		vse.BufferFactory = v.buffer
		return webrtc.NewAPI(webrtc.WithMediaEngine(viewMedia), webrtc.WithInterceptorRegistry(noInterceptors), webrtc.WithSettingEngine(vse))
	}
	return pub, view, nil
}

// pickVideoCodec returns the codec the publisher should send: the first
// video codec of its offer that the SFU forwards (the offerer's preference),
// with the offer's payload type (the answer must use the offerer's number).
func pickVideoCodec(md *sdp.MediaDescription) (webrtc.RTPCodecParameters, bool) {
	for _, f := range md.MediaName.Formats {
		c, ok := matchVideoFormat(md, f)
		if !ok {
			continue
		}
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		c.PayloadType = webrtc.PayloadType(pt)
		return c, true
	}
	return webrtc.RTPCodecParameters{}, false
}

// matchVideoFormat maps one payload type of a video m-line to the codec we
// forward for it, if any.
func matchVideoFormat(md *sdp.MediaDescription, f string) (webrtc.RTPCodecParameters, bool) {
	rtpmap, fmtp := "", ""
	for _, a := range md.Attributes {
		if a.Key == "rtpmap" && strings.HasPrefix(a.Value, f+" ") {
			rtpmap = strings.ToLower(strings.TrimPrefix(a.Value, f+" "))
		}
		if a.Key == "fmtp" && strings.HasPrefix(a.Value, f+" ") {
			fmtp = strings.ToLower(strings.TrimPrefix(a.Value, f+" "))
		}
	}
	switch {
	case strings.HasPrefix(rtpmap, "vp8/"):
		return codecVP8, true
	case strings.HasPrefix(rtpmap, "h264/"):
		params := fmtpParams(fmtp)
		if params["packetization-mode"] != "1" {
			return webrtc.RTPCodecParameters{}, false
		}
		plid := params["profile-level-id"]
		if len(plid) < 4 {
			plid = "42e01f"
		}
		for _, c := range codecH264 {
			if strings.Contains(c.SDPFmtpLine, "profile-level-id="+plid[:4]) {
				return c, true
			}
		}
	}
	return webrtc.RTPCodecParameters{}, false
}

func hasOpus(md *sdp.MediaDescription) bool {
	for _, a := range md.Attributes {
		if a.Key == "rtpmap" {
			if _, v, ok := strings.Cut(a.Value, " "); ok && strings.HasPrefix(strings.ToLower(v), "opus/48000") {
				return true
			}
		}
	}
	return false
}

func fmtpParams(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		out[k] = v
	}
	return out
}
