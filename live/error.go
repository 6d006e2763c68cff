package live

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a user-facing failure. Transport layers map kinds to HTTP
// statuses (see Kind.Status) or to WebSocket error events and close codes.
type Kind int

const (
	KindInvalid         Kind = iota + 1 // 400: malformed or invalid input
	KindUnauthenticated                 // 401: not signed in
	KindForbidden                       // 403: signed in, not allowed
	KindNotFound                        // 404: unknown (or hidden) object
	KindConflict                        // 409: conflicts with current state
	KindTooLarge                        // 413: body or field too large
	KindUnsupported                     // 415: wrong media type
	KindInvalidState                    // 422: valid request, wrong state
	KindRateLimited                     // 429: slow down (RetryAfter set)
	KindUnavailable                     // 503: try again later
)

// Status returns the HTTP status code for the kind.
func (k Kind) Status() int {
	switch k {
	case KindInvalid:
		return 400
	case KindUnauthenticated:
		return 401
	case KindForbidden:
		return 403
	case KindNotFound:
		return 404
	case KindConflict:
		return 409
	case KindTooLarge:
		return 413
	case KindUnsupported:
		return 415
	case KindInvalidState:
		return 422
	case KindRateLimited:
		return 429
	case KindUnavailable:
		return 503
	}
	return 500
}

// Error is the one error type for failures a user should see. Code is a
// stable snake_case identifier ("profile_incomplete"), Message is human text.
// Fields optionally lists offending or missing fields. RetryAfter is set for
// KindRateLimited and KindUnavailable.
//
// Messages must never contain personal data (names, phones, emails, tokens).
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	Fields     []string
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Shorthands for the common kinds.

func Invalid(code, msg string) *Error { return &Error{Kind: KindInvalid, Code: code, Message: msg} }
func Unauthenticated() *Error {
	return &Error{Kind: KindUnauthenticated, Code: "unauthenticated", Message: "sign in first"}
}
func Forbidden(msg string) *Error {
	return &Error{Kind: KindForbidden, Code: "forbidden", Message: msg}
}
func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Code: "not_found", Message: what + " not found"}
}
func Conflict(code, msg string) *Error { return &Error{Kind: KindConflict, Code: code, Message: msg} }
func InvalidState(code, msg string) *Error {
	return &Error{Kind: KindInvalidState, Code: code, Message: msg}
}
func RateLimited(retry time.Duration) *Error {
	return &Error{Kind: KindRateLimited, Code: "rate_limited", Message: "too many requests, slow down", RetryAfter: retry}
}

// ErrNotFound is returned (wrapped or as is) by storage when a row does not
// exist. Handlers turn it into a NotFound *Error naming the object.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by storage when a unique constraint is violated.
var ErrConflict = errors.New("conflict")
