package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// fakeSFU is a test double of jobcast's media endpoints on loopback: WHIP
// forwards the publisher's tracks to shared local tracks, WHEP attaches
// viewers to them; /metrics answers with process figures. It exists to test
// the load tool's WHIP publisher and WHEP viewers against real pion peers.
type fakeSFU struct {
	t      *testing.T
	api    *webrtc.API
	mu     sync.Mutex
	pcs    []*webrtc.PeerConnection
	tracks map[webrtc.RTPCodecType]*webrtc.TrackLocalStaticRTP
	ready  chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func newFakeSFU(t *testing.T) *httptest.Server {
	api, err := clientAPI(true)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSFU{t: t, api: api, tracks: map[webrtc.RTPCodecType]*webrtc.TrackLocalStaticRTP{}, ready: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "process_cpu_seconds_total 1\nprocess_resident_memory_bytes 1e7\ngo_goroutines 3\n")
	})
	mux.HandleFunc("POST /api/rooms/r/stream-key/rotate", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer host" {
			http.Error(w, `{"error":{"code":"forbidden"}}`, 403)
			return
		}
		fmt.Fprint(w, `{"key":"sk_test"}`)
	})
	mux.HandleFunc("POST /api/rooms/r/whip", f.whip)
	mux.HandleFunc("POST /api/rooms/r/whep", f.whep)
	mux.HandleFunc("DELETE /session/", func(w http.ResponseWriter, _ *http.Request) {})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		f.mu.Lock()
		pcs := f.pcs
		f.mu.Unlock()
		for _, pc := range pcs {
			_ = pc.Close()
		}
		f.wg.Wait()
	})
	return srv
}

func (f *fakeSFU) answer(w http.ResponseWriter, r *http.Request, pc *webrtc.PeerConnection) {
	offer, _ := io.ReadAll(r.Body)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	<-done
	w.Header().Set("Location", "/session/x")
	w.Header().Set("Content-Type", "application/sdp")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, pc.LocalDescription().SDP)
}

func (f *fakeSFU) newPC(w http.ResponseWriter) *webrtc.PeerConnection {
	pc, err := f.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return nil
	}
	f.mu.Lock()
	f.pcs = append(f.pcs, pc)
	f.mu.Unlock()
	return pc
}

func (f *fakeSFU) whip(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer sk_test" {
		http.Error(w, "no key", 401)
		return
	}
	pc := f.newPC(w)
	if pc == nil {
		return
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		f.wg.Add(1)
		defer f.wg.Done()
		local, err := webrtc.NewTrackLocalStaticRTP(tr.Codec().RTPCodecCapability, tr.Kind().String(), "fake")
		if err != nil {
			return
		}
		f.mu.Lock()
		f.tracks[tr.Kind()] = local
		both := len(f.tracks) == 2
		f.mu.Unlock()
		if both {
			f.once.Do(func() { close(f.ready) })
		}
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			p.Extension, p.Extensions = false, nil
			if err := local.WriteRTP(p); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return
			}
		}
	})
	f.answer(w, r, pc)
}

func (f *fakeSFU) whep(w http.ResponseWriter, r *http.Request) {
	select {
	case <-f.ready:
	case <-time.After(10 * time.Second):
		http.Error(w, "no publisher", 503)
		return
	}
	pc := f.newPC(w)
	if pc == nil {
		return
	}
	f.mu.Lock()
	tracks := []*webrtc.TrackLocalStaticRTP{f.tracks[webrtc.RTPCodecTypeVideo], f.tracks[webrtc.RTPCodecTypeAudio]}
	f.mu.Unlock()
	for _, tr := range tracks {
		s, err := pc.AddTrack(tr)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		f.wg.Add(1)
		go func() { // drain RTCP until the connection closes
			defer f.wg.Done()
			for {
				if _, _, err := s.ReadRTCP(); err != nil {
					return
				}
			}
		}()
	}
	f.answer(w, r, pc)
}

// TestPublisherAndWHEPViewers runs the synthetic publisher and three WHEP
// viewers through a loopback pion forwarder and checks that every viewer
// received video and audio, counted by seq.
func TestPublisherAndWHEPViewers(t *testing.T) {
	if testing.Short() {
		t.Skip("pion peers")
	}
	srv := newFakeSFU(t)
	fair := &Fair{Room: "r", HostToken: "host", Seekers: []string{"s1"}, Jobs: []string{"j"}}
	r, err := NewRunner(Scenario{Name: "media", URL: srv.URL, Duration: 1500 * time.Millisecond, WHEPViewers: 3,
		WHEPRamp: 50, Loopback: true, Drain: 300 * time.Millisecond, Progress: -1}, fair, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.WHEP
	if m.Connected != 3 || m.Failed != 0 || m.NoVideo != 0 || m.FirstPacket.Count != 3 {
		t.Fatalf("whep %+v errors %v", m, rep.Errors)
	}
	if m.Frames == 0 || m.Mbps <= 0 || m.VideoLossPct > 5 {
		t.Errorf("whep %+v", m)
	}
	var b strings.Builder
	_ = rep.WriteText(&b)
	if !strings.Contains(b.String(), "whep loss:") {
		t.Errorf("report:\n%s", b.String())
	}
	t.Logf("\n%s", b.String())
}
