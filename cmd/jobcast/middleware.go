package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"jobcast/httpx"
	"jobcast/live"
)

// MaxBody caps every request body; JSON endpoints apply their own smaller
// cap (httpx.MaxJSONBody) on top.
const MaxBody = 1 << 20

// requestID takes a sane X-Request-ID from the client (or a proxy) or makes
// one, echoes it in the answer and records it for logs.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-ID")
		if !saneID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		httpx.SetRequestID(c, id)
		c.Header("X-Request-ID", id)
		c.Next()
	}
}

func saneID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// accessLog writes one line per request: method, route template (never the
// raw path, which may hold ids of people), status, duration, size and
// request id. No query strings, IPs, tokens or bodies.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case route == "/healthz" || route == "/readyz" || route == "/metrics":
			level = slog.LevelDebug
		}
		log.LogAttrs(c.Request.Context(), level, "http request",
			slog.String("method", c.Request.Method), slog.String("route", route), slog.Int("status", status),
			slog.Duration("duration", time.Since(start)), slog.Int("bytes", c.Writer.Size()),
			slog.String("request_id", httpx.RequestID(c)))
	}
}

// recovery turns a panic into a logged error and a 500 in the error shape;
// the stack goes to the log, never to the client.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			log.ErrorContext(c.Request.Context(), "panic serving request", "method", c.Request.Method,
				"route", c.FullPath(), "request_id", httpx.RequestID(c), "panic", p, "stack", string(debug.Stack()))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			c.AbortWithStatusJSON(http.StatusInternalServerError, httpx.ErrorBody{Error: httpx.ErrorDetail{
				Code: "internal", Message: "internal error, try again"}})
		}()
		c.Next()
	}
}

// httpMetrics counts requests and observes latency by route template,
// method and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jobcast_http_requests_total",
			Help: "HTTP requests by route template, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "jobcast_http_request_duration_seconds",
			Help: "HTTP request latency by route template, method and status.", Buckets: prometheus.DefBuckets},
			[]string{"route", "method", "status"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *httpMetrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := strconv.Itoa(c.Writer.Status())
		m.requests.WithLabelValues(route, c.Request.Method, status).Inc()
		m.latency.WithLabelValues(route, c.Request.Method, status).Observe(time.Since(start).Seconds())
	}
}

// bodyCap refuses bodies declared larger than max with 413 and caps the
// rest, so a handler reading past max gets an error instead of memory
// exhaustion.
func bodyCap(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			httpx.Fail(c, &live.Error{Kind: live.KindTooLarge, Code: "body_too_large", Message: "the request body is too large"})
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		}
		c.Next()
	}
}

// securityHeaders sets headers every API answer should carry.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		c.Next()
	}
}
