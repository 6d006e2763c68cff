package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHasher(t *testing.T) {
	h := newHasher(HashParams{Time: 1, Memory: 1024, Threads: 1}, 2)
	enc, err := h.hash(context.Background(), "s3cret pass")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"s3cret pass", true}, {"s3cret pasS", false}, {"", false}} {
		if ok, err := h.verify(context.Background(), tc.pw, enc); err != nil || ok != tc.want {
			t.Errorf("verify(%q) = %v, %v", tc.pw, ok, err)
		}
	}
	for _, bad := range []string{"", "$argon2id$v=19$m=1,t=1,p=1$$", "$bcrypt$x", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA"} {
		if _, err := h.verify(context.Background(), "x", bad); err == nil {
			t.Errorf("verify accepted malformed hash %q", bad)
		}
	}
}

func TestHasherCapsConcurrency(t *testing.T) {
	h := newHasher(HashParams{Time: 1, Memory: 1024, Threads: 1}, 1)
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.hash(ctx, "password"); err == nil {
		t.Fatal("hash ran past a full semaphore")
	}
	h.release()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.hash(context.Background(), "password"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// FuzzVerify: malformed stored hashes never panic and never verify.
func FuzzVerify(f *testing.F) {
	h := newHasher(HashParams{Time: 1, Memory: 64, Threads: 1}, 2)
	good, _ := h.hash(context.Background(), "pw")
	for _, s := range []string{good, "", "$argon2id$", "$argon2id$v=19$m=64,t=1,p=1$AAAA$", "$argon2id$v=19$m=0,t=0,p=0$$",
		"$argon2id$v=18$m=64,t=1,p=1$AAAAAAAA$AAAAAAAA", "$argon2i$v=19$m=64,t=1,p=1$AAAAAAAA$AAAAAAAA"} {
		f.Add(s, "pw")
	}
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		ok, err := h.verify(context.Background(), pw, encoded)
		if ok && err != nil {
			t.Fatal("ok with an error")
		}
		if ok && encoded != good && pw == "pw" && !strings.HasPrefix(encoded, "$argon2id$v=19$") {
			t.Fatalf("verified a malformed hash %q", encoded)
		}
	})
}

// A stored hash verifies only in its one canonical spelling: not behind a
// prefix, not with a key whose base64 differs in its unused trailing bits
// (both found by FuzzVerify).
func TestVerifyCanonicalOnly(t *testing.T) {
	h := newHasher(HashParams{Time: 1, Memory: 64, Threads: 1}, 2)
	good, err := h.hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.verify(context.Background(), "pw", good); !ok || err != nil {
		t.Fatalf("the good hash: %v %v", ok, err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	last := strings.IndexByte(alphabet, good[len(good)-1])
	tweaked := good[:len(good)-1] + string(alphabet[last^1]) // the same bytes to a lax decoder
	for _, bad := range []string{"0" + good, tweaked} {
		if ok, _ := h.verify(context.Background(), "pw", bad); ok {
			t.Errorf("verified %q", bad)
		}
	}
}
