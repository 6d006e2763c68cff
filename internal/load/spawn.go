package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// SpawnOptions configure a jobcast process started for a run.
type SpawnOptions struct {
	Binary      string    // path to the jobcast binary
	DataDir     string    // JOBCAST_DATA_DIR (SQLite lives here)
	DatabaseURL string    // JOBCAST_DATABASE_URL (empty: SQLite)
	RedisURL    string    // JOBCAST_REDIS_URL (empty: in-process broker)
	Stderr      io.Writer // the server's log (nil: discarded)
	Env         []string  // extra KEY=value
}

// Server is a jobcast process this package started. Stop ends it.
type Server struct {
	URL  string
	cmd  *exec.Cmd
	done chan error
}

func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeMediaPort finds a port free for both UDP (media) and TCP (ICE-TCP
// listens on the same number).
func freeMediaPort() (int, error) {
	for range 50 {
		p, err := freePort("udp")
		if err != nil {
			return 0, err
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		_ = l.Close()
		return p, nil
	}
	return 0, errors.New("no port free for both UDP and TCP")
}

// Spawn starts the jobcast binary on a free loopback port (HTTP) and a free
// media port, with applies effectively unlimited per seeker (a load run
// applies far faster than people do), and waits until /readyz answers 200.
// It blocks for start-up (≤ 60 s or ctx).
func Spawn(ctx context.Context, o SpawnOptions) (*Server, error) {
	port, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	media, err := freeMediaPort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Binary)
	cmd.Env = append(os.Environ(),
		"JOBCAST_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"JOBCAST_DATA_DIR="+o.DataDir,
		"JOBCAST_DATABASE_URL="+o.DatabaseURL,
		"JOBCAST_REDIS_URL="+o.RedisURL,
		"JOBCAST_RTC_UDP_PORT="+strconv.Itoa(media),
		"JOBCAST_APPLIES_PER_MINUTE=100000",
		"JOBCAST_LOG_LEVEL=warn",
	)
	cmd.Env = append(cmd.Env, o.Env...)
	cmd.Stdout, cmd.Stderr = o.Stderr, o.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.Binary, err)
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }() // owner: Stop receives it
	deadline := time.Now().Add(60 * time.Second)
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	for {
		res, err := c.Get(s.URL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return nil, fmt.Errorf("jobcast exited during start-up: %v", err)
		case <-ctx.Done():
			_ = s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.Stop()
			return nil, errors.New("jobcast not ready within 60 s")
		}
	}
}

// Stop sends SIGTERM, waits up to 30 s for a graceful stop, then kills.
func (s *Server) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		return <-s.done
	}
}
