package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Chromium returns the path of the browser to drive: $JOBCAST_CHROMIUM, or
// the first of chromium, chromium-browser, google-chrome on PATH; "" when
// none is installed. It does not block and is safe for concurrent use.
func Chromium() string {
	if p := os.Getenv("JOBCAST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Options tune a browser.
type Options struct {
	// FakeFPS is the fake camera's frame rate (0 = Chromium's default, 20).
	FakeFPS int
	// Timeout bounds the whole browser session (default 60 s).
	Timeout time.Duration
}

// Browser is one headless Chromium process with its own profile. Tabs from
// Tab run in parallel. Close (also registered with t.Cleanup) ends the
// process. Safe for concurrent use by the test's goroutines.
type Browser struct {
	t      testing.TB
	ctx    context.Context // browser context (first tab)
	cancel context.CancelFunc
	once   sync.Once
	logs   *consoleLog
}

// New starts Chromium for t. It skips t when no browser is installed (fails
// when CI=true). The browser is closed at t's cleanup.
func New(t testing.TB, opt Options) *Browser {
	t.Helper()
	path := Chromium()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Chromium is required in CI (apt-get install chromium)")
		}
		t.Skip("Chromium not installed (apt-get install chromium); skipping browser test")
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 60 * time.Second
	}
	fake := "use-fake-device-for-media-stream"
	var fakeVal any = true
	if opt.FakeFPS > 0 {
		fakeVal = fmt.Sprintf("fps=%d", opt.FakeFPS)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag(fake, fakeVal),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		// One flag: a repeated disable-features replaces the earlier one.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("mute-audio", true),
	)
	parent, cancelTimeout := context.WithTimeout(context.Background(), opt.Timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	b := &Browser{t: t, logs: &consoleLog{}}
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(func(string, ...any) {}))
	b.ctx = ctx
	b.cancel = func() { cancelCtx(); cancelAlloc(); cancelTimeout() }
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		b.cancel()
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// Close ends the browser and waits for its process. Safe to call twice.
func (b *Browser) Close() {
	b.once.Do(func() {
		_ = chromedp.Cancel(b.ctx)
		b.cancel()
		if b.t.Failed() {
			b.t.Logf("browser console:\n%s", b.logs.String())
		}
	})
}

// Tab opens a new tab and returns its context; console messages of the tab
// are collected and printed if the test fails. The tab closes with the
// browser.
func (b *Browser) Tab(name string) context.Context {
	ctx, _ := chromedp.NewContext(b.ctx)
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range e.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			b.logs.add(name + " console." + string(e.Type) + ": " + strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			b.logs.add(name + " exception: " + e.ExceptionDetails.Text + " " + exceptionDesc(e.ExceptionDetails))
		}
	}); err != nil {
		b.t.Fatalf("open tab: %v", err)
	}
	return ctx
}

// Navigate loads url in the tab.
func Navigate(ctx context.Context, url string) error {
	return chromedp.Do(ctx, chromedp.Navigate(url))
}

// Eval evaluates a JavaScript expression in the tab, awaiting it if it is a
// promise, and decodes its JSON value into T.
func Eval[T any](ctx context.Context, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// WaitFor polls a JavaScript predicate in the tab until it is truthy or
// timeout passes.
func WaitFor(ctx context.Context, predicate string, timeout time.Duration) error {
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond)))
	return err
}

// DecodedFrames returns the number of frames the first <video> matching
// selector has decoded (getVideoPlaybackQuality, so it works with any
// player page), or -1 when there is no such element.
func DecodedFrames(ctx context.Context, selector string) (int, error) {
	return Eval[int](ctx, fmt.Sprintf(`(() => { const v = document.querySelector(%q);
		return v ? v.getVideoPlaybackQuality().totalVideoFrames - v.getVideoPlaybackQuality().droppedVideoFrames : -1; })()`, selector))
}

// WaitDecodedFrames waits until the video matching selector has decoded at
// least n frames and returns how long that took.
func WaitDecodedFrames(ctx context.Context, selector string, n int, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	pred := fmt.Sprintf(`(() => { const v = document.querySelector(%q);
		return !!v && v.getVideoPlaybackQuality().totalVideoFrames - v.getVideoPlaybackQuality().droppedVideoFrames >= %d; })()`, selector, n)
	if err := WaitFor(ctx, pred, timeout); err != nil {
		got, _ := DecodedFrames(ctx, selector)
		return time.Since(start), fmt.Errorf("video %s decoded %d of %d frames: %w", selector, got, n, err)
	}
	return time.Since(start), nil
}

type consoleLog struct {
	mu    sync.Mutex
	lines []string
}

func (c *consoleLog) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lines) < 500 {
		c.lines = append(c.lines, s)
	}
}

func (c *consoleLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

func exceptionDesc(d *runtime.ExceptionDetails) string {
	if d != nil && d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// CloseTab closes a tab opened by Browser.Tab (its page, media devices and
// peer connections go with it). The browser stays up.
func CloseTab(ctx context.Context) error { return chromedp.Cancel(ctx) }
