package load

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestReportJSONAndText(t *testing.T) {
	r := &Report{Scenario: Scenario{Name: "t", Viewers: 10, Chatters: 2, ChatRate: 1, WHEPViewers: 1, ReconnectAt: time.Second},
		Started: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), Machine: machine(), Seconds: 5}
	r.Connections.Connected = 10
	r.Events.Delivered, r.Events.Lost, r.Events.Duplicated = 100, 1, 2
	var h Histogram
	h.Record(10 * time.Millisecond)
	r.Chat.Latency = h.Summary()
	r.Apply.Outcomes = map[string]int64{"created": 3}
	r.Server.CPUSeconds, r.Server.RSSPerViewerKiB = 1.5, 12.5
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	ev := m["events"].(map[string]any)
	if ev["delivered"].(float64) != 100 || ev["lost"].(float64) != 1 || ev["duplicated"].(float64) != 2 {
		t.Errorf("events %v", ev)
	}
	if lat := m["chat"].(map[string]any)["latency"].(map[string]any); lat["p99_ms"].(float64) < 9.8 {
		t.Errorf("chat latency %v", lat)
	}
	srv := m["server"].(map[string]any)
	if srv["cpu_seconds"].(float64) != 1.5 || srv["rss_per_viewer_kib"].(float64) != 12.5 {
		t.Errorf("server %v", srv)
	}
	b.Reset()
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"100 delivered, 1 lost, 2 duplicated", "publish→receipt p50 10.0 ms", "created:3", "whep:", "reconnect:", "1.5 CPU s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestScenarioValidate(t *testing.T) {
	ok := Scenario{URL: "http://x", Duration: time.Second, Viewers: 10, Chatters: 5, ChatRate: 5}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]Scenario{
		"no url":               {Duration: time.Second},
		"chat faster than 1/s": {URL: "u", Duration: time.Second, Viewers: 10, Chatters: 2, ChatRate: 5},
		"chatters > viewers":   {URL: "u", Duration: time.Second, Viewers: 1, Chatters: 2, ChatRate: 1},
		"applies no appliers":  {URL: "u", Duration: time.Second, ApplyRate: 3},
	}
	for name, s := range bad {
		if s.Validate() == nil {
			t.Errorf("%s: valid", name)
		}
	}
	for _, n := range PresetNames() {
		s, err := Preset(n, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		s.URL = "http://x"
		if err := s.Validate(); err != nil {
			t.Errorf("preset %s ×0.1: %v", n, err)
		}
	}
}
