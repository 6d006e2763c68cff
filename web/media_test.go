package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"jobcast/internal/browsertest"
	"jobcast/live"
	"jobcast/signaling"
)

// mediaRooms is a test fake of live.Rooms: one live room whose host is the
// user "host".
type mediaRooms struct{}

func (mediaRooms) Access(_ context.Context, room live.RoomID, id live.Identity) (live.Room, live.RoomAccess, error) {
	r := live.Room{ID: room, OrgID: fakeOrg, Status: live.RoomLive, Settings: live.DefaultSettings()}
	return r, live.RoomAccess{Identity: id, Host: id.UserID == "host"}, nil
}
func (mediaRooms) CheckStreamKey(context.Context, live.RoomID, string) (bool, error) {
	return false, nil
}
func (mediaRooms) SetStatus(_ context.Context, room live.RoomID, to live.RoomStatus) (live.Room, error) {
	return live.Room{ID: room, OrgID: fakeOrg, Status: to}, nil
}

// mediaSessions is a test fake of live.Sessions: "host-token" is the host.
type mediaSessions struct{}

func (mediaSessions) IdentifyToken(_ context.Context, tok string) (live.Identity, error) {
	switch tok {
	case "":
		return live.Identity{}, nil
	case "host-token":
		return live.Identity{UserID: "host", Name: "Host"}, nil
	}
	return live.Identity{}, live.Unauthenticated()
}

// TestStudioToWatchMedia runs the real SFU (signaling) behind the pages:
// the studio publishes the fake camera over WHIP with the host's token, the
// watch page plays it over WHEP and decodes frames, and the audio-only
// switch renegotiates without video.
func TestStudioToWatchMedia(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	sfu, err := signaling.New(signaling.Config{LoopbackOnly: true, TCPPort: -1, PublisherGrace: 2 * time.Second, ConnectTimeout: 10 * time.Second},
		mediaRooms{}, mediaSessions{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sfu.Close() })
	gin.SetMode(gin.TestMode)
	e := gin.New()
	sfu.Register(e)
	srv := fakeAPI(t, fakeOpts{status: "live", media: e})
	browser := newBrowser(t)

	studio, studioConsole := newTab(t, browser)
	if err := chromedp.Do(studio, chromedp.Navigate(srv.URL+"/static/css/app.css")); err != nil {
		t.Fatal(err)
	}
	eval[chromedp.Void](t, studio, `localStorage.setItem('jobcast.token', 'host-token'); localStorage.setItem('jobcast.lang', 'en')`)
	if err := chromedp.Do(studio, chromedp.Navigate(srv.URL+"/studio/"+fakeRoom)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, studio, `document.body.dataset.ready === '1' && document.getElementById('preview').srcObject`, 10*time.Second)
	if err := chromedp.Do(studio, chromedp.Click(chromedp.ID("go-live"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, studio, `document.getElementById('conn-state').className === 'state-live'`, 15*time.Second)

	viewer, viewerConsole := newTab(t, browser)
	start := time.Now()
	if err := chromedp.Do(viewer, chromedp.Navigate(srv.URL+"/rooms/"+fakeRoom)); err != nil {
		t.Fatal(err)
	}
	took, err := browsertest.WaitDecodedFrames(viewer, "#video", 30, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("viewer: 30 decoded frames %v after navigation (%v waiting)", time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond))
	t.Log(eval[string](t, viewer, `JSON.stringify(performance.getEntriesByType('resource').filter(e => /whep|rooms\//.test(e.name)).map(e => [e.name.split('/').slice(-2).join('/'), Math.round(e.startTime), Math.round(e.duration)]))`))
	waitJS(t, viewer, `document.getElementById('waiting').hidden`, 5*time.Second)

	// Audio only: a new WHEP session without a video track.
	if err := chromedp.Do(viewer, chromedp.Click(chromedp.ID("audio-only"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, viewer, `(() => { const s = document.getElementById('video').srcObject;
		return s && s.getAudioTracks().length === 1 && s.getVideoTracks().length === 0; })()`, 10*time.Second)
	if got := eval[string](t, viewer, `document.querySelector('#waiting p').textContent`); !strings.Contains(got, "Audio only") {
		t.Errorf("overlay = %q", got)
	}

	// End: the publisher's session is deleted.
	if err := chromedp.Do(studio, chromedp.Click(chromedp.ID("end"))); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](t, studio, `document.getElementById('end').dataset.i18n`); got != "studio.end_confirm" {
		t.Fatalf("End asks no confirmation (%q)", got)
	}
	if err := chromedp.Do(studio, chromedp.Click(chromedp.ID("end"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, studio, `document.getElementById('conn-state').className === 'state-idle' && !document.getElementById('go-live').disabled`, 5*time.Second)

	for name, c := range map[string]*consoleLog{"studio": studioConsole, "viewer": viewerConsole} {
		if msgs := c.take(visitor401); len(msgs) > 0 {
			t.Errorf("%s console:\n  %s", name, strings.Join(msgs, "\n  "))
		}
	}
}
