package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jobcast/live"
	"jobcast/store"
)

// privateRedis is a redis-server of the test's own, on its own port, that
// the test may stop and start again.
type privateRedis struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is required under CI=true")
		}
		t.Skip("redis-server not installed")
	}
	r := &privateRedis{t: t, port: freePort(t, "tcp")}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *privateRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *privateRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
		if err == nil {
			fmt.Fprint(c, "PING\r\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatal("private redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *privateRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// feed is an employer's live applicant feed over the room channel, as the
// studio keeps it: application events as they come, and on every
// (re)connect a catch-up read of the applicants list from the database.
type feed struct {
	t       *testing.T
	wsURL   string
	api     string
	token   string
	org     live.OrgID
	room    live.RoomID
	mu      sync.Mutex
	viaWS   map[live.ApplicationID]bool
	viaREST map[live.ApplicationID]bool
	counts  map[live.JobID]int
	stop    chan struct{}
	done    chan struct{}
	seq     uint64 // last ordered event seen, for recovery on reconnect
	epoch   string
}

func (f *feed) run() {
	defer close(f.done)
	for {
		select {
		case <-f.stop:
			return
		default:
		}
		h := http.Header{"Authorization": {"Bearer " + f.token}}
		u := f.wsURL
		if f.epoch != "" {
			u += fmt.Sprintf("?since=%d&epoch=%s", f.seq, f.epoch)
		}
		c, _, err := websocket.DefaultDialer.Dial(u, h)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		f.catchUp()
		go func() { <-f.stop; c.Close() }()
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				break
			}
			for _, line := range bytes.Split(msg, []byte("\n")) {
				var ev live.Event
				if json.Unmarshal(line, &ev) != nil {
					continue
				}
				f.mu.Lock()
				if ev.Seq > 0 {
					f.seq = ev.Seq
				}
				switch ev.Type {
				case live.EvWelcome:
					var w struct {
						Seq      uint64             `json:"seq"`
						Epoch    string             `json:"epoch"`
						Snapshot *live.RoomSnapshot `json:"snapshot"`
					}
					_ = json.Unmarshal(ev.Data, &w)
					f.epoch = w.Epoch
					if w.Snapshot != nil { // not recovered: a fresh snapshot
						f.seq = w.Seq
						for _, card := range w.Snapshot.Shelf {
							f.counts[card.JobID] = max(f.counts[card.JobID], card.Applicants)
						}
					}
				case live.EvApplication:
					var d live.ApplicationData
					_ = json.Unmarshal(ev.Data, &d)
					f.viaWS[d.ApplicationID] = true
				case live.EvApplyCount:
					var d live.ApplyCountData
					_ = json.Unmarshal(ev.Data, &d)
					f.counts[d.JobID] = max(f.counts[d.JobID], d.Total)
				}
				f.mu.Unlock()
			}
		}
		c.Close()
	}
}

func (f *feed) catchUp() {
	req, _ := http.NewRequest("GET", f.api+"/api/orgs/"+string(f.org)+"/applications?limit=200&room="+string(f.room), nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer res.Body.Close()
	var out struct {
		Applications []live.Application `json:"applications"`
	}
	if json.NewDecoder(res.Body).Decode(&out) != nil {
		return
	}
	f.mu.Lock()
	for _, a := range out.Applications {
		f.viaREST[a.ID] = true
	}
	f.mu.Unlock()
}

// Redis stopped during 200 applies → all 200 stored and answered; when Redis
// is back the relay delivers every notification: the room's apply.count
// reaches 200 and the employer's feed holds all 200.
func TestApplyWhileRedisDown(t *testing.T) {
	rds := startPrivateRedis(t)
	cfg := testConfig(t)
	cfg.RedisURL = rds.url()
	cfg.AppliesPerMinute = 1000
	s := newSrvCfg(t, cfg, Options{RedisPrefix: "t" + string(live.NewID[live.RoomID]())[:8] + ":"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.app.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	f := seedFair(t, s.app.DB, 200, 1)
	fd := &feed{t: t, wsURL: "ws://" + ln.Addr().String() + "/api/rooms/" + string(f.room) + "/ws", api: base,
		token: f.host, org: f.org, room: f.room, viaWS: map[live.ApplicationID]bool{}, viaREST: map[live.ApplicationID]bool{},
		counts: map[live.JobID]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go fd.run()
	defer func() { close(fd.stop); <-fd.done }()
	time.Sleep(200 * time.Millisecond) // let the feed join before Redis goes

	rds.stop()
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	ids := make([]live.ApplicationID, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := applyCreated(base, f.room, f.jobs[0], f.tokens[i])
			if err != nil {
				errs <- err.Error()
				return
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("apply with Redis down: %s", e)
	}
	counts, err := s.app.DB.ApplicationCounts(context.Background(), f.jobs)
	if err != nil || counts[f.jobs[0]] != 200 {
		t.Fatalf("stored %v (%v), want 200", counts, err)
	}
	rds.start()
	deadline := time.Now().Add(45 * time.Second)
	for {
		fd.mu.Lock()
		got, ws, top := len(fd.viaREST), len(fd.viaWS), fd.counts[f.jobs[0]]
		all := 0
		for _, id := range ids {
			if fd.viaWS[id] || fd.viaREST[id] {
				all++
			}
		}
		fd.mu.Unlock()
		pending := pendingOutbox(t, s)
		if all == 200 && top == 200 && pending == 0 {
			t.Logf("after Redis returned: apply.count 200, %d via live events, %d via catch-up, outbox empty", ws, got)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Redis returned: feed has %d of 200 (ws %d), apply.count %d, outbox pending %d", all, ws, top, pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// applyCreated makes one one-tap apply as the seeker with token and
// returns the application's id; anything but 201 Created is an error.
func applyCreated(base string, room live.RoomID, job live.JobID, token string) (live.ApplicationID, error) {
	req, _ := http.NewRequest("POST", base+"/api/rooms/"+string(room)+"/jobs/"+string(job)+"/apply", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		Application live.Application `json:"application"`
	}
	_ = json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("status %d", res.StatusCode)
	}
	return out.Application.ID, nil
}

func pendingOutbox(t *testing.T, s *srv) int {
	n := 0
	_, err := s.app.DB.DeliverOutbox(context.Background(), 1000, func(items []store.OutboxItem) int { n = len(items); return 0 })
	if err != nil {
		t.Fatal(err)
	}
	return n
}
