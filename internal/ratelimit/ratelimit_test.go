package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestKeyed(t *testing.T) {
	k := New(Limit{Every: time.Second, Burst: 3}, 100)
	now := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _ := k.Allow("a", now); !ok {
			t.Fatalf("burst token %d refused", i)
		}
	}
	ok, retry := k.Allow("a", now)
	if ok || retry <= 0 || retry > time.Second {
		t.Fatalf("4th call: ok=%v retry=%v, want refused with retry ≤ 1s", ok, retry)
	}
	if ok, _ := k.Allow("b", now); !ok {
		t.Fatal("another key is limited by a's bucket")
	}
	if ok, _ := k.Allow("a", now.Add(time.Second)); !ok {
		t.Fatal("token not refilled after 1s")
	}
}

func TestKeyedBounded(t *testing.T) {
	k := New(Limit{Every: time.Minute, Burst: 1}, 50)
	now := time.Unix(1000, 0)
	for i := range 10_000 {
		k.Allow(fmt.Sprint(i), now)
	}
	if k.Size() != 50 {
		t.Fatalf("size = %d, want bounded at 50", k.Size())
	}
}

func TestZeroLimitAllows(t *testing.T) {
	var k *Keyed
	if ok, _ := k.Allow("x", time.Now()); !ok {
		t.Fatal("nil limiter refused")
	}
	if ok, _ := New(Limit{}, 1).Allow("x", time.Now()); !ok {
		t.Fatal("zero limit refused")
	}
}
