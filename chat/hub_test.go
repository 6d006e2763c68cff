package chat

import (
	"testing"

	"jobcast/live"
)

func TestRing(t *testing.T) {
	r := newRing(3)
	if _, ok := r.since(0); ok {
		t.Fatal("empty ring covers")
	}
	for s := uint64(1); s <= 5; s++ {
		r.push(Publication{Seq: s, Type: live.EvChat})
	}
	got, ok := r.since(2)
	if !ok || len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Fatalf("since(2) = %+v %v", got, ok)
	}
	if _, ok := r.since(1); ok {
		t.Fatal("ring claims seq 2, which it dropped")
	}
	if got, ok := r.since(5); !ok || len(got) != 0 {
		t.Fatalf("since(top) = %v %v", got, ok)
	}
	r.replace(4, live.EvChatDeleted, []byte("tomb"))
	got, _ = r.since(3)
	if got[0].Type != live.EvChatDeleted || string(got[0].Data) != "tomb" {
		t.Fatalf("replace: %+v", got[0])
	}
	r.push(Publication{Seq: 9}) // a gap resets the ring
	if _, ok := r.since(5); ok {
		t.Fatal("ring kept a gap")
	}
	if got, ok := r.since(8); !ok || len(got) != 1 {
		t.Fatalf("after reset: %v %v", got, ok)
	}
}
