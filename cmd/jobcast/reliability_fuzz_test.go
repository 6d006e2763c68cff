package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"jobcast/auth"
	"jobcast/store/storetest"
)

// FuzzJSONBodies sends each input as the JSON body of every unsafe REST
// route (as the admin, who may do everything, so the body reaches the
// handler) and checks: no panic, no 5xx, and every refusal in the JSON
// error shape. WHIP/WHEP bodies are SDP and fuzzed in signaling; logout
// is left out because it would end the session the fuzzer uses.
func FuzzJSONBodies(f *testing.F) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = f.TempDir()
	cfg.AdminEmails = []string{authzAdmin}
	big := auth.Limit{Every: time.Microsecond, Burst: 1 << 30}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	a, err := NewApp(ctx, cfg, Options{Logger: quietLog(), Hash: cheapHash, IPLimit: big, AccountLimit: big, LoopbackMedia: true})
	cancel()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Close(ctx)
	})
	h := a.Handler()
	do := func(method, path, token, body string) (int, string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	must := func(method, path, token, body string, want int) map[string]any {
		code, b := do(method, path, token, body)
		if code != want {
			f.Fatalf("%s %s: %d %s", method, path, code, b)
		}
		var out map[string]any
		_ = json.Unmarshal([]byte(b), &out)
		return out
	}
	admin := must("POST", "/api/auth/register", "", `{"email":"`+authzAdmin+`","password":"long enough","name":"A"}`, 201)["token"].(string)
	other := must("POST", "/api/auth/register", "", `{"email":"other@fuzz.test","password":"long enough","name":"O"}`, 201)["user"].(map[string]any)["id"].(string)
	org := must("POST", "/api/orgs", admin, `{"name":"Fuzz org"}`, 201)["org"].(map[string]any)["id"].(string)
	room := must("POST", "/api/rooms", admin, `{"title":"Fuzz","org_id":"`+org+`"}`, 201)["id"].(string)
	job := must("POST", "/api/orgs/"+org+"/jobs", admin, `{"title":"Welder"}`, 201)["id"].(string)

	rep := strings.NewReplacer(":room", room, ":org", org, ":job", job, ":user", other, ":seq", "1",
		":session", "00000000-0000-7000-8000-000000000001", ":id", "00000000-0000-7000-8000-000000000002")
	var routes [][2]string
	for _, r := range a.Engine.Routes() {
		switch r.Method {
		case "POST", "PUT", "PATCH", "DELETE":
		default:
			continue
		}
		if strings.Contains(r.Path, "/whip") || strings.Contains(r.Path, "/whep") || r.Path == "/api/auth/logout" {
			continue
		}
		routes = append(routes, [2]string{r.Method, rep.Replace(r.Path)})
	}
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"title":"x","org_id":"` + org + `"}`, `{"user_id":"` + other + `","seconds":60}`,
		`{"job_id":"` + job + `"}`, `{"status":"closed","salary_min":-1}`, `{"name":"` + strings.Repeat("é", 200) + `"}`,
		`{"email":"a@b.c","password":"` + strings.Repeat("x", 5000) + `"}`, `{"a":` + strings.Repeat("[", 5000) + `}`,
		`{"text":"\u0000\ud800"}`, `{"seconds":1e309}`, `{"to":"","text":"` + strings.Repeat("a", 70000) + `"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, r := range routes {
			code, b := do(r[0], r[1], admin, body)
			if code >= 500 {
				t.Fatalf("%s %s with %q: %d %s", r[0], r[1], body, code, b)
			}
			if code >= 400 {
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if json.Unmarshal([]byte(b), &e) != nil || e.Error.Code == "" {
					t.Fatalf("%s %s with %q: %d not in the error shape: %s", r[0], r[1], body, code, b)
				}
			}
		}
	})
}

// TestReliabilityCrashRuns repeats the crash durability run (crashRun:
// 1,000 applies from 50 clients, 3 SIGKILLs) RELIABILITY_CRASH_RUNS times
// on SQLite and then PostgreSQL; `make reliability` sets it (make test
// already runs one of each).
func TestReliabilityCrashRuns(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RELIABILITY_CRASH_RUNS"))
	if n <= 0 {
		t.Skip("set RELIABILITY_CRASH_RUNS (make reliability does)")
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			for i := range n {
				t.Run(strconv.Itoa(i), func(t *testing.T) {
					url := ""
					if engine == "postgres" {
						url = storetest.PostgresURL(t)
					}
					t0 := time.Now()
					crashRun(t, url, 50, 20, 3)
					t.Logf("run %d took %v", i, time.Since(t0).Round(time.Millisecond))
				})
			}
		})
	}
}
