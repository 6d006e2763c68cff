package signaling

import (
	"testing"
)

// Offers and trickle fragments come from untrusted clients: the parsers
// must never panic, and whatever they accept must be internally consistent.
func FuzzParseOffer(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\na=fingerprint:sha-256 AA:BB\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n"))
	f.Add([]byte("v=0\r\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, info, err := parseOffer(b)
		if err != nil {
			return
		}
		if sd == nil || !info.hasCredentials || info.ufrag == "" {
			t.Fatalf("accepted an offer without credentials: %+v", info)
		}
		for _, md := range info.videoCodecs {
			pickVideoCodec(md)
		}
	})
}

func FuzzParseFrag(f *testing.F) {
	f.Add([]byte("a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\na=end-of-candidates\r\n"))
	f.Add([]byte("a=candidate:garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		frag, err := parseFrag(b)
		if err != nil {
			return
		}
		if len(frag.cands) > 64 {
			t.Fatal("accepted more than 64 candidates")
		}
	})
}
