package load

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Report is the outcome of one run, written as text (WriteText) and JSON.
type Report struct {
	Scenario Scenario  `json:"scenario"`
	Started  time.Time `json:"started"`
	Machine  string    `json:"machine"`
	Seconds  float64   `json:"seconds"` // measured phase

	Connections struct {
		Viewers     int              `json:"viewers"`
		Connected   int64            `json:"connected"`
		Failed      int64            `json:"failed"`
		Dropped     int64            `json:"dropped"`              // closed by the server
		DroppedBy   map[string]int64 `json:"dropped_by,omitempty"` // "close 4001" (slow), "close 4008" (idle), …
		RampSeconds float64          `json:"ramp_seconds"`
		Connect     Summary          `json:"connect"` // WebSocket handshake time
	} `json:"connections"`

	Events struct {
		Delivered  uint64 `json:"delivered"`  // ordered events, counted once per connection
		Lost       uint64 `json:"lost"`       // seq gaps, and seqs never received by the end
		Duplicated uint64 `json:"duplicated"` // seq at or below one already applied
		HighSeq    uint64 `json:"high_seq"`
		All        int64  `json:"all"`    // every event line, ephemeral ones too
		Frames     int64  `json:"frames"` // data frames read (the server joins queued events into one frame)
		// DrainSeconds: after the measured phase the run waits until no
		// event arrived for Scenario.Drain (at most 60 s) before counting
		// what never arrived as lost.
		DrainSeconds float64 `json:"drain_seconds"`
	} `json:"events"`

	Chat struct {
		Sent    int64   `json:"sent"`
		Refused int64   `json:"refused"` // error events answering a load message
		Latency Summary `json:"latency"` // publish → receipt, every receiving viewer
	} `json:"chat"`

	Pin struct {
		Pins          int     `json:"pins"`
		Latency       Summary `json:"latency"` // POST pin sent → pin event received, every viewer
		Within100msPc float64 `json:"within_100ms_pct"`
	} `json:"pin"`

	Apply struct {
		Latency      Summary          `json:"latency"`
		Outcomes     map[string]int64 `json:"outcomes"` // created, repeat, rate_limited, status_NNN, error
		PerSecond    float64          `json:"per_second"`
		BurstSize    int              `json:"burst_size"`
		BurstSeconds float64          `json:"burst_seconds"`    // slowest burst: first sent → last answered
		Stored       *int64           `json:"stored,omitempty"` // applications in the store after the run (seeded fairs)
		Missing      int64            `json:"missing"`          // answered 201 but not stored (lost)
		Extra        int64            `json:"extra"`            // stored beyond the 201 answers (duplicated)
	} `json:"apply"`

	Reconnect struct {
		Seconds   float64 `json:"seconds"` // drop → every viewer back
		Back      int64   `json:"back"`
		Recovered int64   `json:"recovered"` // recovered:true
		Resets    int64   `json:"resets"`    // recovered:false (snapshot)
	} `json:"reconnect"`

	WHEP struct {
		Viewers      int     `json:"viewers"`
		Connected    int64   `json:"connected"`
		Failed       int64   `json:"failed"`
		FirstPacket  Summary `json:"first_packet"` // WHEP POST → first video RTP packet
		VideoLossPct float64 `json:"video_loss_pct"`
		AudioLossPct float64 `json:"audio_loss_pct"`
		Lossy        int     `json:"lossy"` // viewers above 1 % video loss
		NoVideo      int     `json:"no_video"`
		Mbps         float64 `json:"mbps_per_viewer"`
		Frames       int64   `json:"publisher_frames"`
		PLIs         int64   `json:"publisher_plis"`
	} `json:"whep"`

	// Client is the load tool's own CPU in the measured phase: on one
	// machine it competes with the server for the same cores.
	Client struct {
		CPUSeconds    float64 `json:"cpu_seconds"`
		Cores         float64 `json:"cores"`
		MsPer1kEvents float64 `json:"cpu_ms_per_1k_events"` // measured phase + drain
	} `json:"client"`

	Server struct {
		CPUSeconds       float64 `json:"cpu_seconds"`          // during the measured phase
		Cores            float64 `json:"cores"`                // cpu_seconds / seconds
		MsPer1kEvents    float64 `json:"cpu_ms_per_1k_events"` // server CPU per 1,000 event lines received, measured phase + drain
		RSSStartMiB      float64 `json:"rss_start_mib"`
		RSSPeakMiB       float64 `json:"rss_peak_mib"`
		RSSEndMiB        float64 `json:"rss_end_mib"`
		RSSPerViewerKiB  float64 `json:"rss_per_viewer_kib"`      // after the WebSocket ramp, idle
		HeapPerViewerKiB float64 `json:"heap_per_viewer_kib"`     // live Go heap (as of the last GC) + stacks, same
		RSSPerWHEPKiB    float64 `json:"rss_per_whep_viewer_kib"` // (RSS peak - RSS before the WHEP ramp) / viewers
		Goroutines       float64 `json:"goroutines_peak"`
	} `json:"server"`

	Errors []string `json:"errors,omitempty"`
}

func machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

func dropReasons(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func lat(s Summary) string {
	if s.Count == 0 {
		return "—"
	}
	return fmt.Sprintf("p50 %.1f ms, p95 %.1f, p99 %.1f, max %.1f (n=%d)", s.P50, s.P95, s.P99, s.Max, s.Count)
}

// WriteText writes the report for people, one figure per line.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	p := func(f string, a ...any) { fmt.Fprintf(&b, f+"\n", a...) }
	s := r.Scenario
	p("== jobcast-load %s — %s, %s", s.Name, r.Started.UTC().Format(time.RFC3339), r.Machine)
	p("scenario:     %d viewers (ramp %.0f/s), %d chatters at %.1f msg/s, pin every %s, %d appliers (%.0f/s sustained, bursts of %d), %d WHEP viewers, %.0f s",
		s.Viewers, s.RampRate, s.Chatters, s.ChatRate, s.PinEvery, s.Appliers, s.ApplyRate, s.ApplyBurst, s.WHEPViewers, r.Seconds)
	c := r.Connections
	p("connections:  %d made, %d failed, %d dropped by the server%s; ramp %.1f s; handshake %s", c.Connected, c.Failed, c.Dropped, dropReasons(c.DroppedBy), c.RampSeconds, lat(c.Connect))
	e := r.Events
	p("events:       %d delivered, %d lost, %d duplicated (by seq; last seq %d); %d event lines in all in %d frames; drain %.1f s", e.Delivered, e.Lost, e.Duplicated, e.HighSeq, e.All, e.Frames, e.DrainSeconds)
	if s.Chatters > 0 {
		p("chat:         %d sent, %d refused; publish→receipt %s", r.Chat.Sent, r.Chat.Refused, lat(r.Chat.Latency))
	}
	if r.Pin.Pins > 0 {
		p("pin:          %d pins; pin→receipt %s; %.2f %% within 100 ms", r.Pin.Pins, lat(r.Pin.Latency), r.Pin.Within100msPc)
	}
	if len(r.Apply.Outcomes) > 0 {
		p("apply:        %s; %v; %.0f/s", lat(r.Apply.Latency), r.Apply.Outcomes, r.Apply.PerSecond)
		if r.Apply.Stored != nil {
			p("apply store:  %d applications stored for %d created answers: %d lost, %d duplicated", *r.Apply.Stored, r.Apply.Outcomes["created"], r.Apply.Missing, r.Apply.Extra)
		}
		if r.Apply.BurstSize > 0 {
			p("apply burst:  %d applies answered within %.2f s (slowest burst)", r.Apply.BurstSize, r.Apply.BurstSeconds)
		}
	}
	if s.ReconnectAt > 0 {
		rc := r.Reconnect
		p("reconnect:    %d back within %.2f s: %d recovered, %d reset to a snapshot", rc.Back, rc.Seconds, rc.Recovered, rc.Resets)
	}
	if s.WHEPViewers > 0 {
		m := r.WHEP
		p("whep:         %d/%d connected (%d failed); first packet %s", m.Connected, m.Viewers, m.Failed, lat(m.FirstPacket))
		p("whep loss:    video %.3f %%, audio %.3f %%; %d viewers > 1 %% loss, %d without video; %.2f Mbit/s per viewer; publisher %d frames, %d PLIs",
			m.VideoLossPct, m.AudioLossPct, m.Lossy, m.NoVideo, m.Mbps, m.Frames, m.PLIs)
	}
	v := r.Server
	p("server:       %.1f CPU s = %.2f cores; RSS %.0f → peak %.0f → %.0f MiB; %.1f KiB RSS and %.1f KiB live heap+stacks per idle viewer; %.0f KiB RSS per WHEP viewer (peak); %.0f goroutines peak",
		v.CPUSeconds, v.Cores, v.RSSStartMiB, v.RSSPeakMiB, v.RSSEndMiB, v.RSSPerViewerKiB, v.HeapPerViewerKiB, v.RSSPerWHEPKiB, v.Goroutines)
	p("cpu/events:   server %.1f ms, load tool %.1f ms of CPU per 1,000 events received (measured phase + drain)", v.MsPer1kEvents, r.Client.MsPer1kEvents)
	p("load tool:    %.1f CPU s = %.2f cores (same machine: competes with the server)", r.Client.CPUSeconds, r.Client.Cores)
	for _, err := range r.Errors {
		p("error:        %s", err)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
