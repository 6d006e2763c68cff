package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"jobcast/internal/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	url, spawn, dataDir, databaseURL, redisURL, jsonOut, scenarios string
	seed, register, mediaLoopback                                  bool
	scale                                                          float64
	jobs                                                           int
	serverLog                                                      string
	docs, docsExtra                                                string
}

// run parses flags, prepares each scenario's server and accounts, runs it
// and prints the reports. It returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("jobcast-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var sc load.Scenario
	fs.StringVar(&o.url, "url", "", "base URL of a running jobcast (http://host:port)")
	fs.StringVar(&o.spawn, "spawn", "", "start this jobcast binary for each scenario (fresh data dir, free loopback port) instead of -url")
	fs.StringVar(&o.dataDir, "data-dir", "", "the server's JOBCAST_DATA_DIR, for -seed (with -spawn: default a fresh temp dir)")
	fs.StringVar(&o.databaseURL, "database-url", "", "the server's JOBCAST_DATABASE_URL, for -seed (PostgreSQL)")
	fs.StringVar(&o.redisURL, "redis-url", "", "with -spawn: JOBCAST_REDIS_URL for the server (empty: in-process broker)")
	fs.BoolVar(&o.seed, "seed", false, "write the fair (host, org, live room, jobs, seekers with sessions) straight into the server's store")
	fs.BoolVar(&o.register, "register", false, "register the host and seekers through the API (rate limited: a few dozen accounts)")
	fs.IntVar(&o.jobs, "jobs", 8, "jobs on the shelf")
	fs.StringVar(&o.scenarios, "scenario", "", "comma-separated presets: "+strings.Join(load.PresetNames(), ", ")+" (flags below override)")
	fs.Float64Var(&o.scale, "scale", 1, "multiply the presets' counts and apply rate (e.g. 0.2 on a small machine)")
	fs.StringVar(&o.jsonOut, "json", "", "write the reports as a JSON array to this file")
	fs.StringVar(&o.docs, "docs", "", "rewrite the generated section of this Markdown report (e.g. docs/benchmarks.md) with the machine, the command and every report")
	fs.StringVar(&o.docsExtra, "docs-extra", "", "with -docs: also put this file's text (e.g. go benchmark output) in the section")
	fs.StringVar(&o.serverLog, "server-log", "", "with -spawn: append the server's log to this file")
	fs.BoolVar(&o.mediaLoopback, "media-loopback", false, "with -spawn: media on 127.0.0.1 only (JOBCAST_RTC_IPS=127.0.0.1; by default the server uses the host's other addresses, which the tool reaches through the kernel's loopback path all the same)")
	fs.IntVar(&sc.Viewers, "viewers", 0, "WebSocket viewers")
	fs.Float64Var(&sc.RampRate, "ramp", 0, "new viewer connections per second (0: as fast as -dialers allow)")
	fs.IntVar(&sc.Dialers, "dialers", 64, "concurrent WebSocket dials")
	fs.IntVar(&sc.Chatters, "chatters", 0, "viewers that chat (signed-in seekers)")
	fs.Float64Var(&sc.ChatRate, "chat-rate", 0, "chat messages per second, all chatters together (≤ 1 per chatter)")
	fs.DurationVar(&sc.PinEvery, "pin-every", 0, "the host pins the next card this often")
	fs.IntVar(&sc.Appliers, "appliers", 0, "seekers that apply")
	fs.Float64Var(&sc.ApplyRate, "apply-rate", 0, "sustained applies per second")
	fs.IntVar(&sc.ApplyBurst, "apply-burst", 0, "applies fired at once")
	fs.DurationVar(&sc.ApplyEvery, "apply-every", 0, "burst interval (0: one burst a third into the run)")
	fs.IntVar(&sc.WHEPViewers, "whep", 0, "pion WHEP viewers (starts the synthetic WHIP publisher)")
	fs.Float64Var(&sc.WHEPRamp, "whep-ramp", 20, "WHEP viewers per second")
	fs.BoolVar(&sc.Publish, "publish", false, "run the synthetic WHIP publisher even without WHEP viewers")
	fs.IntVar(&sc.Bitrate, "bitrate", 1_500_000, "publisher video bits per second")
	fs.BoolVar(&sc.Loopback, "loopback", false, "pion clients gather loopback candidates only (server started with loopback media)")
	fs.DurationVar(&sc.ReconnectAt, "reconnect-at", 0, "drop every viewer at once this long into the run; they reconnect with since/epoch")
	fs.DurationVar(&sc.Duration, "duration", 20*time.Second, "measured phase")
	fs.DurationVar(&sc.Drain, "drain", 2*time.Second, "wait for in-flight events after the run")
	fs.DurationVar(&sc.Progress, "progress", 2*time.Second, "progress line interval (negative: none)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "jobcast-load: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if (o.url == "") == (o.spawn == "") {
		fmt.Fprintln(stderr, "jobcast-load: give exactly one of -url and -spawn")
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var scenarios []load.Scenario
	names := strings.Split(o.scenarios, ",")
	if o.scenarios == "" {
		names = []string{""}
	}
	for _, name := range names {
		s := load.Scenario{Name: "custom"}
		if name = strings.TrimSpace(name); name != "" {
			var err error
			if s, err = load.Preset(name, o.scale); err != nil {
				fmt.Fprintln(stderr, "jobcast-load:", err)
				return 2
			}
		}
		overlay(&s, sc, set)
		scenarios = append(scenarios, s)
	}

	// Every viewer is a socket here (and in a spawned server, which
	// inherits the limit): raise the soft limit and say when it is short.
	need := 0
	for _, s := range scenarios {
		need = max(need, s.Viewers+s.WHEPViewers*4+512)
	}
	if lim, err := load.RaiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "jobcast-load: open-file limit:", err)
	} else if lim < uint64(need) {
		fmt.Fprintf(stderr, "jobcast-load: warning: open-file limit %d is below the %d sockets this run needs (raise the hard limit: ulimit -Hn)\n", lim, need)
	}

	startLoad := loadAverage()
	var reports []*load.Report
	code := 0
	for _, s := range scenarios {
		rep, err := runOne(ctx, o, s, stdout, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "jobcast-load: %s: %v\n", s.Name, err)
			code = 1
			continue
		}
		_ = rep.WriteText(stdout)
		fmt.Fprintln(stdout)
		reports = append(reports, rep)
		if ctx.Err() != nil {
			break
		}
	}
	if o.docs != "" {
		if err := writeDocs(o, args, startLoad, reports); err != nil {
			fmt.Fprintln(stderr, "jobcast-load: writing", o.docs+":", err)
			code = 1
		}
	}
	if o.jsonOut != "" {
		f, err := os.Create(o.jsonOut)
		if err == nil {
			e := json.NewEncoder(f)
			e.SetIndent("", "  ")
			err = e.Encode(reports)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "jobcast-load: writing JSON:", err)
			code = 1
		}
	}
	return code
}

// overlay copies the flags given on the command line over a preset (every
// flag when there is no preset, so defaults apply).
func overlay(s *load.Scenario, f load.Scenario, set map[string]bool) {
	custom := s.Name == "custom"
	pick := func(name string) bool { return custom || set[name] }
	if pick("viewers") {
		s.Viewers = f.Viewers
	}
	if pick("ramp") {
		s.RampRate = f.RampRate
	}
	if pick("chatters") {
		s.Chatters = f.Chatters
	}
	if pick("chat-rate") {
		s.ChatRate = f.ChatRate
	}
	if pick("pin-every") {
		s.PinEvery = f.PinEvery
	}
	if pick("appliers") {
		s.Appliers = f.Appliers
	}
	if pick("apply-rate") {
		s.ApplyRate = f.ApplyRate
	}
	if pick("apply-burst") {
		s.ApplyBurst = f.ApplyBurst
	}
	if pick("apply-every") {
		s.ApplyEvery = f.ApplyEvery
	}
	if pick("whep") {
		s.WHEPViewers = f.WHEPViewers
	}
	if pick("whep-ramp") || s.WHEPRamp == 0 {
		s.WHEPRamp = f.WHEPRamp
	}
	if pick("publish") {
		s.Publish = s.Publish || f.Publish
	}
	if pick("duration") {
		s.Duration = f.Duration
	}
	if pick("reconnect-at") {
		s.ReconnectAt = f.ReconnectAt
	}
	s.Dialers, s.Bitrate, s.Loopback, s.Drain, s.Progress = f.Dialers, f.Bitrate, f.Loopback, f.Drain, f.Progress
}

// runOne prepares the server (spawned or given) and the fair, then runs.
func runOne(ctx context.Context, o options, s load.Scenario, stdout, stderr io.Writer) (*load.Report, error) {
	url, dataDir := o.url, o.dataDir
	seekers := max(s.Chatters, s.Appliers, (s.WHEPViewers+3)/4)
	var fair *load.Fair
	var err error
	if o.spawn != "" {
		if dataDir == "" {
			if dataDir, err = os.MkdirTemp("", "jobcast-load-*"); err != nil {
				return nil, err
			}
			defer os.RemoveAll(dataDir)
		} else {
			dataDir = filepath.Join(dataDir, fmt.Sprintf("run-%d", time.Now().UnixNano()))
		}
		// Seed before the server starts: the store migrates on open, and
		// the server finds the fair ready.
		fmt.Fprintf(stdout, "== %s: seeding %d seekers and %d jobs…\n", s.Name, seekers, o.jobs)
		if fair, err = load.Seed(ctx, o.databaseURL, dataDir, seekers, o.jobs); err != nil {
			return nil, fmt.Errorf("seeding: %w", err)
		}
		var logw io.Writer
		if o.serverLog != "" {
			f, err := os.OpenFile(o.serverLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			logw = f
		}
		so := load.SpawnOptions{Binary: o.spawn, DataDir: dataDir, DatabaseURL: o.databaseURL, RedisURL: o.redisURL, Stderr: logw}
		if o.mediaLoopback {
			so.Env = append(so.Env, "JOBCAST_RTC_IPS=127.0.0.1")
			s.Loopback = true
		}
		srv, err := load.Spawn(ctx, so)
		if err != nil {
			return nil, err
		}
		defer func() {
			if err := srv.Stop(); err != nil {
				fmt.Fprintln(stderr, "jobcast-load: server stop:", err)
			}
		}()
		url = srv.URL
	} else {
		switch {
		case o.seed:
			if fair, err = load.Seed(ctx, o.databaseURL, dataDir, seekers, o.jobs); err != nil {
				return nil, fmt.Errorf("seeding: %w", err)
			}
		case o.register:
			if fair, err = load.NewAPI(url).Register(ctx, seekers, o.jobs); err != nil {
				return nil, fmt.Errorf("registering: %w", err)
			}
		default:
			return nil, fmt.Errorf("with -url give -seed (and the server's -data-dir or -database-url) or -register")
		}
	}
	s.URL = url
	r, err := load.NewRunner(s, fair, stdout)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "== %s against %s\n", s.Name, url)
	rep, err := r.Run(ctx)
	if err != nil {
		return nil, err
	}
	if (o.spawn != "" || o.seed) && len(rep.Apply.Outcomes) > 0 {
		// The server is still running: its store answers as it would.
		n, err := load.StoredApplications(ctx, o.databaseURL, dataDir, fair)
		if err != nil {
			rep.Errors = append(rep.Errors, "counting stored applications: "+err.Error())
		} else {
			rep.CheckApplies(n)
		}
	}
	return rep, nil
}

// writeDocs puts this run into the generated section of o.docs: when and
// where it ran, the command line and every report.
func writeDocs(o options, args []string, startLoad string, reports []*load.Report) error {
	var extra string
	if o.docsExtra != "" {
		b, err := os.ReadFile(o.docsExtra)
		if err != nil {
			return err
		}
		extra = string(b)
	}
	host, _ := os.Hostname()
	header := fmt.Sprintf("### Latest `make bench` run\n\n%s on %s (%s, %s), load average at the start %s.\n\n"+
		"Command: `jobcast-load %s`. Figures from a loaded machine mean little: check the load average.",
		time.Now().UTC().Format(time.RFC3339), host, loadMachine(), cpuModel(), startLoad, strings.Join(args, " "))
	return load.WriteDocs(o.docs, header, reports, extra)
}

func loadMachine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
