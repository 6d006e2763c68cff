package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Runner runs one scenario against one fair. Create it with NewRunner; Run
// may be called once.
type Runner struct {
	s    Scenario
	fair *Fair
	api  *API
	out  io.Writer // progress lines; nil = none

	ws   wsStats
	whep whepStats

	viewers []*viewer
	wepv    []*whepViewer
	pub     *Publisher

	applyLat      Histogram
	applyMu       sync.Mutex
	applyOutcomes map[string]int64
	applyNext     atomic.Int64
	applyDone     atomic.Int64
	burstSeconds  float64
	pins          int
	chatStart     chan struct{} // closed when the measured phase begins
	chatStop      chan struct{} // closed when it ends
	peakMu        sync.Mutex
	peak          ServerSample
	whepBase      float64 // server RSS bytes before the WHEP ramp (under peakMu)
	whepPeak      float64 // the peak from the WHEP ramp on
	errMu         sync.Mutex
	errs          []string
}

// NewRunner checks the scenario against the fair (enough seekers) and
// prepares a run; progress lines go to progress (may be nil).
func NewRunner(s Scenario, fair *Fair, progress io.Writer) (*Runner, error) {
	s.defaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if fair == nil || fair.Room == "" {
		return nil, errors.New("no fair: seed one or register one")
	}
	if need := s.Seekers(); len(fair.Seekers) < need {
		return nil, fmt.Errorf("the scenario needs %d seeker sessions, the fair has %d", need, len(fair.Seekers))
	}
	if (s.PinEvery > 0 || s.Publish) && fair.HostToken == "" {
		return nil, errors.New("pins and publishing need the host's session")
	}
	if s.PinEvery > 0 && len(fair.Jobs) == 0 {
		return nil, errors.New("pins need jobs on the shelf")
	}
	if s.Appliers > 0 && len(fair.Jobs) == 0 {
		return nil, errors.New("applies need jobs on the shelf")
	}
	r := &Runner{s: s, fair: fair, api: NewAPI(s.URL), out: progress, applyOutcomes: map[string]int64{},
		chatStart: make(chan struct{}), chatStop: make(chan struct{})}
	r.ws.pinSent = map[string]time.Time{}
	return r, nil
}

func (r *Runner) errorf(format string, a ...any) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.errs) < 20 {
		r.errs = append(r.errs, fmt.Sprintf(format, a...))
	}
}

func (r *Runner) scrape(ctx context.Context) (ServerSample, error) {
	s, err := Scrape(ctx, r.api.HTTP, r.s.URL)
	if err == nil {
		r.peakMu.Lock() // the progress goroutine scrapes too
		r.peak.RSSBytes = max(r.peak.RSSBytes, s.RSSBytes)
		r.peak.Goroutines = max(r.peak.Goroutines, s.Goroutines)
		if r.whepBase > 0 {
			r.whepPeak = max(r.whepPeak, s.RSSBytes)
		}
		r.peakMu.Unlock()
	}
	return s, err
}

// Run executes the scenario: publisher, WebSocket ramp, WHEP ramp, the
// measured phase (chat, pins, applies, the reconnect storm), a drain, then
// closes every client. It blocks until done or ctx ends (the report then
// covers what ran) and returns an error only when the run could not start
// (server unreachable, /metrics missing, publisher refused).
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	s := r.s
	rep := &Report{Scenario: s, Started: time.Now(), Machine: machine()}
	defer r.api.HTTP.CloseIdleConnections()
	base, err := r.scrape(ctx)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup // every client goroutine of the run
	defer func() {
		cancel()
		wg.Wait()
	}()

	if s.Publish {
		key, err := r.api.RotateStreamKey(ctx, r.fair)
		if err != nil {
			return nil, fmt.Errorf("rotating the stream key: %w", err)
		}
		r.pub, err = Publish(ctx, r.api.HTTP, s.URL+"/api/rooms/"+r.fair.Room+"/whip", key, s.Bitrate, s.Loopback)
		if err != nil {
			return nil, fmt.Errorf("publishing: %w", err)
		}
	}

	// WebSocket ramp.
	stopProgress := r.progress(rctx, time.Now())
	rampStart := time.Now()
	r.rampViewers(rctx, &wg)
	rep.Connections.RampSeconds = time.Since(rampStart).Seconds()
	if afterWS, err := r.settled(ctx, base); err == nil && r.ws.connected.Load() > 0 {
		n := float64(r.ws.connected.Load())
		if d := afterWS.RSSBytes - base.RSSBytes; d > 0 {
			rep.Server.RSSPerViewerKiB = round1(d / n / 1024)
		} else {
			r.errorf("RSS per viewer not measured: RSS fell during the ramp (memory from start-up returned to the OS)")
		}
		if d := afterWS.HeapBytes - base.HeapBytes; afterWS.GCs > base.GCs && d > 0 {
			rep.Server.HeapPerViewerKiB = round1(d / n / 1024)
		} else {
			// Start-up garbage can outweigh a few hundred viewers.
			r.errorf("live heap per viewer not measured (no GC after the ramp, or below the start-up noise)")
		}
		base = afterWS
	}

	// WHEP ramp.
	if s.WHEPViewers > 0 {
		r.rampWHEP(rctx)
		// Per WHEP viewer: the server's RSS peak from the end of the ramp
		// to the end of the run (it climbs towards the GC's heap goal
		// between collections), less what it was before the ramp.
		r.peakMu.Lock()
		r.whepBase = base.RSSBytes
		r.peakMu.Unlock()
	}

	// Measured phase.
	start, err := r.scrape(ctx)
	if err != nil {
		r.errorf("metrics at start: %v", err)
	}
	phase := time.Now()
	cpu0, ev0 := selfCPU(), r.ws.events.Load()
	close(r.chatStart)
	pctx, pcancel := context.WithTimeout(rctx, s.Duration)
	var pwg sync.WaitGroup
	if s.PinEvery > 0 {
		pwg.Add(1)
		go func() { defer pwg.Done(); r.pinLoop(pctx) }()
	}
	if s.ApplyRate > 0 {
		pwg.Add(1)
		go func() { defer pwg.Done(); r.applySustained(pctx) }()
	}
	if s.ApplyBurst > 0 {
		pwg.Add(1)
		go func() { defer pwg.Done(); r.applyBursts(pctx) }()
	}
	if s.ReconnectAt > 0 {
		pwg.Add(1)
		go func() { defer pwg.Done(); r.reconnectStorm(pctx, rep) }()
	}
	<-pctx.Done()
	pcancel()
	close(r.chatStop)
	pwg.Wait()
	rep.Seconds = round1(time.Since(phase).Seconds())
	rep.Client.CPUSeconds = round1((selfCPU() - cpu0).Seconds())
	rep.Client.Cores = math.Round((selfCPU()-cpu0).Seconds()/time.Since(phase).Seconds()*100) / 100
	end, err := r.scrape(ctx)
	if err == nil && !start.At.IsZero() {
		rep.Server.CPUSeconds = round1(end.CPUSeconds - start.CPUSeconds)
		rep.Server.Cores = math.Round((end.CPUSeconds-start.CPUSeconds)/end.At.Sub(start.At).Seconds()*100) / 100
		rep.Server.RSSEndMiB = round1(end.RSSBytes / (1 << 20))
	}
	rep.Server.RSSStartMiB = round1(start.RSSBytes / (1 << 20))

	// Drain: chatters, pins and applies have stopped; wait for the events
	// in flight before counting what never arrived as lost.
	drainStart := time.Now()
	r.drain(ctx)
	rep.Events.DrainSeconds = round1(time.Since(drainStart).Seconds())
	// CPU per 1,000 event lines received, from the start of the measured
	// phase to the end of the drain: on a shared machine this is steadier
	// than latency (which is mostly waiting for a core).
	if ev := r.ws.events.Load() - ev0; ev > 0 {
		rep.Client.MsPer1kEvents = round1((selfCPU() - cpu0).Seconds() * 1e6 / float64(ev))
		if drained, err := r.scrape(ctx); err == nil && !start.At.IsZero() {
			rep.Server.MsPer1kEvents = round1((drained.CPUSeconds - start.CPUSeconds) * 1e6 / float64(ev))
		}
	}
	stopProgress()
	cancel()
	for _, v := range r.wepv {
		v.close(r.api.HTTP, &r.whep)
	}
	if r.pub != nil {
		rep.WHEP.Frames, rep.WHEP.PLIs = r.pub.Frames.Load(), r.pub.PLIs.Load()
		r.pub.Close()
	}
	wg.Wait()
	r.fill(rep)
	return rep, nil
}

// maxDrain bounds the wait for events in flight after the measured phase.
const maxDrain = 60 * time.Second

// drain waits, after the measured phase, until no event has arrived for
// s.Drain (events still in flight are late, not lost), at most maxDrain.
func (r *Runner) drain(ctx context.Context) {
	deadline := time.Now().Add(maxDrain)
	last, quiet := r.ws.events.Load(), time.Now()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for time.Since(quiet) < r.s.Drain && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n := r.ws.events.Load(); n != last {
			last, quiet = n, time.Now()
		}
	}
	if time.Now().After(deadline) {
		r.errorf("events still arriving %s after the run; what had not arrived counts as lost", maxDrain)
	}
}

// settled waits half a second for the last handshakes, then up to 5 s for
// a GC in the server after the ramp (the live-heap estimate is as of the
// last GC), and returns that reading.
func (r *Runner) settled(ctx context.Context, base ServerSample) (ServerSample, error) {
	deadline := time.Now().Add(5 * time.Second)
	wait := 500 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return ServerSample{}, ctx.Err()
		case <-time.After(wait):
		}
		s, err := r.scrape(ctx)
		if err != nil || s.GCs > base.GCs+1 || time.Now().After(deadline) {
			return s, err
		}
		wait = 250 * time.Millisecond
	}
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// rampViewers connects s.Viewers at s.RampRate with at most s.Dialers dials
// in flight; chatters are the first s.Chatters, signed in as seekers.
func (r *Runner) rampViewers(ctx context.Context, wg *sync.WaitGroup) {
	s := r.s
	u := wsURL(s.URL, r.fair.Room)
	dialer := newDialer()
	var every time.Duration
	if s.ChatRate > 0 {
		every = time.Duration(float64(s.Chatters) / s.ChatRate * float64(time.Second))
	}
	sem := make(chan struct{}, s.Dialers)
	var interval time.Duration
	if s.RampRate > 0 {
		interval = time.Duration(float64(time.Second) / s.RampRate)
	}
	var dials sync.WaitGroup
	next := time.Now()
	for i := range s.Viewers {
		if ctx.Err() != nil {
			break
		}
		v := &viewer{id: i, wsURL: u, stats: &r.ws, dialer: dialer}
		if i < s.Chatters {
			v.token = r.fair.Seekers[i]
			v.chatEvery = every
			v.chatPhase = time.Duration(i) * every / time.Duration(max(s.Chatters, 1))
			v.chatStart, v.chatStop = r.chatStart, r.chatStop
		}
		r.viewers = append(r.viewers, v)
		if interval > 0 {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		connected := make(chan bool, 1)
		wg.Add(1)
		go func() { defer wg.Done(); v.run(ctx, connected) }()
		dials.Add(1)
		go func() {
			defer dials.Done()
			select {
			case <-connected:
			case <-ctx.Done():
			}
			<-sem
		}()
	}
	dials.Wait()
}

// rampWHEP connects s.WHEPViewers pion viewers at s.WHEPRamp per second,
// signed in as seekers (four sessions each, the per-user cap) while there
// are seekers, visitors after.
func (r *Runner) rampWHEP(ctx context.Context) {
	api, err := clientAPI(r.s.Loopback)
	if err != nil {
		r.errorf("whep: %v", err)
		return
	}
	endpoint := r.s.URL + "/api/rooms/" + r.fair.Room + "/whep"
	interval := time.Duration(float64(time.Second) / r.s.WHEPRamp)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range r.s.WHEPViewers {
		if ctx.Err() != nil {
			break
		}
		token := ""
		if i/4 < len(r.fair.Seekers) {
			token = r.fair.Seekers[i/4]
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			v, err := startWHEP(ctx, api, r.api.HTTP, endpoint, token, &r.whep)
			if err != nil {
				r.whep.failed.Add(1)
				r.errorf("whep viewer: %v", err)
				return
			}
			r.whep.connected.Add(1)
			mu.Lock()
			r.wepv = append(r.wepv, v)
			mu.Unlock()
		}()
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
	wg.Wait()
}

// pinLoop pins the shelf's jobs in turn every s.PinEvery.
func (r *Runner) pinLoop(ctx context.Context) {
	t := time.NewTicker(r.s.PinEvery)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		job := r.fair.Jobs[i%len(r.fair.Jobs)]
		if len(r.fair.Jobs) == 1 && i > 0 {
			_, _ = r.api.Do(context.WithoutCancel(ctx), http.MethodDelete, "/api/rooms/"+r.fair.Room+"/pin", r.fair.HostToken, nil, nil)
		}
		r.ws.notePin(job, time.Now())
		// The request outlives the phase: a pin cut off mid-flight would
		// count as an error on both sides.
		if err := r.api.Pin(context.WithoutCancel(ctx), r.fair, job); err != nil {
			if ctx.Err() == nil {
				r.errorf("pin: %v", err)
			}
			continue
		}
		r.pins++
	}
}

// applyOne sends the next (seeker, job) pair: every pair is distinct until
// all seekers applied to every job, so 201 is the expected answer.
func (r *Runner) applyOne(ctx context.Context) {
	k := int(r.applyNext.Add(1) - 1)
	seeker := r.fair.Seekers[k%r.s.Appliers]
	job := r.fair.Jobs[(k/r.s.Appliers)%len(r.fair.Jobs)]
	start := time.Now()
	status, err := r.api.Apply(ctx, r.fair, seeker, job)
	d := time.Since(start)
	outcome := "created"
	switch {
	case status == http.StatusCreated:
	case status == http.StatusOK:
		outcome = "repeat"
	case status == http.StatusTooManyRequests:
		outcome = "rate_limited"
	case status != 0:
		outcome = fmt.Sprintf("status_%d", status)
	default:
		if ctx.Err() != nil {
			return
		}
		outcome = "error"
		r.errorf("apply: %v", err)
	}
	if status/100 == 2 {
		r.applyLat.Record(d)
	}
	r.applyDone.Add(1)
	r.applyMu.Lock()
	r.applyOutcomes[outcome]++
	r.applyMu.Unlock()
}

func (r *Runner) applySustained(ctx context.Context) {
	t := time.NewTicker(time.Duration(float64(time.Second) / r.s.ApplyRate))
	defer t.Stop()
	sem := make(chan struct{}, 512)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			r.applyMu.Lock()
			r.applyOutcomes["not_sent_backlog"]++ // the server is slower than the rate
			r.applyMu.Unlock()
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); defer func() { <-sem }(); r.applyOne(context.WithoutCancel(ctx)) }()
	}
}

// applyBursts fires s.ApplyBurst applies at once, every s.ApplyEvery (or
// once, at a third of the run), and records how long the slowest took to
// be answered.
func (r *Runner) applyBursts(ctx context.Context) {
	every := r.s.ApplyEvery
	if every <= 0 {
		every = r.s.Duration / 3
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		var wg sync.WaitGroup
		for range r.s.ApplyBurst {
			wg.Add(1)
			go func() { defer wg.Done(); r.applyOne(context.WithoutCancel(ctx)) }()
		}
		wg.Wait()
		r.burstSeconds = max(r.burstSeconds, time.Since(start).Seconds())
		if r.s.ApplyEvery <= 0 {
			return
		}
	}
}

// reconnectStorm drops every viewer at once at s.ReconnectAt and waits
// (within the run) until each is back (recovered or reset).
func (r *Runner) reconnectStorm(ctx context.Context, rep *Report) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(r.s.ReconnectAt):
	}
	before := r.ws.reconnected.Load()
	want := int64(0)
	for _, v := range r.viewers {
		v.mu.Lock()
		ok := v.conn != nil
		v.mu.Unlock()
		if ok {
			want++
		}
	}
	start := time.Now()
	for _, v := range r.viewers {
		v.drop()
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for r.ws.reconnected.Load()-before < want {
		select {
		case <-ctx.Done():
			r.errorf("reconnect: %d of %d back when the run ended", r.ws.reconnected.Load()-before, want)
			rep.Reconnect.Seconds = -1
			return
		case <-tick.C:
		}
	}
	rep.Reconnect.Seconds = math.Round(time.Since(start).Seconds()*1000) / 1000
}

// progress prints a line every s.Progress until the returned stop is called.
func (r *Runner) progress(ctx context.Context, t0 time.Time) (stop func()) {
	if r.out == nil || r.s.Progress < 0 {
		return func() {}
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.s.Progress)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
			srv := ""
			if m, err := r.scrape(pctx); err == nil {
				srv = fmt.Sprintf(" | server rss %.0f MiB, %.0f goroutines", m.RSSBytes/(1<<20), m.Goroutines)
			}
			cl := r.ws.chatLatency.Summary()
			fmt.Fprintf(r.out, "t=%5.1fs ws open %d/%d (failed %d, dropped %d) events %d chat p50 %.0f ms p99 %.0f ms | applies %d | whep %d%s\n",
				time.Since(t0).Seconds(), r.ws.open.Load(), r.s.Viewers, r.ws.failed.Load(), r.ws.dropped.Load(), r.ws.events.Load(),
				cl.P50, cl.P99, r.applyDone.Load(), r.whep.connected.Load(), srv)
		}
	}()
	return func() { cancel(); <-done }
}

// fill copies the counters into the report once every client stopped.
func (r *Runner) fill(rep *Report) {
	high := r.ws.highSeq.Load()
	for _, v := range r.viewers {
		v.seq.Finish(high)
		rep.Events.Delivered += v.seq.Delivered
		rep.Events.Lost += v.seq.Lost
		rep.Events.Duplicated += v.seq.Dups
	}
	rep.Events.HighSeq = high
	rep.Events.All = r.ws.events.Load()
	rep.Events.Frames = r.ws.frames.Load()
	c := &rep.Connections
	c.Viewers, c.Connected, c.Failed, c.Dropped = r.s.Viewers, r.ws.connected.Load(), r.ws.failed.Load(), r.ws.dropped.Load()
	c.Connect = r.ws.connectTime.Summary()
	r.ws.pinMu.Lock()
	if len(r.ws.drops) > 0 {
		c.DroppedBy = maps.Clone(r.ws.drops)
	}
	r.ws.pinMu.Unlock()
	rep.Chat.Sent, rep.Chat.Refused, rep.Chat.Latency = r.ws.chatSent.Load(), r.ws.chatRefused.Load(), r.ws.chatLatency.Summary()
	rep.Pin.Pins, rep.Pin.Latency = r.pins, r.ws.pinLatency.Summary()
	if n := r.ws.pinLatency.Count(); n > 0 {
		rep.Pin.Within100msPc = math.Round(r.ws.pinLatency.shareBelow(100*time.Millisecond)*10000) / 100
	}
	rep.Apply.Latency, rep.Apply.Outcomes = r.applyLat.Summary(), r.applyOutcomes
	if rep.Seconds > 0 {
		rep.Apply.PerSecond = round1(float64(r.applyDone.Load()) / rep.Seconds)
	}
	rep.Apply.BurstSize, rep.Apply.BurstSeconds = r.s.ApplyBurst, math.Round(r.burstSeconds*1000)/1000
	rep.Reconnect.Back, rep.Reconnect.Recovered, rep.Reconnect.Resets = r.ws.reconnected.Load(), r.ws.recovered.Load(), r.ws.resets.Load()
	w := &rep.WHEP
	w.Viewers, w.Connected, w.Failed, w.FirstPacket = r.s.WHEPViewers, r.whep.connected.Load(), r.whep.failed.Load(), r.whep.firstPacket.Summary()
	if r.whep.videoExpect > 0 {
		w.VideoLossPct = math.Round(float64(r.whep.videoExpect-r.whep.videoRecv)/float64(r.whep.videoExpect)*1e5) / 1e3
	}
	if r.whep.audioExpect > 0 {
		w.AudioLossPct = math.Round(float64(r.whep.audioExpect-r.whep.audioRecv)/float64(r.whep.audioExpect)*1e5) / 1e3
	}
	w.Lossy, w.NoVideo = r.whep.lossy, r.whep.noVideo
	if w.Connected > 0 && rep.Seconds > 0 {
		w.Mbps = math.Round(float64(r.whep.bytes.Load())*8/1e6/float64(w.Connected)/rep.Seconds*100) / 100
	}
	r.peakMu.Lock()
	rep.Server.RSSPeakMiB = round1(r.peak.RSSBytes / (1 << 20))
	if n := r.whep.connected.Load(); n > 0 && r.whepBase > 0 {
		rep.Server.RSSPerWHEPKiB = round1((max(r.whepPeak, r.whepBase) - r.whepBase) / float64(n) / 1024)
	}
	rep.Server.Goroutines = r.peak.Goroutines
	r.peakMu.Unlock()
	rep.Errors = r.errs

}
