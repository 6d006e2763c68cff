package load

import (
	"errors"
	"fmt"
	"time"
)

// Scenario is one load run. Zero values disable a part (no chatters, no
// pins, no applies, no media).
type Scenario struct {
	Name     string        `json:"name"`
	URL      string        `json:"url"`      // http://host:port of the jobcast node
	Duration time.Duration `json:"duration"` // measured phase, after the ramp

	Viewers  int     `json:"viewers"`   // WebSocket viewers (chatters included)
	RampRate float64 `json:"ramp_rate"` // new connections per second (0 = as fast as Dial allows)
	Dialers  int     `json:"dialers"`   // concurrent dials (default 64)

	Chatters int     `json:"chatters"`  // signed-in viewers that chat (need seekers)
	ChatRate float64 `json:"chat_rate"` // messages per second, all chatters together (≤ 1 per chatter: the server allows 1/s each)

	PinEvery time.Duration `json:"pin_every"` // the host pins the next card this often

	Appliers   int           `json:"appliers"`    // seekers that apply (need seekers)
	ApplyRate  float64       `json:"apply_rate"`  // sustained applies per second
	ApplyBurst int           `json:"apply_burst"` // applies fired together …
	ApplyEvery time.Duration `json:"apply_every"` // … this often (0 = once, in the middle of the run)

	WHEPViewers int           `json:"whep_viewers"` // pion WHEP viewers
	WHEPRamp    float64       `json:"whep_ramp"`    // WHEP viewers per second (default 20)
	Publish     bool          `json:"publish"`      // run the synthetic WHIP publisher (implied by WHEPViewers)
	Bitrate     int           `json:"bitrate"`      // publisher video bits per second (default 1.5 Mbit/s)
	Loopback    bool          `json:"loopback"`     // pion clients gather loopback candidates only
	ReconnectAt time.Duration `json:"reconnect_at"` // all viewers drop and reconnect this long into the run (0 = never)
	Drain       time.Duration `json:"drain"`        // wait after the run for in-flight events (default 2 s)
	Progress    time.Duration `json:"progress"`     // progress line interval (default 2 s; <0 = none)
}

func (s *Scenario) defaults() {
	if s.Dialers <= 0 {
		s.Dialers = 64
	}
	if s.WHEPRamp <= 0 {
		s.WHEPRamp = 20
	}
	if s.Bitrate <= 0 {
		s.Bitrate = 1_500_000
	}
	if s.Drain <= 0 {
		s.Drain = 2 * time.Second
	}
	if s.Progress == 0 {
		s.Progress = 2 * time.Second
	}
	if s.WHEPViewers > 0 {
		s.Publish = true
	}
	if s.ReconnectAt >= s.Duration && s.Duration > 0 {
		s.ReconnectAt = s.Duration * 2 / 5 // a shortened run still has its storm, with time to come back
	}
}

// Seekers is how many signed-in seeker accounts the scenario needs.
func (s Scenario) Seekers() int { return max(s.Chatters, s.Appliers) }

// Validate reports what cannot run.
func (s Scenario) Validate() error {
	var errs []error
	if s.URL == "" {
		errs = append(errs, errors.New("a server URL is required"))
	}
	if s.Duration <= 0 {
		errs = append(errs, errors.New("duration must be positive"))
	}
	if s.Viewers < 0 || s.Chatters < 0 || s.Appliers < 0 || s.WHEPViewers < 0 || s.ApplyBurst < 0 {
		errs = append(errs, errors.New("counts must not be negative"))
	}
	if s.Chatters > s.Viewers {
		errs = append(errs, fmt.Errorf("chatters (%d) are viewers too: at most %d", s.Chatters, s.Viewers))
	}
	if s.ChatRate > 0 && s.Chatters == 0 {
		errs = append(errs, errors.New("a chat rate needs chatters"))
	}
	if s.Chatters > 0 && s.ChatRate > float64(s.Chatters) {
		errs = append(errs, fmt.Errorf("chat rate %.1f/s exceeds one message per second per chatter (%d): the server would refuse them", s.ChatRate, s.Chatters))
	}
	if (s.ApplyRate > 0 || s.ApplyBurst > 0) && s.Appliers == 0 {
		errs = append(errs, errors.New("applies need appliers"))
	}
	return errors.Join(errs...)
}
