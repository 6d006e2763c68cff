package signaling

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"jobcast/live"
)

// The load benchmark runs the SFU in a child process (this test binary,
// TestBenchServerChild) so that the server's own CPU and memory can be read
// from /proc, apart from the pion clients that load it. Reproduce with
//
//	go test ./signaling -run '^$' -bench BenchmarkWHEPViewers -benchtime 1x
//
// JOBCAST_BENCH_VIEWERS (comma list, default "25,50,100"),
// JOBCAST_BENCH_SECONDS (measurement window, default 5) and
// JOBCAST_BENCH_PROFILE (write a CPU profile of the server over the
// measurement window to this path),
// JOBCAST_BENCH_BATCH (Config.WriteBatchInterval, e.g. "1ms" or "-1ns" for
// none) and JOBCAST_BENCH_SHARDS (Config.FanoutShards) tune it.

const benchChildEnv = "JOBCAST_BENCH_CHILD"

// TestBenchServerChild is the benchmark's server process; it does nothing
// in a normal test run.
func TestBenchServerChild(t *testing.T) {
	if os.Getenv(benchChildEnv) == "" {
		t.Skip("only run as the load benchmark's child process")
	}
	if os.Getenv("JOBCAST_BENCH_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 4096
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50) // what cmd/jobcast sets (gcPercent)
	}
	e := newEnv(t, func(c *Config) {
		c.MaxViewersPerRoom = 100000
		c.MaxViewersPerUser = 100000
		c.MaxViewersPerIP = 100000
		c.ConnectTimeout = 60 * time.Second
		if d, err := time.ParseDuration(os.Getenv("JOBCAST_BENCH_BATCH")); err == nil {
			c.WriteBatchInterval = d
		}
		if n, err := strconv.Atoi(os.Getenv("JOBCAST_BENCH_SHARDS")); err == nil {
			c.FanoutShards = n
		}
	})
	room := e.rooms.add("bench-key")
	// The CPU profile covers the measurement window only (the parent asks
	// for ?profile=start and ?profile=stop), not the viewers' set-up.
	var stopProfile func()
	defer func() {
		if stopProfile != nil {
			stopProfile()
		}
	}()
	stats := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := os.Getenv("JOBCAST_BENCH_PROFILE"); p != "" {
			switch r.URL.Query().Get("profile") {
			case "start":
				if stopProfile == nil {
					stopProfile = startCPUProfile(t, p)
				}
			case "stop":
				if stopProfile != nil {
					stopProfile()
					stopProfile = nil
				}
			}
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(w, "%d %d %d %d %d", ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine(), e.srv.m.dropped.Load(), e.srv.m.packets.Load())
	}))
	defer stats.Close()
	fmt.Printf("BENCH-READY %s %s %s\n", e.url, room, stats.URL)
	// Block until the parent closes our stdin.
	_, _ = io.Copy(io.Discard, os.Stdin)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "bench child: %d goroutines, heap in use %d KiB, stacks %d KiB, sys %d KiB, viewers %d\n",
		runtime.NumGoroutine(), ms.HeapInuse>>10, ms.StackInuse>>10, ms.Sys>>10, e.srv.m.viewers.Load())
	if p := os.Getenv("JOBCAST_BENCH_HEAPPROFILE"); p != "" {
		writeHeapProfile(t, p)
	}
}

type benchChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
	room  live.RoomID

	statsURL string
}

type childStats struct {
	heap, stacks, goroutines, dropped, forwarded int64
}

// stats asks the child for its live heap (after a GC), stacks, goroutines
// and fan-out drops.
func (c *benchChild) stats(b *testing.B, query ...string) childStats {
	u := c.statsURL
	if len(query) > 0 {
		u += "?" + query[0]
	}
	resp, err := http.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var s childStats
	if _, err := fmt.Fscan(resp.Body, &s.heap, &s.stacks, &s.goroutines, &s.dropped, &s.forwarded); err != nil {
		b.Fatal(err)
	}
	return s
}

// selfCPU is this (client) process's CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startBenchChild(b *testing.B) *benchChild {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchServerChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), benchChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &benchChild{cmd: cmd, stdin: stdin}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "BENCH-READY" {
			c.url, c.room, c.statsURL = f[1], live.RoomID(f[2]), f[3]
			break
		}
	}
	if c.url == "" {
		b.Fatal("benchmark child did not start")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return c
}

func (c *benchChild) stop() {
	_ = c.stdin.Close()
	_ = c.cmd.Wait()
}

// cpu returns the child's user+system CPU time.
func (c *benchChild) cpu(b *testing.B) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	f := strings.Fields(string(raw)[strings.LastIndexByte(string(raw), ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// rss returns the child's resident memory in KiB.
func (c *benchChild) rss(b *testing.B) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n
		}
	}
	return 0
}

// benchPublisher sends 1.5 Mbit/s of VP8-shaped video (150 packets/s of
// 1200 bytes, keyframes on PLI) and 64 kbit/s of Opus-shaped audio.
type benchPublisher struct {
	pc    *webrtc.PeerConnection
	sent  atomic.Int64 // video packets
	stopc chan struct{}
	wg    sync.WaitGroup
}

func startBenchPublisher(b *testing.B, base string, room live.RoomID) *benchPublisher {
	t := &testing.T{}
	_ = t
	pc, err := clientAPIB(b).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		b.Fatal(err)
	}
	video, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "pub")
	audio, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "pub")
	for _, tr := range []*webrtc.TrackLocalStaticRTP{video, audio} {
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			b.Fatal(err)
		}
	}
	ans := postOffer(b, pc, base+"/api/rooms/"+string(room)+"/whip", "bench-key")
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans}); err != nil {
		b.Fatal(err)
	}
	p := &benchPublisher{pc: pc, stopc: make(chan struct{})}
	var key atomic.Bool
	key.Store(true)
	for _, s := range pc.GetSenders() {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				pkts, _, err := s.ReadRTCP()
				if err != nil {
					return
				}
				for _, pk := range pkts {
					if _, ok := pk.(*rtcp.PictureLossIndication); ok {
						key.Store(true)
					}
				}
			}
		}()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		payload := make([]byte, 1200)
		payload[0] = 0x10
		// Paced by the clock, not by ticks: a late tick sends the packets
		// it owes (at most 3 frames; an older backlog is skipped, as a
		// real encoder would drop frames), so the rate stays 150 + 50
		// packets/s under load without bursts.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		var vseq, aseq uint16
		var frames uint32
		for {
			select {
			case <-p.stopc:
				return
			case <-tick.C:
			}
			owed := uint32(time.Since(start) / (20 * time.Millisecond))
			if owed > frames+3 {
				frames = owed - 3
			}
			for ; frames < owed; frames++ {
				for i := 0; i < 3; i++ {
					vseq++
					payload[1] = 0x01
					if i == 0 && key.Swap(false) {
						payload[1] = 0x00
					}
					_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: i == 2, SequenceNumber: vseq, Timestamp: frames * 1800}, Payload: payload})
					p.sent.Add(1)
				}
				aseq++
				_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: frames * 960}, Payload: payload[:160]})
			}
		}
	}()
	return p
}

func (p *benchPublisher) close() {
	close(p.stopc)
	_ = p.pc.Close()
	p.wg.Wait()
}

type benchViewer struct {
	pc    *webrtc.PeerConnection
	video atomic.Int64 // video packets received
	ext   atomic.Int64 // highest extended video sequence number seen
	wg    sync.WaitGroup
}

func startBenchViewer(b *testing.B, api *webrtc.API, base string, room live.RoomID) *benchViewer {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		b.Fatal(err)
	}
	v := &benchViewer{pc: pc}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			b.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			buf := make([]byte, 1500)
			var cycles, last int64 = 0, -1
			for {
				n, _, err := tr.Read(buf)
				if err != nil {
					return
				}
				if tr.Kind() != webrtc.RTPCodecTypeVideo || n < 4 {
					continue
				}
				seq := int64(buf[2])<<8 | int64(buf[3])
				if last >= 0 && seq < last && last-seq > 1<<15 {
					cycles += 1 << 16
				}
				if last < 0 || seq > last || last-seq > 1<<15 {
					last = seq
					if ext := cycles + seq; ext > v.ext.Load() {
						v.ext.Store(ext)
					}
				}
				v.video.Add(1)
			}
		}()
	})
	ans := postOffer(b, pc, base+"/api/rooms/"+string(room)+"/whep", "")
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans}); err != nil {
		b.Fatal(err)
	}
	return v
}

func postOffer(b *testing.B, pc *webrtc.PeerConnection, url, token string) string {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		b.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		b.Fatal(err)
	}
	<-done
	t := &testing.T{}
	a := do(t, "POST", url, token, "application/sdp", pc.LocalDescription().SDP)
	if a.status != 201 {
		b.Fatalf("POST %s: %d %s", url, a.status, a.body)
	}
	return a.body
}

func clientAPIB(b *testing.B) *webrtc.API { return clientAPI(&testing.T{}, false) }

func BenchmarkWHEPViewers(b *testing.B) {
	counts := []int{25, 50, 100}
	if s := os.Getenv("JOBCAST_BENCH_VIEWERS"); s != "" {
		counts = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("bad JOBCAST_BENCH_VIEWERS %q", s)
			}
			counts = append(counts, n)
		}
	}
	window := 5 * time.Second
	if s := os.Getenv("JOBCAST_BENCH_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("bad JOBCAST_BENCH_SECONDS %q", s)
		}
		window = time.Duration(n) * time.Second
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runLoad(b, n, window)
			}
		})
	}
}

func runLoad(b *testing.B, n int, window time.Duration) {
	child := startBenchChild(b)
	defer child.stop()
	pub := startBenchPublisher(b, child.url, child.room)
	defer pub.close()
	time.Sleep(time.Second)
	rss0, st0 := child.rss(b), child.stats(b)

	api := clientAPIB(b)
	viewers := make([]*benchViewer, n)
	for i := range viewers {
		viewers[i] = startBenchViewer(b, api, child.url, child.room)
	}
	defer func() {
		for _, v := range viewers {
			_ = v.pc.Close()
			v.wg.Wait()
		}
	}()
	// Let every viewer connect and settle.
	deadline := time.Now().Add(30 * time.Second)
	for _, v := range viewers {
		for v.video.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(time.Second)

	got0, ext0 := make([]int64, n), make([]int64, n)
	for i, v := range viewers {
		got0[i], ext0[i] = v.video.Load(), v.ext.Load()
	}
	stW := child.stats(b, "profile=start") // forwarded count at the window's start
	sent0, cpu0, self0, t0 := pub.sent.Load(), child.cpu(b), selfCPU(), time.Now()
	// RSS is sampled through the window and its peak reported: it climbs
	// towards the GC's heap goal between collections, so one reading at
	// the end can catch it low.
	var rssPeak int64
	for end := t0.Add(window); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		rssPeak = max(rssPeak, child.rss(b))
	}
	sent1, cpu1, self1, t1 := pub.sent.Load(), child.cpu(b), selfCPU(), time.Now()
	var received, expected, lossy int64
	for i, v := range viewers {
		got, want := v.video.Load()-got0[i], v.ext.Load()-ext0[i]
		received += got
		expected += want
		if float64(got) < 0.99*float64(want) {
			lossy++
		}
	}
	rss1 := max(rssPeak, child.rss(b))
	st1 := child.stats(b, "profile=stop")
	if os.Getenv("JOBCAST_BENCH_HEAPPROFILE") != "" {
		// The child writes its heap profile when stdin closes: do it
		// while the viewers are still connected.
		child.stop()
	}

	loss := 100 * (1 - float64(received)/float64(expected))
	wall := t1.Sub(t0).Seconds()
	cores := (cpu1 - cpu0).Seconds() / wall
	b.ReportMetric(loss, "loss%")
	b.ReportMetric(cores, "server-cores")
	fwd := float64(st1.forwarded-stW.forwarded) / wall // packets/s to viewers, audio included
	usPerPkt := cores / fwd * 1e6
	// Normalised to the nominal 1.5 Mbit/s + audio stream (150 + 50
	// packets/s per viewer), whatever rate the loaded machine achieved.
	b.ReportMetric(1e6/(usPerPkt*200), "viewers/core")
	b.ReportMetric(usPerPkt, "µs/pkt")
	b.ReportMetric(float64(rss1-rss0)/float64(n), "RSS-KiB/viewer") // peak over the window
	b.ReportMetric(float64(st1.heap+st1.stacks-st0.heap-st0.stacks)/1024/float64(n), "live-KiB/viewer")
	b.ReportMetric(float64(st1.stacks-st0.stacks)/1024/float64(n), "stack-KiB/viewer")
	b.ReportMetric(fwd/cores, "pkts/s/core")
	b.Logf("%d viewers: video %.0f packets/s sent, %.0f/s per viewer by sequence; loss %.2f%% (%d viewers >1%%), %.0f packets/s forwarded (%.0f per viewer), server %.2f cores, clients %.2f cores, RSS %d→%d KiB, goroutines %d→%d, fan-out drops %d",
		n, float64(sent1-sent0)/wall, float64(expected)/float64(n)/wall, loss, lossy, fwd, fwd/float64(n), cores, (self1-self0).Seconds()/wall, rss0, rss1, st0.goroutines, st1.goroutines, st1.dropped-stW.dropped)
}
