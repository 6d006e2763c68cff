package signaling

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// A viewer's NACK is answered by the SFU from the room's recent packets:
// the packet comes again on the viewer's own SSRC with its payload type; a
// NACK for a packet no longer kept, or naming another SSRC, sends nothing.
// The viewer also gets sender reports for its stream (lip sync).
func TestNACKRetransmissionAndSenderReports(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *Config) { c.Registerer = reg; c.FanoutShards = 2; c.NACKBuffer = 64 })
	room := e.rooms.add("key-1")
	if pub, ans := publish(t, e.url, room, "key-1"); pub == nil {
		t.Fatalf("publish: %d %s", ans.status, ans.body)
	}

	// A bare viewer: default codecs, no interceptors (so it sends no NACKs
	// of its own) and no SRTP replay protection (so a retransmission of a
	// packet it already has is delivered and can be counted).
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.DisableSRTPReplayProtection(true)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		seen  = map[uint16]int{}
		order []uint16
		ssrc  uint32
		pt    uint8
		bad   int // packets with another SSRC or payload type
		srs   []*rtcp.SenderReport
		wg    sync.WaitGroup
	)
	rtcpDone := make(chan struct{})
	go func() {
		defer close(rtcpDone)
		for {
			pkts, _, err := pc.GetReceivers()[0].ReadRTCP()
			if err != nil {
				return
			}
			mu.Lock()
			for _, p := range pkts {
				if sr, ok := p.(*rtcp.SenderReport); ok {
					srs = append(srs, sr)
				}
			}
			mu.Unlock()
		}
	}()
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				mu.Lock()
				if ssrc == 0 {
					ssrc, pt = p.SSRC, p.PayloadType
				}
				if p.SSRC != ssrc || p.PayloadType != pt {
					bad++
				}
				seen[p.SequenceNumber]++
				order = append(order, p.SequenceNumber)
				mu.Unlock()
			}
		}()
	})
	ans := do(t, "POST", e.url+"/api/rooms/"+string(room)+"/whep", "", "application/sdp", offerFrom(t, pc))
	if ans.status != 201 {
		t.Fatalf("WHEP: %d %s", ans.status, ans.body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.body}); err != nil {
		t.Fatal(err)
	}
	defer func() { <-rtcpDone }()
	defer wg.Wait()
	defer pc.Close()

	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(order)
	}
	eventually(t, 10*time.Second, "video packets", func() bool { return received() > 10 })
	mu.Lock()
	want, gone, media := order[len(order)-3], order[0]-1000, ssrc
	mu.Unlock()
	count := func(seq uint16) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[seq]
	}
	nack := func(media uint32, seqs ...uint16) {
		t.Helper()
		if err := pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: media, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}}); err != nil {
			t.Fatal(err)
		}
	}

	// Another SSRC, and a packet never kept: nothing is sent.
	nack(media+1, want)
	nack(media, gone)
	time.Sleep(300 * time.Millisecond)
	if n := count(want); n != 1 {
		t.Fatalf("packet %d received %d times after NACKs that must be ignored, want 1", want, n)
	}
	if n := metricValue(t, reg, "jobcast_media_rtp_packets_retransmitted_total"); n != 0 {
		t.Fatalf("retransmitted %v, want 0", n)
	}

	nack(media, want)
	eventually(t, 5*time.Second, "the NACKed packet again", func() bool { return count(want) == 2 })
	if n := metricValue(t, reg, "jobcast_media_rtp_packets_retransmitted_total"); n != 1 {
		t.Fatalf("retransmitted %v, want 1", n)
	}
	// Sender reports come about every second once media flows.
	eventually(t, 5*time.Second, "a sender report", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(srs) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if bad != 0 {
		t.Fatalf("%d packets with another SSRC or payload type", bad)
	}
	sr := srs[len(srs)-1]
	if sr.SSRC != ssrc || sr.PacketCount == 0 || sr.OctetCount == 0 || sr.NTPTime>>32 < 2208988800 {
		t.Fatalf("sender report %+v for SSRC %d", sr, ssrc)
	}
	if got := int(sr.PacketCount); got > len(order)+50 {
		t.Fatalf("sender report counts %d packets, the viewer got %d", got, len(order))
	}
}
