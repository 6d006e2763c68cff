// Package auth owns accounts and sign-in: registration, login and logout,
// the caller's own account, profile and applications (DESIGN.md §3).
//
// Passwords are hashed with argon2id (golang.org/x/crypto) behind a
// semaphore that caps concurrent hashing, so a login flood queues instead of
// exhausting memory. Session tokens are 32 random bytes from crypto/rand;
// only their SHA-256 is stored, with an expiry and a revocation time. A
// token travels in the HttpOnly, SameSite=Lax session cookie (browsers) or
// an Authorization: Bearer header (other clients).
//
// Service implements live.Sessions. Its Gin middlewares resolve the caller
// (Identify), refuse cross-origin unsafe requests (CSRF, Go's
// http.CrossOriginProtection with the configured trusted origins), and
// limit login and registration per client IP and per account (golang.org/x/
// time/rate in bounded maps, 429 with Retry-After).
package auth
