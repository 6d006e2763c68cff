package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"jobcast/internal/load"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// jobcastBinary builds jobcast from this tree once per test binary.
func jobcastBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "jobcast-load-test-*"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "jobcast")
		if out, err := exec.Command("go", "build", "-o", binPath, "jobcast/cmd/jobcast").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("building jobcast: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestLoadEndToEnd runs the smoke scenario (a few dozen viewers, chat,
// pins, sustained and burst applies, a reconnect storm) for two seconds
// against a jobcast binary built from this tree, seeded through the store,
// so the tool cannot rot. Media runs with -media-loopback: the synthetic
// publisher and two WHEP viewers reach the server on 127.0.0.1 only
// (JOBCAST_RTC_IPS; tests touch loopback only).
func TestLoadEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts jobcast")
	}
	bin := jobcastBinary(t)
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-spawn", bin, "-data-dir", t.TempDir(), "-scenario", "smoke", "-viewers", "30",
		"-duration", "2s", "-reconnect-at", "1s", "-whep", "2", "-media-loopback", "-drain", "1s", "-progress", "500ms", "-json", jsonPath,
		"-server-log", filepath.Join(t.TempDir(), "server.log")}, &stdout, &stderr)
	t.Logf("stdout:\n%s", stdout.String())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var reps []load.Report
	if err := json.Unmarshal(data, &reps); err != nil || len(reps) != 1 {
		t.Fatalf("report: %v (%d)", err, len(reps))
	}
	r := reps[0]
	if r.Connections.Connected != 30 || r.Connections.Failed != 0 || r.Connections.Dropped != 0 {
		t.Errorf("connections %+v", r.Connections)
	}
	if r.Events.Lost != 0 || r.Events.Duplicated != 0 || r.Events.Delivered == 0 {
		t.Errorf("events %+v", r.Events)
	}
	if r.Chat.Sent == 0 || r.Chat.Latency.Count == 0 || r.Chat.Refused != 0 {
		t.Errorf("chat %+v", r.Chat)
	}
	if r.Pin.Pins == 0 || r.Pin.Latency.Count == 0 {
		t.Errorf("pin %+v", r.Pin)
	}
	if r.Apply.Outcomes["created"] == 0 || len(r.Apply.Outcomes) != 1 {
		t.Errorf("apply outcomes %v", r.Apply.Outcomes)
	}
	if r.Apply.Stored == nil || *r.Apply.Stored != r.Apply.Outcomes["created"] || r.Apply.Missing != 0 || r.Apply.Extra != 0 {
		t.Errorf("stored applications: %+v", r.Apply)
	}
	if r.Reconnect.Back != 30 || r.Reconnect.Recovered != 30 || r.Reconnect.Seconds <= 0 {
		t.Errorf("reconnect %+v", r.Reconnect)
	}
	if r.Server.CPUSeconds <= 0 || r.Server.RSSPeakMiB <= 0 {
		t.Errorf("server %+v", r.Server)
	}
	if m := r.WHEP; m.Connected != 2 || m.NoVideo != 0 || m.FirstPacket.Count != 2 || m.Frames == 0 {
		t.Errorf("whep %+v (errors %v)", m, r.Errors)
	}
	if !strings.Contains(stdout.String(), "t=") || !strings.Contains(stdout.String(), "events:") {
		t.Error("no progress lines or text report")
	}
}

// TestRegisterAgainstRunningServer drives a server the tool did not start,
// with accounts registered through the public API (the remote-server mode).
func TestRegisterAgainstRunningServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts jobcast")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := load.Spawn(ctx, load.SpawnOptions{Binary: jobcastBinary(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop() }()
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-url", srv.URL, "-register", "-jobs", "2", "-viewers", "6", "-chatters", "2", "-chat-rate", "2",
		"-pin-every", "400ms", "-appliers", "2", "-apply-burst", "2", "-duration", "1500ms", "-drain", "500ms",
		"-progress", "-1s", "-json", jsonPath}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var reps []load.Report
	if err := json.Unmarshal(data, &reps); err != nil || len(reps) != 1 {
		t.Fatalf("report: %v", err)
	}
	r := reps[0]
	if r.Connections.Connected != 6 || r.Events.Lost != 0 || r.Events.Duplicated != 0 || r.Chat.Latency.Count == 0 ||
		r.Pin.Pins == 0 || r.Apply.Outcomes["created"] != 2 {
		t.Errorf("report:\n%s", stdout.String())
	}
}

func TestFlags(t *testing.T) {
	ctx := context.Background()
	for name, args := range map[string][]string{
		"neither url nor spawn": {"-scenario", "smoke"},
		"both":                  {"-url", "http://127.0.0.1:1", "-spawn", "x"},
		"unknown preset":        {"-url", "http://127.0.0.1:1", "-scenario", "nope"},
		"stray argument":        {"-url", "http://127.0.0.1:1", "extra"},
	} {
		var out, errb bytes.Buffer
		if code := run(ctx, args, &out, &errb); code != 2 {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, errb.String())
		}
	}
}
