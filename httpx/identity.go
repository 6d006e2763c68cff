package httpx

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"jobcast/live"
)

// SessionCookie is the name of the HttpOnly session cookie.
const SessionCookie = "jobcast_session"

// BearerToken returns the token of an "Authorization: Bearer" header, or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// CookieToken returns the session cookie's value, or "".
func CookieToken(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

const (
	identityKey  = "jobcast.identity"
	viaCookieKey = "jobcast.via_cookie"
	requestIDKey = "jobcast.request_id"
)

// SetIdentity records the caller for later handlers (the auth middleware
// calls it). viaCookie says the credentials came from the session cookie,
// which makes unsafe methods subject to CSRF checks.
func SetIdentity(c *gin.Context, id live.Identity, viaCookie bool) {
	c.Set(identityKey, id)
	c.Set(viaCookieKey, viaCookie)
}

// Identity returns the caller; the zero Identity for visitors.
func Identity(c *gin.Context) live.Identity {
	v, _ := c.Get(identityKey)
	id, _ := v.(live.Identity)
	return id
}

// ViaCookie reports whether the caller authenticated with the session cookie.
func ViaCookie(c *gin.Context) bool { return c.GetBool(viaCookieKey) }

// RequireUser returns the signed-in caller, or aborts with 401 and returns
// false.
func RequireUser(c *gin.Context) (live.Identity, bool) {
	id := Identity(c)
	if !id.SignedIn() {
		Fail(c, live.Unauthenticated())
		return id, false
	}
	return id, true
}

// SetRequestID records the request id (the request-id middleware calls it).
func SetRequestID(c *gin.Context, id string) { c.Set(requestIDKey, id) }

// RequestID returns the request id, or "".
func RequestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// Param parses a path parameter as a typed UUID id, aborting with 400 (and
// returning false) if it is not one.
func Param[T live.ID](c *gin.Context, name, what string) (T, bool) {
	id, err := live.ParseID[T](c.Param(name), what)
	if err != nil {
		Fail(c, err)
		return "", false
	}
	return id, true
}

// Bind decodes the JSON body into dst (strict, capped at MaxJSONBody),
// aborting with the error shape and returning false on failure.
func Bind(c *gin.Context, dst any) bool {
	if err := DecodeJSON(c.Request, dst, MaxJSONBody); err != nil {
		Fail(c, err)
		return false
	}
	return true
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
