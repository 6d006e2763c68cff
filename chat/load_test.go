package chat

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"jobcast/live"
)

// TestChatFanoutLoad is the fan-out load driver (skipped unless
// JOBCAST_CHAT_LOAD is set): one node serving one room through real Redis,
// JOBCAST_CHAT_LOAD WebSocket viewers in a child process (so the server's
// memory and CPU are measured alone), and a second broker ("another node")
// publishing JOBCAST_CHAT_LOAD_RATE events/s (default 10) for
// JOBCAST_CHAT_LOAD_SECONDS (default 10). It reports delivered events/s,
// lost events, publish→receipt latency p50/p99, server CPU, and server
// memory per idle connection. See docs/benchmarks.md.
//
//	JOBCAST_CHAT_LOAD=1000 go test -run TestChatFanoutLoad -v -timeout 10m ./chat/
func TestChatFanoutLoad(t *testing.T) {
	if os.Getenv("JOBCAST_CHAT_LOAD_ROLE") == "client" {
		loadClients(t)
		return
	}
	n, _ := strconv.Atoi(os.Getenv("JOBCAST_CHAT_LOAD"))
	if n <= 0 {
		t.Skip("set JOBCAST_CHAT_LOAD=<viewers> to run the fan-out load driver")
	}
	rate := envInt("JOBCAST_CHAT_LOAD_RATE", 10)
	secs := envInt("JOBCAST_CHAT_LOAD_SECONDS", 10)
	total := rate * secs

	rdb, prefix := testRedis(t)
	w := newWorld()
	node := startNode(t, w, NewRedisBroker(rdb, RedisOptions{Prefix: prefix, Log: quietLog()}),
		Config{PresenceInterval: time.Second}, nil)
	publisher := NewRedisBroker(rdb, RedisOptions{Prefix: prefix, Log: quietLog()})

	heap0, rss0 := serverMemory()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChatFanoutLoad$", "-test.timeout=30m")
	cmd.Env = append(os.Environ(), "JOBCAST_CHAT_LOAD_ROLE=client",
		"JOBCAST_CHAT_LOAD_URL="+node.wsURL(w.room, ""),
		"JOBCAST_CHAT_LOAD_N="+strconv.Itoa(n), "JOBCAST_CHAT_LOAD_TOTAL="+strconv.Itoa(total))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(out)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	readLine := func(prefix string) string {
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, prefix) {
				return strings.TrimPrefix(l, prefix)
			}
		}
		t.Fatalf("client process ended before %q", prefix)
		return ""
	}
	connectTime := readLine("LOAD-READY ")
	eventually(t, 30*time.Second, "all viewers joined", func() bool {
		node.svc.hubsMu.Lock()
		defer node.svc.hubsMu.Unlock()
		h := node.svc.hubs[w.room]
		return h != nil && h.local.Load() == int64(n)
	})
	time.Sleep(2 * time.Second) // let the connections go idle
	heap1, rss1 := serverMemory()
	perConn := float64(heap1-heap0) / float64(n)
	perConnRSS := float64(rss1-rss0) / float64(n)

	cpu0 := cpuTime()
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	for i := 0; i < total; i++ {
		<-tick.C
		data := fmt.Sprintf(`{"job_id":"load","total":%d,"sent":%d}`, i, time.Now().UnixNano())
		tail, _ := encodeTail(time.Now(), []byte(data))
		if _, err := publisher.Publish(context.Background(), w.room, live.EvApplyCount, tail); err != nil {
			t.Fatal(err)
		}
	}
	tick.Stop()
	result := readLine("LOAD-RESULT ")
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	var r loadResult
	if err := json.Unmarshal([]byte(result), &r); err != nil {
		t.Fatal(err)
	}
	_, rssPeak := serverMemory()
	t.Logf("viewers=%d events=%d rate=%d/s connect=%s", n, total, rate, connectTime)
	t.Logf("delivered=%d (%.0f events/s) lost=%d p50=%.1fms p99=%.1fms max=%.1fms",
		r.Delivered, float64(r.Delivered)/elapsed.Seconds(), int64(n*total)-r.Delivered, r.P50, r.P99, r.Max)
	t.Logf("server CPU %.1f%% of one core while publishing; server heap+stacks per idle connection %.1f KiB, RSS per connection %.1f KiB, RSS %d MiB",
		100*cpu.Seconds()/elapsed.Seconds(), perConn/1024, perConnRSS/1024, rssPeak>>20)
}

type loadResult struct {
	Delivered int64   `json:"delivered"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	Max       float64 `json:"max_ms"`
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// serverMemory returns live heap plus goroutine stacks after a GC, and RSS.
func serverMemory() (uint64, uint64) {
	for range 4 { // stacks shrink by half per GC when mostly unused
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	var rss uint64
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				f := strings.Fields(l)
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				rss = kb << 10
			}
		}
	}
	if os.Getenv("JOBCAST_CHAT_LOAD_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "heap=%d stacks=%d goroutines=%d\n", m.HeapAlloc, m.StackInuse, runtime.NumGoroutine())
	}
	return m.HeapAlloc + m.StackInuse, rss
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadClients is the child process: N viewers that record publish→receipt
// latency of every apply.count event.
func loadClients(t *testing.T) {
	url := os.Getenv("JOBCAST_CHAT_LOAD_URL")
	n := envInt("JOBCAST_CHAT_LOAD_N", 1)
	total := envInt("JOBCAST_CHAT_LOAD_TOTAL", 1)
	started := time.Now()
	conns := make([]*client, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for attempt := 0; ; attempt++ {
				ws, _, err := dialer().Dial(url, nil)
				if err == nil {
					conns[i] = &client{t: t, ws: ws}
					return
				}
				if attempt > 20 {
					t.Errorf("dial: %v", err)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("LOAD-READY %s\n", time.Since(started).Round(time.Millisecond))
	lat := make([][]float64, n)
	var mu sync.Mutex
	var delivered int64
	for i, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := 0
			deadline := time.Now().Add(time.Duration(total)*time.Second/5 + 60*time.Second)
			for got < total {
				_ = c.ws.SetReadDeadline(deadline)
				_, data, err := c.ws.ReadMessage()
				if err != nil {
					return
				}
				now := time.Now().UnixNano()
				for _, line := range strings.Split(string(data), "\n") {
					j := strings.Index(line, `"sent":`)
					if j < 0 || !strings.HasPrefix(line, `{"type":"apply.count"`) {
						continue
					}
					sent, _ := strconv.ParseInt(strings.TrimRight(line[j+7:], "}"), 10, 64)
					lat[i] = append(lat[i], float64(now-sent)/1e6)
					got++
				}
			}
			mu.Lock()
			delivered += int64(got)
			mu.Unlock()
			c.ws.Close()
		}()
	}
	wg.Wait()
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	b, _ := json.Marshal(loadResult{Delivered: delivered, P50: pct(0.50), P99: pct(0.99), Max: pct(1)})
	fmt.Printf("LOAD-RESULT %s\n", b)
}
