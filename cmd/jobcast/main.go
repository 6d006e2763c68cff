package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
)

func main() {
	setGCPercent(os.Getenv) // here, not in run: tests call run in their own process
	os.Exit(run(os.Args[1:], os.Getenv))
}

// run is main without the process exit: load config, start, serve until
// SIGINT/SIGTERM, stop within Config.ShutdownTimeout.
func run(args []string, getenv func(string) string) int {
	cfg, err := LoadConfig(args, getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jobcast: configuration:", err)
		return 2
	}
	log := NewLogger(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	app, err := NewApp(startCtx, cfg, Options{Logger: log})
	cancel()
	if err != nil {
		log.Error("start-up failed", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Error("listen failed", "addr", cfg.Addr, "err", err)
		_ = app.Close(context.Background())
		return 1
	}
	log.Info("listening", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- app.Serve(ln) }()

	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err := <-served:
		if err != nil {
			log.Error("server stopped", "err", err)
			code = 1
		}
	}
	stop() // a second signal now kills the process the default way
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := app.Close(shutdownCtx); err != nil {
		log.Error("shutdown incomplete", "err", err)
		code = 1
	}
	<-served
	log.Info("stopped")
	return code
}

// gcPercent is jobcast's garbage-collection target unless GOGC is set. What
// a node holds per viewer (WebRTC sessions, sockets) is long-lived and makes
// little garbage, so the GC's default headroom (the heap may grow to twice
// what is live) is mostly idle memory: at 50 a media viewer costs ~60 KiB
// less RSS for little CPU (docs/benchmarks.md, "GC target").
const gcPercent = 50

func setGCPercent(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
