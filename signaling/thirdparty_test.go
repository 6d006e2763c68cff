package signaling

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"jobcast/internal/browsertest"
	"jobcast/live"
)

// Third-party clients, pinned: independent WHIP (with trickle ICE over
// PATCH) and WHEP implementations.
var thirdPartyPackages = []string{"@eyevinn/whip-web-client@1.1.7", "@eyevinn/webrtc-player@0.13.0", "esbuild@0.25.12"}

var bundleOnce struct {
	sync.Once
	err error
}

// thirdPartyBundle installs the packages with npm into the gitignored
// testdata/npm-cache and bundles them for the browser with esbuild, once
// per test binary (reused across runs while the versions match). It skips
// when npm is missing, unless CI=true.
func thirdPartyBundle(t *testing.T) {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("npm is required in CI for the third-party client tests (apt-get install npm)")
		}
		t.Skip("npm not installed; skipping the third-party client tests")
	}
	bundleOnce.Do(func() {
		dir, _ := filepath.Abs(filepath.Join("testdata", "npm-cache"))
		stamp := filepath.Join(dir, "bundle.stamp")
		want := strings.Join(thirdPartyPackages, " ")
		if b, err := os.ReadFile(stamp); err == nil && string(b) == want {
			if _, err := os.Stat(filepath.Join(dir, "bundle.js")); err == nil {
				return
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			bundleOnce.err = err
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"jobcast-signaling-tests","private":true}`), 0o644); err != nil {
			bundleOnce.err = err
			return
		}
		install := exec.Command(npm, append([]string{"install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", dir}, thirdPartyPackages...)...)
		if out, err := install.CombinedOutput(); err != nil {
			bundleOnce.err = &cmdError{"npm install", err, string(out)}
			return
		}
		entry, _ := filepath.Abs(filepath.Join("testdata", "thirdparty-entry.js"))
		build := exec.Command(filepath.Join(dir, "node_modules", ".bin", "esbuild"), entry, "--bundle", "--format=iife",
			"--platform=browser", "--target=chrome100", "--log-level=warning", "--outfile="+filepath.Join(dir, "bundle.js"))
		build.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
		if out, err := build.CombinedOutput(); err != nil {
			bundleOnce.err = &cmdError{"esbuild", err, string(out)}
			return
		}
		bundleOnce.err = os.WriteFile(stamp, []byte(want), 0o644)
	})
	if bundleOnce.err != nil {
		t.Fatalf("building the third-party client bundle: %v", bundleOnce.err)
	}
}

type cmdError struct {
	what string
	err  error
	out  string
}

func (e *cmdError) Error() string { return e.what + ": " + e.err.Error() + "\n" + e.out }

// @eyevinn/whip-web-client publishes the fake camera (offer first, its
// candidates trickled over PATCH) and @eyevinn/webrtc-player plays it over
// WHEP, both unchanged, cross-origin.
func TestThirdPartyClients(t *testing.T) {
	thirdPartyBundle(t)
	pages := pagesServer(t, "testdata")
	e := newEnv(t, func(c *Config) { c.AllowedOrigins = []string{pages.URL} })
	room := e.rooms.add("eyevinn-key")
	b := browsertest.New(t, browsertest.Options{FakeFPS: 30, Timeout: 180 * time.Second})

	pubTab := b.Tab("whip-web-client")
	if err := browsertest.Navigate(pubTab, pages.URL+"/thirdparty-publish.html"); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(pubTab, "window.ready === true", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := browsertest.Eval[string](pubTab, `start("`+e.url+`/api/rooms/`+string(room)+`/whip", "eyevinn-key")`); err != nil {
		t.Fatalf("whip-web-client ingest: %v", err)
	}
	eventually(t, 30*time.Second, "publisher media flowing", func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		for _, s := range e.srv.byID {
			if s.kind == kindWHIP && s.connected.Load() && s.videoSSRC.Load() != 0 {
				return true
			}
		}
		return false
	})
	if n := e.count("PATCH", http.StatusNoContent); n == 0 {
		t.Fatalf("whip-web-client trickled no candidate over PATCH: %v", e.counts)
	} else {
		t.Logf("whip-web-client trickled %d candidate fragments over PATCH", n)
	}

	playTab := b.Tab("webrtc-player")
	if err := browsertest.Navigate(playTab, pages.URL+"/thirdparty-play.html"); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(playTab, "window.ready === true", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := browsertest.Eval[bool](playTab, `start("`+e.url+`/api/rooms/`+string(room)+`/whep")`); err != nil {
		t.Fatalf("webrtc-player load: %v", err)
	}
	took, err := browsertest.WaitDecodedFrames(playTab, "video", 30, 45*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("webrtc-player decoded 30 frames %v after load", took.Round(time.Millisecond))

	if _, err := browsertest.Eval[bool](playTab, `stop()`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "player's DELETE", func() bool { return e.srv.m.viewers.Load() == 0 })
	if _, err := browsertest.Eval[bool](pubTab, `stop()`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "room ended by the client's DELETE", func() bool { return e.rooms.status(room) == live.RoomEnded })
}
