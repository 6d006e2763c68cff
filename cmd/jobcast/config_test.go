package main

import (
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"JOBCAST_ADDR":            "127.0.0.1:9000",
		"JOBCAST_DATA_DIR":        "/var/lib/jobcast",
		"JOBCAST_ALLOWED_ORIGINS": "https://a.example.org, https://b.example.org",
		"JOBCAST_ADMIN_EMAILS":    "ops@example.org",
		"JOBCAST_RTC_UDP_PORT":    "9443",
		"JOBCAST_ICE_SERVERS":     "stun:stun.example.org:3478",
		"JOBCAST_LOG_FORMAT":      "json",
	}
	c, err := LoadConfig([]string{"-addr", ":7000", "-shutdown-timeout", "5s"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":7000" || c.DataDir != "/var/lib/jobcast" || len(c.AllowedOrigins) != 2 || c.RTCUDPPort != 9443 ||
		c.LogFormat != "json" || c.ShutdownTimeout != 5*time.Second || len(c.AdminEmails) != 1 || !c.secureCookies() {
		t.Fatalf("config: %+v", c)
	}
	d, err := LoadConfig(nil, func(string) string { return "" })
	if err != nil || d.Addr != ":8080" || d.DataDir != "data" || d.DatabaseURL != "" || d.secureCookies() {
		t.Fatalf("defaults: %+v %v", d, err)
	}
	bad := []struct{ env, val, want string }{
		{"JOBCAST_ADDR", "nope", "JOBCAST_ADDR"},
		{"JOBCAST_DATABASE_URL", "mysql://x", "JOBCAST_DATABASE_URL"},
		{"JOBCAST_REDIS_URL", "http://x", "JOBCAST_REDIS_URL"},
		{"JOBCAST_ALLOWED_ORIGINS", "example.org", "JOBCAST_ALLOWED_ORIGINS"},
		{"JOBCAST_TRUSTED_PROXIES", "proxy", "JOBCAST_TRUSTED_PROXIES"},
		{"JOBCAST_RTC_UDP_PORT", "70000", "JOBCAST_RTC_UDP_PORT"},
		{"JOBCAST_PUBLIC_IP", "host", "JOBCAST_PUBLIC_IP"},
		{"JOBCAST_RTC_IPS", "127.0.0.1,eth0", "JOBCAST_RTC_IPS"},
		{"JOBCAST_RTC_IPS", "0.0.0.0", "JOBCAST_RTC_IPS"},
		{"JOBCAST_RTC_IPS", "127.0.0.1,127.0.0.1", "JOBCAST_RTC_IPS"},
		{"JOBCAST_ICE_SERVERS", "http://x", "JOBCAST_ICE_SERVERS"},
		{"JOBCAST_LOG_FORMAT", "xml", "JOBCAST_LOG_FORMAT"},
		{"JOBCAST_SHUTDOWN_TIMEOUT", "-1s", "JOBCAST_SHUTDOWN_TIMEOUT"},
	}
	for _, b := range bad {
		_, err := LoadConfig(nil, func(k string) string {
			if k == b.env {
				return b.val
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s=%q: %v", b.env, b.val, err)
		}
	}
	if _, err := LoadConfig([]string{"extra"}, func(string) string { return "" }); err == nil {
		t.Error("stray argument accepted")
	}
}
