package web

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// skipOrFail skips the test on a developer's machine that lacks a part, and
// fails it in CI (CI=true), where every part must be present.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// chromiumPath finds Debian's Chromium (or $JOBCAST_CHROMIUM).
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("JOBCAST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipOrFail(t, "no Chromium found (apt-get install -y chromium, or set JOBCAST_CHROMIUM)")
	return ""
}

// newBrowser starts a headless Chromium with a fake camera and microphone
// and returns its context; the browser stops when the test ends.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		acancel()
		skipOrFail(t, "Chromium does not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		acancel()
	})
	return ctx
}

// newTab opens a tab in a fresh browser context (its own cookies and
// storage, like another person's browser) and returns its context and a
// console recorder.
func newTab(t testing.TB, browser context.Context) (context.Context, *consoleLog) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx, recordConsole(ctx)
}

// consoleLog keeps the page's console errors, warnings and exceptions.
type consoleLog struct {
	mu   sync.Mutex
	msgs []string
}

func recordConsole(ctx context.Context) *consoleLog {
	c := &consoleLog{}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				c.mu.Lock()
				c.msgs = append(c.msgs, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
				c.mu.Unlock()
			}
		}
	}()
	return c
}

// take returns and clears the recorded messages, ignoring those matching
// any of the allowed patterns.
func (c *consoleLog) take(allowed ...*regexp.Regexp) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
next:
	for _, m := range c.msgs {
		for _, re := range allowed {
			if re.MatchString(m) {
				continue next
			}
		}
		out = append(out, m)
	}
	c.msgs = nil
	return out
}

var (
	axeOnce sync.Once
	axeJS   string
	axeErr  error
)

const axeVersion = "4.14.1"

// axeSource installs axe-core from npm into web/.cache (gitignored) once and
// returns its source.
func axeSource(t testing.TB) string {
	t.Helper()
	axeOnce.Do(func() {
		dir, err := filepath.Abs(".cache/npm")
		if err != nil {
			axeErr = err
			return
		}
		file := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
		pkg, _ := os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "package.json"))
		if !strings.Contains(string(pkg), `"version": "`+axeVersion+`"`) {
			if _, err := exec.LookPath("npm"); err != nil {
				axeErr = fmt.Errorf("npm not found: %w", err)
				return
			}
			_ = os.MkdirAll(dir, 0o755)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--no-save", "--prefix", dir, "axe-core@"+axeVersion)
			if out, err := cmd.CombinedOutput(); err != nil {
				axeErr = fmt.Errorf("npm install axe-core: %v\n%s", err, out)
				return
			}
		}
		b, err := os.ReadFile(file)
		axeJS, axeErr = string(b), err
	})
	if axeErr != nil {
		skipOrFail(t, "axe-core unavailable: %v", axeErr)
	}
	return axeJS
}

// axeViolation is one failed axe rule.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// runAxe injects axe-core into the page and returns the serious and
// critical violations (WCAG 2.1 A/AA and best practices).
func runAxe(t testing.TB, ctx context.Context) []axeViolation {
	t.Helper()
	src := axeSource(t)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src+";void 0")); err != nil {
		t.Fatalf("inject axe: %v", err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run axe: %v", err)
	}
	var all []axeViolation
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		t.Fatalf("axe result: %v", err)
	}
	var bad []axeViolation
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, v)
		} else {
			t.Logf("axe (%s, not failing): %s — %s", v.Impact, v.ID, v.Help)
		}
	}
	return bad
}

func formatViolations(vs []axeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  [%s] %s: %s", v.Impact, v.ID, v.Help)
		for i, n := range v.Nodes {
			if i == 3 {
				fmt.Fprintf(&b, "\n      … %d more", len(v.Nodes)-3)
				break
			}
			fmt.Fprintf(&b, "\n      %v %s", n.Target, n.HTML)
		}
	}
	return b.String()
}

// artifactsDir is where screenshots go: $JOBCAST_ARTIFACTS/<test> or a
// temporary directory.
func artifactsDir(t testing.TB) string {
	t.Helper()
	base := os.Getenv("JOBCAST_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot writes a full-page PNG of the tab at the given width.
func screenshot(t testing.TB, ctx context.Context, dir, name string, width, height int64) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("viewport: %v", err)
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitSlack multiplies every wait: the timeouts only bound failures, and a
// machine shared by many test processes (CI has 2 cores) can be slow.
const waitSlack = 3

// waitJS polls a JavaScript condition until it is true or the timeout
// (times waitSlack) ends.
func waitJS(t testing.TB, ctx context.Context, expr string, timeout time.Duration) {
	t.Helper()
	timeout *= waitSlack
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, expr, last)
}

// eval evaluates expr (awaiting a promise) and decodes the result into T.
func eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}
