package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is everything jobcast is configured with. Zero values take the
// defaults of DefaultConfig.
type Config struct {
	Addr            string        // HTTP listen address
	DataDir         string        // SQLite file and other local data
	DatabaseURL     string        // postgres://… ; empty = embedded SQLite
	RedisURL        string        // redis://… ; empty = in-process broker
	AllowedOrigins  []string      // extra origins trusted for cookies, CSRF, WebSocket and CORS
	AdminEmails     []string      // accounts with the global admin flag
	TrustedProxies  []string      // proxy IPs/CIDRs whose X-Forwarded-For is believed; none by default
	RTCUDPPort      int           // WebRTC ICE UDP mux port
	RTCIPs          []string      // local addresses that carry media (empty: all non-loopback)
	PublicIP        string        // NAT 1:1 address announced in ICE candidates
	ICEServers      []string      // stun:/turn: URLs handed to clients
	NodeURL         string        // this node's base URL, for the room→media-node registry
	LogFormat       string        // "text" or "json"
	LogLevel        string        // debug, info, warn, error
	ShutdownTimeout time.Duration // bound on graceful shutdown
	// AppliesPerMinute caps one-tap applies per job seeker (burst the same).
	AppliesPerMinute int
	// SecureCookies forces the Secure flag on the session cookie. It is also
	// set when every allowed origin is https.
	SecureCookies bool
}

// DefaultConfig is the embedded default: :8080, ./data, SQLite, no Redis.
func DefaultConfig() Config {
	return Config{
		Addr: ":8080", DataDir: "data", RTCUDPPort: 8443, LogFormat: "text", LogLevel: "info",
		ShutdownTimeout: 20 * time.Second, AppliesPerMinute: 10,
	}
}

// envVars are the environment variables, each matching a flag.
var envVars = []struct{ env, flag, usage string }{
	{"JOBCAST_ADDR", "addr", "HTTP listen address"},
	{"JOBCAST_DATA_DIR", "data-dir", "directory for the SQLite database"},
	{"JOBCAST_DATABASE_URL", "database-url", "PostgreSQL URL (postgres://…); empty = SQLite in the data dir"},
	{"JOBCAST_REDIS_URL", "redis-url", "Redis URL (redis://…); empty = in-process broker (single node)"},
	{"JOBCAST_ALLOWED_ORIGINS", "allowed-origins", "comma-separated origins trusted for cross-origin browser requests"},
	{"JOBCAST_ADMIN_EMAILS", "admin-emails", "comma-separated emails of global admins"},
	{"JOBCAST_TRUSTED_PROXIES", "trusted-proxies", "comma-separated proxy IPs/CIDRs whose X-Forwarded-For is trusted (default none)"},
	{"JOBCAST_RTC_UDP_PORT", "rtc-udp-port", "UDP port for WebRTC media (ICE UDP mux)"},
	{"JOBCAST_RTC_IPS", "rtc-ips", "comma-separated local IPs that carry media (default: every non-loopback address)"},
	{"JOBCAST_PUBLIC_IP", "public-ip", "public IP announced for media behind 1:1 NAT"},
	{"JOBCAST_ICE_SERVERS", "ice-servers", "comma-separated STUN/TURN URLs for clients"},
	{"JOBCAST_NODE_URL", "node-url", "this node's base URL (multi-node media routing)"},
	{"JOBCAST_LOG_FORMAT", "log-format", "text or json"},
	{"JOBCAST_LOG_LEVEL", "log-level", "debug, info, warn or error"},
	{"JOBCAST_SHUTDOWN_TIMEOUT", "shutdown-timeout", "bound on graceful shutdown (e.g. 20s)"},
	{"JOBCAST_APPLIES_PER_MINUTE", "applies-per-minute", "one-tap applies allowed per job seeker per minute"},
}

// LoadConfig builds the configuration from getenv and args (flags win over
// environment variables, which win over defaults). It never reads the
// process environment itself.
func LoadConfig(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("jobcast", flag.ContinueOnError)
	vals := map[string]*string{}
	for _, v := range envVars {
		vals[v.flag] = fs.String(v.flag, "", v.usage+" (env "+v.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	get := func(name string) string {
		for _, v := range envVars {
			if v.flag == name {
				if s := *vals[name]; s != "" {
					return s
				}
				return getenv(v.env)
			}
		}
		return ""
	}
	c := DefaultConfig()
	setStr := func(dst *string, name string) {
		if s := strings.TrimSpace(get(name)); s != "" {
			*dst = s
		}
	}
	setStr(&c.Addr, "addr")
	setStr(&c.DataDir, "data-dir")
	setStr(&c.DatabaseURL, "database-url")
	setStr(&c.RedisURL, "redis-url")
	setStr(&c.PublicIP, "public-ip")
	setStr(&c.NodeURL, "node-url")
	setStr(&c.LogFormat, "log-format")
	setStr(&c.LogLevel, "log-level")
	c.AllowedOrigins = list(get("allowed-origins"))
	c.AdminEmails = list(get("admin-emails"))
	c.TrustedProxies = list(get("trusted-proxies"))
	c.ICEServers = list(get("ice-servers"))
	c.RTCIPs = list(get("rtc-ips"))
	if s := get("rtc-udp-port"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("JOBCAST_RTC_UDP_PORT: %q is not a port", s)
		}
		c.RTCUDPPort = n
	}
	if s := get("applies-per-minute"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100000 {
			return Config{}, fmt.Errorf("JOBCAST_APPLIES_PER_MINUTE: %q is not a number from 1 to 100000", s)
		}
		c.AppliesPerMinute = n
	}
	if s := get("shutdown-timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("JOBCAST_SHUTDOWN_TIMEOUT: %q is not a positive duration", s)
		}
		c.ShutdownTimeout = d
	}
	return c, c.Validate()
}

func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("JOBCAST_ADDR: %q is not host:port", c.Addr))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("JOBCAST_DATABASE_URL: must be a postgres:// URL"))
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		errs = append(errs, errors.New("JOBCAST_REDIS_URL: must be a redis:// or rediss:// URL"))
	}
	for _, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("JOBCAST_ALLOWED_ORIGINS: %q is not an origin like https://example.org", o))
		}
	}
	for _, p := range c.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				errs = append(errs, fmt.Errorf("JOBCAST_TRUSTED_PROXIES: %q is not an IP or CIDR", p))
			}
		}
	}
	seen := map[string]bool{}
	for _, s := range c.RTCIPs {
		switch ip := net.ParseIP(s); {
		case ip == nil:
			errs = append(errs, fmt.Errorf("JOBCAST_RTC_IPS: %q is not an IP address", s))
		case ip.IsUnspecified() || ip.IsMulticast():
			errs = append(errs, fmt.Errorf("JOBCAST_RTC_IPS: %q is not a unicast address of this host", s))
		case seen[ip.String()]:
			errs = append(errs, fmt.Errorf("JOBCAST_RTC_IPS: %q is listed twice", s))
		default:
			seen[ip.String()] = true
		}
	}
	if c.PublicIP != "" && net.ParseIP(c.PublicIP) == nil {
		errs = append(errs, fmt.Errorf("JOBCAST_PUBLIC_IP: %q is not an IP address", c.PublicIP))
	}
	for _, s := range c.ICEServers {
		if !strings.HasPrefix(s, "stun:") && !strings.HasPrefix(s, "turn:") && !strings.HasPrefix(s, "turns:") {
			errs = append(errs, fmt.Errorf("JOBCAST_ICE_SERVERS: %q is not a stun:/turn:/turns: URL", s))
		}
	}
	if c.NodeURL != "" {
		if u, err := url.Parse(c.NodeURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("JOBCAST_NODE_URL: %q is not an http(s) URL", c.NodeURL))
		}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("JOBCAST_LOG_FORMAT: %q is not text or json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("JOBCAST_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// secureCookies reports whether the session cookie must be Secure.
func (c Config) secureCookies() bool {
	if c.SecureCookies {
		return true
	}
	if len(c.AllowedOrigins) == 0 {
		return false
	}
	for _, o := range c.AllowedOrigins {
		if !strings.HasPrefix(o, "https://") {
			return false
		}
	}
	return true
}
