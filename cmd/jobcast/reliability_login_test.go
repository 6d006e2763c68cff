package main

import (
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"jobcast/auth"
)

// TestReliabilityLoginAbuse: 1,000 wrong passwords on one account from one
// socket address with a spoofed, ever-changing X-Forwarded-For are limited
// (the header is not believed without a trusted proxy); the same 1,000 from
// 1,000 different addresses (a botnet) still reach the password check at
// most the account's burst plus refill; another account signs in meanwhile;
// and 20,000 distinct addresses (held by the account limit) keep the limiter's memory bounded.
func TestReliabilityLoginAbuse(t *testing.T) {
	cfg := testConfig(t)
	s := newSrvCfg(t, cfg, Options{
		IPLimit:      auth.Limit{Every: 3 * time.Second, Burst: 20}, // the production default
		AccountLimit: auth.Limit{Every: 12 * time.Second, Burst: 5}, // the production default
	})
	h := s.app.Handler()
	login := func(ip, xff, email, password string) int {
		r := httptest.NewRequest("POST", "/api/auth/login", strings.NewReader(`{"email":"`+email+`","password":"`+password+`"}`))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = ip + ":40000"
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
			r.Header.Set("X-Real-IP", xff)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == 429 && w.Header().Get("Retry-After") == "" {
			t.Fatalf("429 without Retry-After: %s", w.Body)
		}
		return w.Code
	}
	// register through the API from distinct addresses (registration is limited per IP too)
	reg := func(ip, email string) {
		r := httptest.NewRequest("POST", "/api/auth/register", strings.NewReader(`{"email":"`+email+`","password":"long enough","name":"N"}`))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = ip + ":40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 201 {
			t.Fatalf("register %s: %d %s", email, w.Code, w.Body)
		}
	}
	reg("10.9.0.1", "victim@login.test")
	reg("10.9.0.2", "bystander@login.test")

	// 1) one attacker address, spoofed X-Forwarded-For on every request
	codes := map[int]int{}
	for i := range 1000 {
		codes[login("10.1.0.1", fmt.Sprintf("203.0.%d.%d", i/256, i%256), "victim@login.test", fmt.Sprintf("wrong-%d", i))]++
	}
	checked := codes[401]
	if codes[429] < 990 || checked > 10 || codes[200] != 0 {
		t.Fatalf("spoofed X-Forwarded-For: %v — the header was believed or the limit is off", codes)
	}
	t.Logf("1,000 wrong passwords, one address, spoofed X-Forwarded-For: %v (password checks: %d)", codes, checked)

	// a legitimate user elsewhere is not affected
	if c := login("10.9.0.2", "", "bystander@login.test", "long enough"); c != 200 {
		t.Fatalf("bystander login during the attack: %d", c)
	}

	// 2) a botnet: 1,000 addresses, one wrong password each
	codes = map[int]int{}
	for i := range 1000 {
		codes[login(fmt.Sprintf("10.2.%d.%d", i/256, i%256), "", "victim@login.test", "wrong")]++
	}
	if codes[401] > 5 || codes[200] != 0 {
		t.Fatalf("1,000 addresses against one account: %v — more than the account's burst reached the password check", codes)
	}
	t.Logf("1,000 wrong passwords from 1,000 addresses: %v", codes)
	// the victim is held to the account limit (Retry-After ≤ 12 s) and
	// signs in again once a token refills.
	if c := login("10.9.0.1", "", "victim@login.test", "long enough"); c != 429 && c != 200 {
		t.Fatalf("victim during the attack: %d", c)
	}

	// 3) memory stays bounded: 20,000 distinct addresses
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 20000 {
		login(fmt.Sprintf("10.3.%d.%d", i/256, i%256), "", "victim@login.test", "wrong")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grow := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grow > 32<<20 {
		t.Fatalf("heap grew %d MiB over 20,000 addresses", grow>>20)
	}
	t.Logf("20,000 distinct addresses: heap %+d KiB (limiter keys are capped, LRU)", grow>>10)
	if c := login("10.9.0.2", "", "bystander@login.test", "long enough"); c != 200 {
		t.Fatalf("bystander login after the flood: %d", c)
	}
}
