package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"jobcast/live"
)

// HashParams are argon2id parameters. The zero value means DefaultHash.
type HashParams struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultHash follows the OWASP minimum for argon2id (19 MiB, 2 passes).
var DefaultHash = HashParams{Time: 2, Memory: 19 * 1024, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// hasher hashes and verifies passwords, at most cap(sem) at a time.
type hasher struct {
	p   HashParams
	sem chan struct{}
}

func newHasher(p HashParams, concurrent int) *hasher {
	if p.Time == 0 || p.Memory == 0 || p.Threads == 0 {
		p = DefaultHash
	}
	if concurrent <= 0 {
		concurrent = 4
	}
	return &hasher{p: p, sem: make(chan struct{}, concurrent)}
}

// acquire waits for a hashing slot; it fails with 503 when ctx ends first.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &live.Error{Kind: live.KindUnavailable, Code: "busy", Message: "the server is busy, try again", RetryAfter: 1e9}
	}
}

func (h *hasher) release() { <-h.sem }

// hash returns a PHC-style string: $argon2id$v=19$m=…,t=…,p=…$salt$key.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, h.p.Time, h.p.Memory, h.p.Threads, keyLen)
	b64 := base64.RawStdEncoding.Strict() // one spelling per salt and key: no stray trailing bits
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.p.Memory, h.p.Time, h.p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("auth: malformed password hash")

// verify reports whether password matches encoded (constant-time compare).
func (h *hasher) verify(ctx context.Context, password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	var p HashParams
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version || parts[2] != fmt.Sprintf("v=%d", v) {
		return false, errBadHash
	}
	// Bounds keep one verification cheap whatever the stored string says
	// (at most 4 passes over 64 MiB): a corrupted or planted hash cannot turn
	// a login into a CPU or memory sink.
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads) ||
		p.Memory == 0 || p.Memory > 64<<10 || p.Time == 0 || p.Time > 4 || p.Threads == 0 || p.Threads > 4 {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding.Strict() // one spelling per salt and key: no stray trailing bits
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) > 64 {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errBadHash
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
