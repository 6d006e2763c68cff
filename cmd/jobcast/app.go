package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"jobcast/auth"
	"jobcast/httpx"
	"jobcast/jobs"
	"jobcast/live"
	"jobcast/rooms"
	"jobcast/store"
)

// App is one running jobcast node: storage, services and the HTTP handler.
// Build it with NewApp, serve it with Serve, stop it with Close. The
// exported fields are the wiring points for the parts added around it
// (chat, signaling, web); they are set by NewApp and must not be replaced.
type App struct {
	Config Config
	Log    *slog.Logger
	DB     *store.DB
	Auth   *auth.Service
	Jobs   *jobs.API
	// Rooms implements live.Rooms and live.Snapshotter for chat and
	// signaling; wire the channel with Rooms.SetPublisher and
	// Rooms.SetViewerCounter, and logout with Auth.OnLogout.
	Rooms   *rooms.Service
	Metrics *prometheus.Registry
	// Live holds the real-time parts (channel, media, fair endpoints).
	Live LiveParts
	// Engine is the Gin engine with the middlewares (request id, recovery,
	// access log, metrics, body cap, identity, CSRF) and the routes of this
	// package. Add routes to it before Serve.
	Engine *gin.Engine

	bg     context.Context // background work; cancelled by Close
	stop   context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	ready  []readyCheck
	closer []func(context.Context) error
	srv    *http.Server
	closed bool
}

type readyCheck struct {
	name  string
	check func(context.Context) error
}

// Options are test and embedding hooks that have no environment variable.
type Options struct {
	Logger *slog.Logger    // default: from Config.LogFormat/LogLevel on stderr
	Hash   auth.HashParams // password hashing cost (default auth.DefaultHash)
	// AuthLimits override the login/register rate limits when non-zero.
	IPLimit, AccountLimit auth.Limit
	// RedisPrefix namespaces every Redis key and channel (default
	// "jobcast:"); tests give each node group its own.
	RedisPrefix string
	// LoopbackMedia gathers only loopback ICE candidates on ephemeral ports
	// (tests); production gathers every interface on the configured ports.
	LoopbackMedia bool
}

// NewApp opens storage (applying migrations), builds the services and the
// HTTP handler. It blocks for the database connection; ctx bounds only
// start-up. On error nothing is left open.
func NewApp(ctx context.Context, cfg Config, opt Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opt.Logger
	if log == nil {
		log = NewLogger(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: log, DB: db, Metrics: prometheus.NewRegistry()}
	a.bg, a.stop = context.WithCancel(context.Background())
	a.closer = append(a.closer, func(context.Context) error { return db.Close() })
	fail := func(err error) (*App, error) {
		_ = a.Close(context.Background())
		return nil, err
	}

	a.Auth, err = auth.New(db, auth.Config{
		AdminEmails: cfg.AdminEmails, TrustedOrigins: cfg.AllowedOrigins, SecureCookie: cfg.secureCookies(),
		Hash: opt.Hash, IPLimit: opt.IPLimit, AccountLimit: opt.AccountLimit,
	})
	if err != nil {
		return fail(err)
	}
	a.Go(func(ctx context.Context) { a.Auth.RunJanitor(ctx, time.Hour) })
	a.Jobs = jobs.New(db)
	a.Rooms = rooms.New(db, nil, log)

	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := a.buildEngine(); err != nil {
		return fail(err)
	}
	if err := a.wireLive(ctx, opt); err != nil {
		return fail(err)
	}
	a.AddReadyCheck("database", db.Ping)
	log.Info("jobcast ready to serve", "database", string(db.Dialect()), "addr", cfg.Addr)
	return a, nil
}

func (a *App) buildEngine() error {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	// Trust no proxy unless configured: c.ClientIP() is then the socket peer,
	// and a spoofed X-Forwarded-For cannot dodge per-IP limits.
	if err := e.SetTrustedProxies(a.Config.TrustedProxies); err != nil {
		return fmt.Errorf("trusted proxies: %w", err)
	}
	m := newHTTPMetrics(a.Metrics)
	e.Use(wsSendBuffer, requestID(), recovery(a.Log), accessLog(a.Log), m.middleware(), securityHeaders(), bodyCap(MaxBody),
		a.Auth.Identify(), a.Auth.CSRF())
	e.NoRoute(func(c *gin.Context) {
		httpx.Fail(c, &live.Error{Kind: live.KindNotFound, Code: "not_found", Message: "no such endpoint"})
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, httpx.ErrorBody{Error: httpx.ErrorDetail{
			Code: "method_not_allowed", Message: "this endpoint does not accept " + c.Request.Method}})
	})
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", a.handleReady)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{})))
	a.Auth.Routes(e)
	a.Jobs.Routes(e)
	a.Rooms.Routes(e)
	a.Engine = e
	return nil
}

// connKey is the context key of a request's net.Conn (set by Serve).
type connKey struct{}

// wsSendBufferBytes caps the kernel send buffer of WebSocket connections.
// The room channel bounds what it queues for a client (512 KiB) and gives a
// blocked write 10 s, but an autotuned TCP send buffer grows to megabytes
// and hides a client that stopped reading: at 100 chat messages/s such a
// client was still connected after 20 s. With 32 KiB (the kernel doubles it)
// the writer blocks within seconds and the stalled client is cut by the
// write timeout or the queue bound. Room events are small; 64 KiB in
// flight is far above what a viewer needs.
const wsSendBufferBytes = 32 << 10

// wsSendBuffer applies wsSendBufferBytes to WebSocket upgrade requests
// served by Serve (not under httptest, which has no connection in the
// context).
func wsSendBuffer(c *gin.Context) {
	if strings.EqualFold(c.GetHeader("Upgrade"), "websocket") {
		if tc, ok := c.Request.Context().Value(connKey{}).(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(wsSendBufferBytes)
		}
	}
	c.Next()
}

// AddReadyCheck adds a dependency /readyz checks (each with a 2 s budget).
// Safe for concurrent use.
func (a *App) AddReadyCheck(name string, check func(context.Context) error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ready = append(a.ready, readyCheck{name, check})
}

// OnClose registers f to run when the app closes, after the HTTP server has
// stopped and background work has ended, before the database closes.
// Closers run in reverse order of registration.
func (a *App) OnClose(f func(context.Context) error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closer = append(a.closer, f)
}

// Go runs f in a goroutine owned by the app: its ctx is cancelled by Close,
// which waits for f to return.
func (a *App) Go(f func(ctx context.Context)) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f(a.bg)
	}()
}

func (a *App) handleReady(c *gin.Context) {
	a.mu.Lock()
	checks := append([]readyCheck(nil), a.ready...)
	a.mu.Unlock()
	for _, rc := range checks {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		err := rc.check(ctx)
		cancel()
		if err != nil {
			a.Log.Warn("not ready", "check", rc.name, "err", err)
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, httpx.ErrorBody{Error: httpx.ErrorDetail{
				Code: "not_ready", Message: rc.name + " is not reachable"}})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// Handler is the app's HTTP handler (for httptest or another server).
func (a *App) Handler() http.Handler { return a.Engine }

// Serve serves HTTP on ln until Close; it blocks and returns nil after a
// graceful shutdown.
func (a *App) Serve(ln net.Listener) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		_ = ln.Close()
		return errors.New("jobcast: app is closed")
	}
	if a.srv == nil {
		a.srv = &http.Server{
			Handler:           a.Engine,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      0, // long-lived WebSocket and WHEP answers; handlers set their own deadlines
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
			BaseContext:       func(net.Listener) context.Context { return a.bg },
			ConnContext:       func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		}
	}
	srv := a.srv
	a.mu.Unlock()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the app: the HTTP server stops accepting and finishes
// in-flight requests (until ctx ends, then closes connections), background
// work is cancelled and awaited, closers run, the database closes. Safe to
// call more than once; later calls return nil.
func (a *App) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	srv := a.srv
	a.mu.Unlock()
	var errs []error
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			_ = srv.Close()
		}
	}
	a.stop()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, errors.New("background work did not stop in time"))
	}
	a.mu.Lock()
	closers := a.closer
	a.closer = nil
	a.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// NewLogger builds the process logger: text or JSON lines on w.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
