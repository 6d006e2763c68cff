package main

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"jobcast/advisor"
	"jobcast/chat"
	"jobcast/jobs"
	"jobcast/live"
	"jobcast/moderation"
	"jobcast/signaling"
	"jobcast/store"
	"jobcast/web"
)

// LiveParts are the real-time parts of a node, wired around the core
// (storage, auth, rooms) by wireLive: the room channel, the media server,
// and the job fair endpoints (shelf, pin, one-tap apply, applicants).
type LiveParts struct {
	Redis     *redis.Client // nil on the embedded default
	Chat      *chat.Service
	Media     *signaling.Server
	Committer *jobs.Committer
	Relay     *jobs.Relay
	Shelf     *jobs.Shelf
	Apply     *jobs.Apply
	Recommend *jobs.Recommender // issue 8: per-seeker recommendations
	Advisor   *advisor.Service  // issue 8: help, advisor views, DMs, follow-ups, report
}

// wireLive chooses the broker and media registry once — Redis when
// JOBCAST_REDIS_URL is set, in-process otherwise — builds the real-time
// parts, connects their ports and mounts their routes. Closers are
// registered so that Close stops them in the right order: relay, then
// committer (after the HTTP server drained), media, channel, Redis.
func (a *App) wireLive(ctx context.Context, opt Options) error {
	cfg := a.Config
	p := &a.Live
	var broker chat.Broker
	var registry signaling.Registry
	if cfg.RedisURL != "" {
		ropt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("JOBCAST_REDIS_URL: %w", err)
		}
		p.Redis = redis.NewClient(ropt)
		a.OnClose(func(context.Context) error { return p.Redis.Close() })
		if err := p.Redis.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		prefix := opt.RedisPrefix
		if prefix == "" {
			prefix = "jobcast:"
		}
		broker = chat.NewRedisBroker(p.Redis, chat.RedisOptions{Prefix: prefix, Log: a.Log})
		registry = signaling.NewRedisRegistry(p.Redis, prefix+"media:")
	} else {
		broker = chat.NewMemoryBroker(chat.HistoryConfig{})
		registry = signaling.NewMemoryRegistry()
	}

	p.Chat = chat.New(chat.Config{AllowedOrigins: cfg.AllowedOrigins, Registerer: a.Metrics},
		broker, a.Auth, a.Rooms, a.Rooms, a.Log)
	a.Go(func(ctx context.Context) {
		if err := p.Chat.Run(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("chat stopped", "err", err)
		}
	})
	a.OnClose(func(context.Context) error { p.Chat.Close(); return nil })
	a.AddReadyCheck("broker", p.Chat.Ready)
	a.Rooms.SetPublisher(p.Chat)
	a.Rooms.SetViewerCounter(p.Chat)
	a.Auth.OnLogout = func(u live.UserID) {
		if err := p.Chat.Kick(context.Background(), "", u, live.Event{}); err != nil {
			a.Log.Warn("closing a signed-out user's sockets", "err", err)
		}
	}

	ice, err := parseICEServers(cfg.ICEServers)
	if err != nil {
		return err
	}
	mcfg := signaling.Config{
		UDPPort: cfg.RTCUDPPort, TCPPort: cfg.RTCUDPPort, ICEServers: ice, AllowedOrigins: cfg.AllowedOrigins,
		NodeURL: cfg.NodeURL, Registerer: a.Metrics, LoopbackOnly: opt.LoopbackMedia,
	}
	if cfg.PublicIP != "" {
		mcfg.PublicIPs = []string{cfg.PublicIP}
	}
	for _, ip := range cfg.RTCIPs {
		mcfg.IPs = append(mcfg.IPs, net.ParseIP(ip)) // validated by LoadConfig
	}
	if opt.LoopbackMedia {
		mcfg.UDPPort, mcfg.TCPPort = 0, 0
	}
	p.Media, err = signaling.New(mcfg, a.Rooms, a.Auth, registry, a.Log)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	a.OnClose(func(context.Context) error { return p.Media.Close() })
	p.Chat.OnKick(p.Media.Kick)

	workers := 1 // SQLite has one writer: one committer batches for it
	if a.DB.Dialect() == store.Postgres {
		// Two batches in flight overlap one's round trip with the next
		// one's forming. More workers made smaller batches that queue on
		// PostgreSQL's WAL lock: on the 2-core machine, 3,000 applies at
		// 64 clients gave 1,426–1,610/s with 4 workers, 1,685–1,940/s with
		// 2 and 1,790–2,105/s with 1, p99 170–280 ms for all three
		// (docs/benchmarks.md).
		workers = 2
	}
	p.Committer = jobs.NewCommitter(a.DB, workers, 256, a.Log)
	a.OnClose(func(context.Context) error { p.Committer.Close(); return nil })
	p.Relay = jobs.NewRelay(a.DB, p.Chat, p.Chat, a.Log)
	p.Relay.Start()
	a.OnClose(func(context.Context) error { p.Relay.Close(); return nil })
	p.Shelf = jobs.NewShelf(a.DB, a.Rooms, p.Chat, a.Log)
	p.Apply = jobs.NewApply(a.DB, a.Rooms, p.Committer, p.Relay, cfg.AppliesPerMinute, a.Log)

	e := a.Engine
	e.GET("/api/rooms/:room/ws", p.Chat.HandleWS)
	p.Media.Register(e)
	p.Shelf.Register(e)
	p.Apply.Register(e)
	jobs.NewApplicants(a.DB).Register(e)
	// Advisors and recommendations (issue 8): the pusher follows the shelf and
	// seekers' joins, and delivers through the channel's per-user path.
	p.Recommend = jobs.NewRecommender(a.DB, a.Rooms, p.Chat, a.Log)
	p.Recommend.Start()
	a.OnClose(func(context.Context) error { p.Recommend.Close(); return nil })
	p.Shelf.OnChange = p.Recommend.ShelfChanged
	p.Chat.OnJoin(p.Recommend.Joined)
	p.Recommend.Register(e)
	p.Advisor = advisor.New(a.DB, a.Rooms, p.Chat, a.Log)
	p.Advisor.Register(e)
	a.Go(advisor.NewPeakSampler(a.DB, p.Chat, 0, a.Log).Run) // peak viewers for the report
	mod := moderation.New(a.DB, a.Rooms, p.Chat, moderation.Config{AdminEmails: cfg.AdminEmails}, a.Log)
	p.Chat.SetHeldQueue(mod) // before Run serves traffic: no message is held before it is set
	mod.Routes(e)

	site := gin.WrapH(web.Handler())
	for _, path := range []string{"/", "/signin", "/profile", "/dashboard", "/me/applications", "/favicon.ico"} {
		e.GET(path, site)
		e.HEAD(path, site)
	}
	for _, path := range []string{"/rooms/:id", "/studio/:id", "/static/*file"} {
		e.GET(path, site)
		e.HEAD(path, site)
	}
	return nil
}

// parseICEServers reads JOBCAST_ICE_SERVERS entries: "stun:host:port", or
// "turn:host:port?transport=udp" with credentials written as
// "turn:user:secret@host:port" (the part before the last @ after the
// scheme is username:credential).
func parseICEServers(list []string) ([]signaling.ICEServer, error) {
	var out []signaling.ICEServer
	for _, s := range list {
		scheme, rest, _ := strings.Cut(s, ":")
		srv := signaling.ICEServer{}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			user, cred, ok := strings.Cut(rest[:at], ":")
			if !ok || user == "" {
				return nil, fmt.Errorf("JOBCAST_ICE_SERVERS: %q: credentials must be user:secret@", scheme+":…")
			}
			srv.Username, srv.Credential = user, cred
			rest = rest[at+1:]
		}
		srv.URLs = []string{scheme + ":" + rest}
		out = append(out, srv)
	}
	return out, nil
}
