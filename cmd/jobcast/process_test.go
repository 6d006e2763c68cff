package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"jobcast/auth"
	"jobcast/live"
	"jobcast/store"
)

// Tests in this file run jobcast as a real process (built once per test
// binary) — to kill it with SIGKILL, restart it, and stop it with SIGTERM.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// jobcastBinary builds ./cmd/jobcast once into a temp dir.
func jobcastBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "jobcast-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "jobcast")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freeMediaPort finds a port free for both UDP (ICE mux) and TCP (ICE-TCP)
// below the ephemeral range (ip_local_port_range starts at 32768), so the
// outgoing connections of a busy machine cannot take it between this check
// and jobcast's bind (a port from the ephemeral range loses that race under
// load: "listen ICE-TCP … address already in use").
func freeMediaPort(t testing.TB) int {
	t.Helper()
	for range 200 {
		port := 20000 + mrand.IntN(12000)
		u, err := net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		if err != nil {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no port below 32768 free for both UDP and TCP")
	return 0
}

// proc is one jobcast process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	env  []string
	log  string
	done chan struct{}
}

// startJobcast starts the binary with env (JOBCAST_* settings) on a free
// loopback port and waits until /healthz answers.
func startJobcast(t *testing.T, env map[string]string) *proc {
	t.Helper()
	addr := env["JOBCAST_ADDR"]
	if addr == "" {
		addr = fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
		env["JOBCAST_ADDR"] = addr
	}
	if env["JOBCAST_RTC_UDP_PORT"] == "" {
		env["JOBCAST_RTC_UDP_PORT"] = fmt.Sprint(freeMediaPort(t))
	}
	if env["JOBCAST_LOG_LEVEL"] == "" {
		env["JOBCAST_LOG_LEVEL"] = "warn"
	}
	p := &proc{t: t, base: "http://" + addr, log: filepath.Join(t.TempDir(), "jobcast.log")}
	p.env = append(p.env, "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))
	for k, v := range env {
		p.env = append(p.env, k+"="+v)
	}
	p.start()
	t.Cleanup(func() { checkProcessLogPII(t, p) }) // after the kill below (cleanups run last first)
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) start() {
	p.t.Helper()
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd = exec.Command(jobcastBinary(p.t))
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}, f *os.File) {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}(p.cmd, p.done, logf)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(p.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(p.log)
			p.t.Fatalf("jobcast exited at start-up:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatal("jobcast did not answer /healthz within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits for a graceful exit (at most 30 s).
func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if !p.cmd.ProcessState.Success() {
			return fmt.Errorf("jobcast exited with %v", p.cmd.ProcessState)
		}
		return nil
	case <-time.After(30 * time.Second):
		p.kill()
		return fmt.Errorf("jobcast did not stop within 30 s of SIGTERM")
	}
}

// seededFair is a live room of one org with jobs on its shelf and seekers
// with complete profiles, each with a session token.
type seededFair struct {
	host    string // host's session token
	org     live.OrgID
	room    live.RoomID
	jobs    []live.JobID
	seekers []live.UserID
	tokens  []string
}

// seedFair writes a fair straight into the store (registering thousands of
// accounts through the rate-limited API would only measure argon2id).
func seedFair(t testing.TB, db *store.DB, seekers, jobs int) seededFair {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	var f seededFair
	session := func(u live.UserID) string {
		var b [24]byte
		_, _ = rand.Read(b[:])
		tok := hex.EncodeToString(b[:])
		if err := db.CreateSession(ctx, store.Session{TokenHash: auth.TokenHash(tok), UserID: u, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	user := func(name string) live.UserID {
		u := live.User{ID: live.NewID[live.UserID](), Email: name + "-" + string(live.NewID[live.UserID]())[:8] + "@example.test", Name: name, CreatedAt: now}
		if err := db.CreateUser(ctx, u, "unusable"); err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	host := user("host")
	f.host = session(host)
	f.org, f.room = live.NewID[live.OrgID](), live.NewID[live.RoomID]()
	if err := db.CreateOrg(ctx, live.Org{ID: f.org, Name: "Wuhan Employment Bureau", CreatedAt: now}, host); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRoom(ctx, live.Room{ID: f.room, OrgID: f.org, Title: "Spring fair", Status: live.RoomLive,
		StartsAt: now, Settings: live.DefaultSettings(), CreatedAt: now}, host); err != nil {
		t.Fatal(err)
	}
	for i := range jobs {
		j := live.Job{ID: live.NewID[live.JobID](), OrgID: f.org, Title: fmt.Sprintf("Job %d", i), City: "Wuhan",
			SalaryMin: 4000, SalaryMax: 6000, SalaryPeriod: live.PerMonth, Openings: 5, Tags: []string{}, Status: live.JobOpen,
			CreatedAt: now, UpdatedAt: now}
		if err := db.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		if err := db.AddToShelf(ctx, f.room, j.ID, f.org); err != nil {
			t.Fatal(err)
		}
		f.jobs = append(f.jobs, j.ID)
	}
	for i := range seekers {
		u := user(fmt.Sprintf("seeker%d", i))
		if _, err := db.PutProfile(ctx, u, live.Profile{FullName: fmt.Sprintf("Seeker %d", i), Phone: fmt.Sprintf("138%08d", i), City: "Wuhan"}); err != nil {
			t.Fatal(err)
		}
		f.seekers = append(f.seekers, u)
		f.tokens = append(f.tokens, session(u))
	}
	return f
}
