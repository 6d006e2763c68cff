package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ServerSample is one reading of the server's /metrics: the process
// collector's CPU seconds and resident memory, and the Go heap in use.
type ServerSample struct {
	At         time.Time
	CPUSeconds float64
	RSSBytes   float64
	HeapBytes  float64 // live heap at the last GC (next_gc / (1+GOGC/100)) plus goroutine stacks
	Goroutines float64
	GCs        float64 // completed GC cycles
}

// ParseMetrics reads Prometheus text exposition and picks the process and
// Go runtime figures. It fails when process_cpu_seconds_total or
// process_resident_memory_bytes is missing (the process collector is not
// registered, or the URL is not a jobcast /metrics).
func ParseMetrics(r io.Reader) (ServerSample, error) {
	var s ServerSample
	var haveCPU, haveRSS bool
	var nextGC, stacks float64
	gogc := 100.0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue // labelled series are not needed
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			s.CPUSeconds, haveCPU = v, true
		case "process_resident_memory_bytes":
			s.RSSBytes, haveRSS = v, true
		case "go_memstats_next_gc_bytes":
			nextGC = v
		case "go_memstats_stack_inuse_bytes":
			stacks = v
		case "go_gc_gogc_percent":
			if v > 0 {
				gogc = v
			}
		case "go_gc_duration_seconds_count":
			s.GCs = v
		case "go_goroutines":
			s.Goroutines = v
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("reading metrics: %w", err)
	}
	s.HeapBytes = nextGC/(1+gogc/100) + stacks
	if !haveCPU || !haveRSS {
		return s, fmt.Errorf("metrics: process_cpu_seconds_total or process_resident_memory_bytes missing")
	}
	return s, nil
}

// Scrape fetches base+"/metrics" and parses it. It blocks for one HTTP
// round trip bounded by ctx.
func Scrape(ctx context.Context, c *http.Client, base string) (ServerSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/metrics", nil)
	if err != nil {
		return ServerSample{}, err
	}
	res, err := c.Do(req)
	if err != nil {
		return ServerSample{}, fmt.Errorf("scraping metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return ServerSample{}, fmt.Errorf("scraping metrics: status %d", res.StatusCode)
	}
	s, err := ParseMetrics(res.Body)
	s.At = time.Now()
	return s, err
}
