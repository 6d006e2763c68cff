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
	HeapBytes  float64
	Goroutines float64
}

// ParseMetrics reads Prometheus text exposition and picks the process and
// Go runtime figures. It fails when process_cpu_seconds_total or
// process_resident_memory_bytes is missing (the process collector is not
// registered, or the URL is not a jobcast /metrics).
func ParseMetrics(r io.Reader) (ServerSample, error) {
	var s ServerSample
	var haveCPU, haveRSS bool
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
		case "go_memstats_heap_inuse_bytes":
			s.HeapBytes = v
		case "go_goroutines":
			s.Goroutines = v
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("reading metrics: %w", err)
	}
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
