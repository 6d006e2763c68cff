package signaling

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"jobcast/internal/browsertest"
	"jobcast/live"
)

// pagesServer serves signaling/testdata from its own origin, so the pages
// call the media node cross-origin (CORS is part of what is tested).
func pagesServer(t *testing.T, dir string) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(hs.Close)
	return hs
}

// Headless Chromium publishes its fake camera and microphone over WHIP; a
// second page plays over WHEP and decodes at least 30 frames. The time
// from the WHEP request to the first decoded frame is logged. Run with VP8
// (Chromium's default) and with H.264 preferred.
func TestBrowserPublishAndPlay(t *testing.T) {
	b := browsertest.New(t, browsertest.Options{FakeFPS: 30, Timeout: 240 * time.Second})
	for _, codec := range []string{"vp8", "h264"} {
		t.Run(codec, func(t *testing.T) { browserPublishAndPlay(t, b, codec) })
	}
}

func browserPublishAndPlay(t *testing.T, b *browsertest.Browser, codec string) {
	pages := pagesServer(t, "testdata")
	e := newEnv(t, func(c *Config) { c.AllowedOrigins = []string{pages.URL} })
	room := e.rooms.add("browser-key")

	pubTab := b.Tab(codec + " publisher")
	t.Cleanup(func() { _ = browsertest.CloseTab(pubTab) })
	if err := browsertest.Navigate(pubTab, pages.URL+"/publish.html"); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(pubTab, "window.ready === true", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	loc, err := browsertest.Eval[string](pubTab, `publish("`+e.url+`/api/rooms/`+string(room)+`/whip", "browser-key", "`+codec+`")`)
	if err != nil {
		if strings.Contains(err.Error(), "cannot send") {
			t.Skipf("this Chromium build cannot encode %s", codec)
		}
		t.Fatalf("browser WHIP publish: %v", err)
	}
	t.Logf("publisher session %s…", loc[:len(e.url)+20])
	eventually(t, 20*time.Second, "publisher connected", func() bool { return e.srv.m.publishers.Load() == 1 && e.rooms.status(room) == live.RoomLive })

	playTab := b.Tab(codec + " player")
	t.Cleanup(func() { _ = browsertest.CloseTab(playTab) })
	if err := browsertest.Navigate(playTab, pages.URL+"/play.html"); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(playTab, "window.ready === true", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := browsertest.Eval[string](playTab, `play("`+e.url+`/api/rooms/`+string(room)+`/whep", "")`); err != nil {
		t.Fatalf("browser WHEP play: %v", err)
	}
	took, err := browsertest.WaitDecodedFrames(playTab, "video", 30, 45*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	timing, err := browsertest.Eval[map[string]float64](playTab, `window.timing`)
	if err != nil {
		t.Fatal(err)
	}
	sending, err := browsertest.Eval[string](pubTab, `sendingCodec()`)
	if err != nil || !strings.EqualFold(sending, "video/"+codec) {
		t.Fatalf("publisher sends %q (%v), want video/%s", sending, err, codec)
	}
	t.Logf("%s: WHEP request → answer %.0f ms, → first decoded frame %.0f ms; 30 frames decoded %v after the answer",
		sending, timing["answered"]-timing["request"], timing["firstFrame"]-timing["request"], took.Round(time.Millisecond))

	if st, err := browsertest.Eval[int](playTab, `stop()`); err != nil || st != 200 {
		t.Fatalf("player DELETE: %d %v", st, err)
	}
	if st, err := browsertest.Eval[int](pubTab, `stop()`); err != nil || st != 200 {
		t.Fatalf("publisher DELETE: %d %v", st, err)
	}
	eventually(t, 15*time.Second, "room ended", func() bool { return e.rooms.status(room) == live.RoomEnded })
}
