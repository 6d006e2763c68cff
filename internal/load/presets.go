package load

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Presets are the scenarios at full size (issue 10). S6, time to
// first decoded frame in headless Chromium, is a browser test in package
// signaling (TestBrowserPublishAndPlay), not a load-tool scenario.
var Presets = map[string]Scenario{
	"s1": {Name: "S1 chat fan-out", Viewers: 5000, RampRate: 500, Chatters: 20, ChatRate: 10, Duration: 30 * time.Second},
	"s1b": {Name: "S1b chat fan-out, 10k", Viewers: 10000, RampRate: 500, Chatters: 20, ChatRate: 10,
		Duration: 30 * time.Second},
	"s2": {Name: "S2 idle memory and reconnect storm", Viewers: 10000, RampRate: 1000, PinEvery: 5 * time.Second,
		ReconnectAt: 10 * time.Second, Duration: 25 * time.Second},
	"s3": {Name: "S3 pin fan-out", Viewers: 5000, RampRate: 500, PinEvery: 2 * time.Second, Duration: 20 * time.Second},
	"s4": {Name: "S4 applies sustained and burst", Viewers: 100, RampRate: 100, Appliers: 5000, ApplyRate: 1000,
		ApplyBurst: 5000, Duration: 20 * time.Second},
	"s5": {Name: "S5 media viewers", WHEPViewers: 400, WHEPRamp: 20, Duration: 30 * time.Second},
	"smoke": {Name: "smoke", Viewers: 40, RampRate: 200, Chatters: 4, ChatRate: 4, PinEvery: 500 * time.Millisecond,
		Appliers: 10, ApplyRate: 10, ApplyBurst: 10, ApplyEvery: time.Second, Duration: 3 * time.Second},
}

// PresetNames lists the presets in order.
func PresetNames() []string {
	var n []string
	for k := range Presets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Preset returns the named scenario with every count and rate multiplied
// by scale (0 < scale ≤ 1 shrinks it for a small machine; the chat rate
// stays: it is per room, not per viewer).
func Preset(name string, scale float64) (Scenario, error) {
	s, ok := Presets[name]
	if !ok {
		return s, fmt.Errorf("unknown scenario %q (have %v)", name, PresetNames())
	}
	if scale <= 0 || scale == 1 {
		return s, nil
	}
	n := func(v int) int {
		if v == 0 {
			return 0
		}
		return max(1, int(math.Round(float64(v)*scale)))
	}
	s.Name = fmt.Sprintf("%s (×%g)", s.Name, scale)
	s.Viewers, s.Appliers, s.ApplyBurst, s.WHEPViewers = n(s.Viewers), n(s.Appliers), n(s.ApplyBurst), n(s.WHEPViewers)
	s.ApplyRate = math.Round(s.ApplyRate * scale)
	s.Chatters = min(s.Chatters, s.Viewers)
	return s, nil
}
