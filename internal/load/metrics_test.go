package load

import (
	"strings"
	"testing"
)

const sampleMetrics = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 123
go_memstats_next_gc_bytes 8.388608e+07
go_memstats_stack_inuse_bytes 1.048576e+06
go_gc_gogc_percent 100
go_gc_duration_seconds_count 7
go_gc_duration_seconds{quantile="0.5"} 0.0001
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.34
process_resident_memory_bytes 1.048576e+08
jobcast_chat_connections{node="a"} 5000
`

func TestParseMetrics(t *testing.T) {
	s, err := ParseMetrics(strings.NewReader(sampleMetrics))
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUSeconds != 12.34 || s.RSSBytes != 100<<20 || s.HeapBytes != 41<<20 || s.GCs != 7 || s.Goroutines != 123 {
		t.Errorf("parsed %+v", s)
	}
}

func TestParseMetricsWithoutProcessCollector(t *testing.T) {
	for _, text := range []string{"", "go_goroutines 5\n", "process_cpu_seconds_total 1\n", "<html>not metrics</html>"} {
		if _, err := ParseMetrics(strings.NewReader(text)); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
}
