package signaling

import (
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Server. The zero value is usable except for the ports:
// UDPPort 0 and TCPPort 0 pick ephemeral ports (tests), production sets
// 8443 (JOBCAST_RTC_UDP_PORT) and a TCP port of its choice.
type Config struct {
	// UDPPort is the one UDP port all media uses (ICE UDP mux). 0 = ephemeral.
	UDPPort int
	// TCPPort is the ICE-TCP fallback port. 0 = ephemeral; negative disables
	// ICE-TCP.
	TCPPort int
	// PublicIPs are advertised instead of the local addresses in host
	// candidates (NAT 1:1, JOBCAST_PUBLIC_IP).
	PublicIPs []string
	// ICEServers are the STUN/TURN servers clients should use; they are sent
	// in Link headers of every 201 answer (JOBCAST_ICE_SERVERS).
	ICEServers []ICEServer
	// AllowedOrigins may call the endpoints from browsers (CORS). "*" allows
	// any origin. Same-origin requests need no entry.
	AllowedOrigins []string
	// IPs are the local addresses media uses (JOBCAST_RTC_IPS): the UDP
	// sockets bind to them and candidates are gathered on them only (the
	// ICE-TCP listener takes every address but only these are announced);
	// empty = every non-loopback address that is up.
	// Each address costs every viewer an ICE candidate (a socket reader and
	// its buffers), so a node with addresses no client can reach should
	// list the ones that can.
	IPs []net.IP
	// LoopbackOnly gathers only 127.0.0.1 candidates, binds the media ports
	// on loopback and disables mDNS: for tests. Production leaves it false
	// and gathers every real interface.
	LoopbackOnly bool
	// MaxViewersPerRoom caps WHEP sessions of one room on this node
	// (default 5000); MaxViewersPerUser caps WHEP sessions of one signed-in
	// user on this node (default 4); MaxViewersPerIP caps visitors' sessions
	// per client IP (default 200: a job fair's venue Wi-Fi is one address).
	// Past any: 429.
	MaxViewersPerRoom int
	MaxViewersPerUser int
	MaxViewersPerIP   int
	// PublisherGrace is how long a room stays live after its publisher's
	// connection drops, waiting for it to come back (default 30 s).
	PublisherGrace time.Duration
	// ConnectTimeout closes a session whose ICE/DTLS has not connected in
	// time (default 20 s).
	ConnectTimeout time.Duration
	// NodeURL is this node's advertised base URL (JOBCAST_NODE_URL, e.g.
	// "https://media-2.example.com"). With a shared Registry, requests for a
	// room hosted elsewhere are redirected to that node's URL. Empty = single
	// node: the registry is not consulted.
	NodeURL string
	// RegistryTTL is the expiry of this node's claim on a room; it is
	// refreshed every TTL/3 while the room is hosted here (default 15 s).
	RegistryTTL time.Duration
	// FanoutShards is the number of fan-out goroutines (and local tracks) per
	// media kind and room (default GOMAXPROCS).
	FanoutShards int
	// WriteBatchInterval: media packets are written with sendmmsg in
	// batches of up to 64, flushed at least this often (default 500 µs;
	// negative = one sendto per packet).
	WriteBatchInterval time.Duration
	// NACKBuffer is the number of recent packets kept per room video
	// stream (shared by all its viewers) to answer NACKs (power of two,
	// default 256, ~1.7 s at 1.5 Mbit/s; older packets would come too late
	// for the viewer's jitter buffer anyway).
	NACKBuffer uint16
	// Registerer receives the metrics; nil = not registered.
	Registerer prometheus.Registerer
}

// ICEServer is one STUN or TURN server for clients.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

func (c *Config) defaults() error {
	if c.MaxViewersPerRoom <= 0 {
		c.MaxViewersPerRoom = 5000
	}
	if c.MaxViewersPerUser <= 0 {
		c.MaxViewersPerUser = 4
	}
	if c.MaxViewersPerIP <= 0 {
		c.MaxViewersPerIP = 200
	}
	if c.PublisherGrace <= 0 {
		c.PublisherGrace = 30 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 20 * time.Second
	}
	if c.RegistryTTL <= 0 {
		c.RegistryTTL = 15 * time.Second
	}
	if c.RegistryTTL < 300*time.Millisecond {
		return fmt.Errorf("signaling: RegistryTTL %v is too short", c.RegistryTTL)
	}
	if c.FanoutShards <= 0 {
		c.FanoutShards = runtime.GOMAXPROCS(0)
	}
	if c.FanoutShards > 64 {
		c.FanoutShards = 64
	}
	if c.WriteBatchInterval == 0 {
		c.WriteBatchInterval = 500 * time.Microsecond
	}
	if c.NACKBuffer == 0 {
		c.NACKBuffer = 256
	}
	if c.NACKBuffer&(c.NACKBuffer-1) != 0 {
		return fmt.Errorf("signaling: NACKBuffer %d is not a power of two", c.NACKBuffer)
	}
	if c.UDPPort < 0 || c.UDPPort > 65535 || c.TCPPort > 65535 {
		return fmt.Errorf("signaling: media port out of range")
	}
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("signaling: public IP %q is not an IP address", ip)
		}
	}
	if c.NodeURL != "" {
		u, err := url.Parse(c.NodeURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("signaling: node URL %q must be an absolute http(s) URL without a path", c.NodeURL)
		}
		c.NodeURL = strings.TrimSuffix(c.NodeURL, "/")
	}
	for _, s := range c.ICEServers {
		for _, u := range s.URLs {
			if err := checkICEURL(u); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkICEURL(u string) error {
	for _, p := range []string{"stun:", "stuns:", "turn:", "turns:"} {
		if strings.HasPrefix(u, p) && len(u) > len(p) && !strings.ContainsAny(u, " \t\r\n<>\"") {
			return nil
		}
	}
	return fmt.Errorf("signaling: ICE server URL %q must start with stun:, stuns:, turn: or turns:", u)
}

// ParseICEServers parses JOBCAST_ICE_SERVERS: entries separated by commas or
// white space, each "URL" or "URL|username|credential", for example
// "stun:stun.example.net:3478, turn:turn.example.net:3478?transport=udp|u|p".
// It does not block and is safe for concurrent use.
func ParseICEServers(s string) ([]ICEServer, error) {
	var out []ICEServer
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		parts := strings.Split(f, "|")
		if len(parts) != 1 && len(parts) != 3 {
			return nil, fmt.Errorf("signaling: ICE server entry must be URL or URL|username|credential")
		}
		if err := checkICEURL(parts[0]); err != nil {
			return nil, err
		}
		srv := ICEServer{URLs: []string{parts[0]}}
		if len(parts) == 3 {
			srv.Username, srv.Credential = parts[1], parts[2]
		}
		out = append(out, srv)
	}
	return out, nil
}

// linkHeaders renders the ICE servers as RFC 9725 Link header values.
func linkHeaders(servers []ICEServer) []string {
	var out []string
	for _, s := range servers {
		for _, u := range s.URLs {
			v := "<" + u + `>; rel="ice-server"`
			if s.Username != "" || s.Credential != "" {
				v += `; username="` + quoteEscape(s.Username) + `"; credential="` + quoteEscape(s.Credential) + `"; credential-type="password"`
			}
			out = append(out, v)
		}
	}
	return out
}

func quoteEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
