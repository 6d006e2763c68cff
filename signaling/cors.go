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

// preflight answers OPTIONS for an endpoint or session resource (methods)
// with the media type it accepts. On the WHIP/WHEP endpoints CORS also
// allows PATCH and DELETE (and exposes that list): clients such as
// @eyevinn/whip-web-client read Access-Control-Allow-Methods of an OPTIONS
// on the endpoint to learn whether their session will accept trickle ICE.
func (s *Server) preflight(methods, acceptHeader, acceptType string) gin.HandlerFunc {
	corsMethods := methods
	if acceptHeader == "Accept-Post" {
		corsMethods = strings.Replace(methods, "POST", "POST, PATCH, DELETE", 1)
	}
	return func(c *gin.Context) {
		s.cors(c)
		h := c.Writer.Header()
		h.Set("Allow", methods)
		h.Set(acceptHeader, acceptType)
		if c.GetHeader("Origin") != "" && s.originAllowed(c.GetHeader("Origin")) {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Expose-Headers", h.Get("Access-Control-Expose-Headers")+", Access-Control-Allow-Methods")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, ETag")
			h.Set("Access-Control-Max-Age", "600")
		}
		c.Status(204)
	}
}
