package signaling

import (
	"strings"

	"github.com/gin-gonic/gin"
)

// cors sets the CORS answer headers for allowed origins. Requests without
// an Origin header (OBS, GStreamer, same-origin GETs) need none. Credentials
// are allowed so the watch page may send its session cookie; since
// application/sdp is not a CORS-safelisted type, every cross-origin POST is
// preflighted, which is what keeps cookie-authenticated WHEP safe from CSRF.
func (s *Server) cors(c *gin.Context) {
	origin := c.GetHeader("Origin")
	h := c.Writer.Header()
	h.Add("Vary", "Origin")
	if origin == "" || !s.originAllowed(origin) {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Expose-Headers", "Location, Link, ETag, Accept-Post, Accept-Patch, Retry-After")
}

func (s *Server) originAllowed(origin string) bool {
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// preflight answers OPTIONS for an endpoint (methods) with the media type it
// accepts.
func (s *Server) preflight(methods, acceptHeader, acceptType string) gin.HandlerFunc {
	return func(c *gin.Context) {
		s.cors(c)
		h := c.Writer.Header()
		h.Set("Allow", methods)
		h.Set(acceptHeader, acceptType)
		if c.GetHeader("Origin") != "" && s.originAllowed(c.GetHeader("Origin")) {
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
			h.Set("Access-Control-Max-Age", "600")
		}
		c.Status(204)
	}
}
