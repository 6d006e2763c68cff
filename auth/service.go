package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"jobcast/internal/coalesce"
	"jobcast/internal/ratelimit"
	"jobcast/live"
	"jobcast/store"
)

// Config configures the Service. Zero fields take the defaults noted.
type Config struct {
	// AdminEmails are the accounts that get Identity.Admin (case-insensitive).
	AdminEmails []string
	// TrustedOrigins may send cookie-authenticated unsafe requests from
	// another origin (e.g. "https://jobs.example.org"). Same-origin requests
	// are always allowed.
	TrustedOrigins []string
	// SecureCookie sets the Secure flag on the session cookie (serve over HTTPS).
	SecureCookie bool
	// SessionTTL is how long a session lasts (default 30 days).
	SessionTTL time.Duration
	// Hash are the argon2id parameters (default DefaultHash).
	Hash HashParams
	// MaxConcurrentHashes caps simultaneous password hashing (default 4).
	MaxConcurrentHashes int
	// Per client IP and per account (email) limits on login and register.
	// Defaults: IP 1 every 3 s, burst 20; account 1 every 12 s, burst 5.
	IPLimit      Limit
	AccountLimit Limit
	// LimiterKeys bounds each limiter's key map (default 10000).
	LimiterKeys int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service implements accounts, sessions and the auth HTTP endpoints. Create
// it with New. Safe for concurrent use.
type Service struct {
	db      *store.DB
	cfg     Config
	admins  map[string]bool
	hasher  *hasher
	ipLim   *ratelimit.Keyed
	acctLim *ratelimit.Keyed
	csrf    *http.CrossOriginProtection
	// dummy is a valid hash checked when a login names an unknown account,
	// so that such a login costs as much as a real one.
	dummy string
	// sessions coalesces concurrent session lookups into one query each
	// batch (PostgreSQL only; nil: one query per lookup). Nothing is
	// cached: every request reads after it arrived, so a logout or
	// revocation refuses the very next request.
	sessions *coalesce.Reads[string, live.User]

	// OnLogout, if set, is called (synchronously, after the session is
	// revoked) with the user who signed out, e.g. to close their sockets.
	// Set it before serving; it must not block for long.
	OnLogout func(live.UserID)
}

var _ live.Sessions = (*Service)(nil)

// New builds the service. It returns an error for an invalid trusted origin.
func New(db *store.DB, cfg Config) (*Service, error) {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * 24 * time.Hour
	}
	if cfg.IPLimit == (Limit{}) {
		cfg.IPLimit = Limit{Every: 3 * time.Second, Burst: 20}
	}
	if cfg.AccountLimit == (Limit{}) {
		cfg.AccountLimit = Limit{Every: 12 * time.Second, Burst: 5}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{
		db:      db,
		cfg:     cfg,
		admins:  map[string]bool{},
		hasher:  newHasher(cfg.Hash, cfg.MaxConcurrentHashes),
		ipLim:   ratelimit.New(cfg.IPLimit, cfg.LimiterKeys),
		acctLim: ratelimit.New(cfg.AccountLimit, cfg.LimiterKeys),
		csrf:    http.NewCrossOriginProtection(),
	}
	if db != nil && db.Dialect() == store.Postgres {
		s.sessions = coalesce.New(4, 256, 10*time.Second, func(ctx context.Context, hashes []string) ([]coalesce.Result[live.User], error) {
			users, err := db.SessionUsers(ctx, hashes, s.cfg.Now())
			if err != nil {
				return nil, err
			}
			out := make([]coalesce.Result[live.User], len(hashes))
			for i, h := range hashes {
				u, ok := users[h]
				if !ok {
					out[i].Err = fmt.Errorf("session: %w", live.ErrNotFound)
				}
				out[i].Val = u
			}
			return out, nil
		})
	}
	for _, e := range cfg.AdminEmails {
		if e = store.NormalizeEmail(e); e != "" {
			s.admins[e] = true
		}
	}
	for _, o := range cfg.TrustedOrigins {
		if err := s.csrf.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("auth: trusted origin %q: %w", o, err)
		}
	}
	dummy, err := s.hasher.hash(context.Background(), "not a password")
	if err != nil {
		return nil, err
	}
	s.dummy = dummy
	return s, nil
}

// TokenHash is the stored form of a session token (hex SHA-256).
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// StreamKeyPrefix starts every room stream key (see package rooms). Session
// tokens never start with it, so a bearer token with this prefix is left for
// the WHIP handler to check as a stream key.
const StreamKeyPrefix = "sk_"

func newToken() (string, error) {
	for {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		t := base64.RawURLEncoding.EncodeToString(b[:])
		if !strings.HasPrefix(t, StreamKeyPrefix) {
			return t, nil
		}
	}
}

// maxTokenLen bounds what is hashed and looked up.
const maxTokenLen = 128

func invalidToken() *live.Error {
	return &live.Error{Kind: live.KindUnauthenticated, Code: "invalid_session", Message: "the session is unknown, expired or signed out; sign in again"}
}

// IdentifyToken implements live.Sessions: "" is the anonymous visitor; an
// unknown, expired or revoked token is an Unauthenticated *live.Error. It
// blocks for one database read (on PostgreSQL shared with the concurrent
// lookups, see Service.sessions).
func (s *Service) IdentifyToken(ctx context.Context, token string) (live.Identity, error) {
	if token == "" {
		return live.Identity{}, nil
	}
	if len(token) > maxTokenLen {
		return live.Identity{}, invalidToken()
	}
	var u live.User
	var err error
	if s.sessions != nil {
		u, err = s.sessions.Do(ctx, TokenHash(token))
	} else {
		u, err = s.db.SessionUser(ctx, TokenHash(token), s.cfg.Now())
	}
	if errors.Is(err, live.ErrNotFound) {
		return live.Identity{}, invalidToken()
	}
	if err != nil {
		return live.Identity{}, err
	}
	return s.identity(u), nil
}

func (s *Service) identity(u live.User) live.Identity {
	return live.Identity{UserID: u.ID, Name: u.Name, Admin: s.admins[store.NormalizeEmail(u.Email)]}
}

// startSession issues a new token for user.
func (s *Service) startSession(ctx context.Context, user live.UserID) (string, time.Time, error) {
	token, err := newToken()
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.cfg.Now().UTC()
	exp := now.Add(s.cfg.SessionTTL)
	if err := s.db.CreateSession(ctx, store.Session{TokenHash: TokenHash(token), UserID: user, CreatedAt: now, ExpiresAt: exp}); err != nil {
		return "", time.Time{}, err
	}
	return token, exp, nil
}

// register creates an account and its first session.
func (s *Service) register(ctx context.Context, email, password, name string) (live.User, string, time.Time, error) {
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return live.User{}, "", time.Time{}, err
	}
	u := live.User{ID: live.NewID[live.UserID](), Email: store.NormalizeEmail(email), Name: name,
		CreatedAt: s.cfg.Now().UTC().Truncate(time.Microsecond)}
	if err := s.db.CreateUser(ctx, u, hash); err != nil {
		if errors.Is(err, live.ErrConflict) {
			return live.User{}, "", time.Time{}, live.Conflict("email_taken", "an account with this email already exists; sign in instead")
		}
		return live.User{}, "", time.Time{}, err
	}
	u.Admin = s.admins[u.Email]
	token, exp, err := s.startSession(ctx, u.ID)
	return u, token, exp, err
}

func badCredentials() *live.Error {
	return &live.Error{Kind: live.KindUnauthenticated, Code: "invalid_credentials", Message: "wrong email or password"}
}

// login checks the password and starts a session.
func (s *Service) login(ctx context.Context, email, password string) (live.User, string, time.Time, error) {
	u, hash, err := s.db.UserByEmail(ctx, email)
	if errors.Is(err, live.ErrNotFound) {
		_, _ = s.hasher.verify(ctx, password, s.dummy)
		return live.User{}, "", time.Time{}, badCredentials()
	}
	if err != nil {
		return live.User{}, "", time.Time{}, err
	}
	ok, err := s.hasher.verify(ctx, password, hash)
	if err != nil {
		return live.User{}, "", time.Time{}, err
	}
	if !ok {
		return live.User{}, "", time.Time{}, badCredentials()
	}
	u.Admin = s.admins[store.NormalizeEmail(u.Email)]
	token, exp, err := s.startSession(ctx, u.ID)
	return u, token, exp, err
}

// logout revokes the session of token and tells OnLogout.
func (s *Service) logout(ctx context.Context, token string) error {
	user, err := s.db.RevokeSession(ctx, TokenHash(token), s.cfg.Now())
	if errors.Is(err, live.ErrNotFound) {
		return invalidToken()
	}
	if err != nil {
		return err
	}
	if s.OnLogout != nil {
		s.OnLogout(user)
	}
	return nil
}

// RunJanitor deletes sessions expired or revoked more than a day ago, once
// at start and then every interval, until ctx ends. It blocks; run it in a
// goroutine owned by the caller.
func (s *Service) RunJanitor(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.db.DeleteStaleSessions(ctx, s.cfg.Now().Add(-24*time.Hour))
		if err != nil && ctx.Err() == nil {
			slog.WarnContext(ctx, "deleting stale sessions failed", "err", err)
		} else if n > 0 {
			slog.InfoContext(ctx, "deleted stale sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func validEmail(e string) bool {
	if len(e) > 254 || len(e) < 3 || strings.ContainsAny(e, " \t\r\n<>,;\"") {
		return false
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.Count(e, "@") != 1 {
		return false
	}
	domain := e[at+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}
