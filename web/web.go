package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// Page URL prefixes and the HTML file each resolves to. A prefix ending in
// "/" matches every path below it (the page reads the id from location).
var pages = []struct {
	prefix string
	file   string
}{
	{"/rooms/", "watch.html"},
	{"/studio/", "studio.html"},
	{"/dashboard", "dashboard.html"},
	{"/signin", "signin.html"},
	{"/profile", "profile.html"},
	{"/me/applications", "applications.html"},
}

// asset is one embedded file, read once at start-up.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// site holds every embedded file by its name under static/.
type site struct {
	files map[string]asset
}

// contentTypes maps extensions to the types we serve; anything else is not
// served at all (nothing else is embedded on purpose).
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".json":  "application/json; charset=utf-8",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
}

func load() (*site, error) {
	s := &site{files: map[string]asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		s.files[strings.TrimPrefix(p, "static/")] = asset{
			body:        b,
			contentType: ct,
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		}
		return nil
	})
	return s, err
}

// Handler returns the front end's handler. It serves
//
//	/                     room list (index.html)
//	/rooms/<id>           watch page
//	/studio/<id>          host studio
//	/dashboard            employer dashboard
//	/signin               sign in / register
//	/profile              the seeker's profile
//	/me/applications      my applications
//	/static/<file>        scripts, styles and images
//	/favicon.ico          the site icon (browsers ask for it on their own)
//
// and answers 404 for anything else. HTML is sent with Cache-Control:
// no-cache, scripts and styles with a short public max-age, all with a strong
// ETag (If-None-Match gives 304). Every answer carries a
// Content-Security-Policy that allows the site's own scripts, styles and
// media and same-origin fetch/WebSocket connections only.
//
// The returned handler is safe for concurrent use; it does not block beyond
// writing the answer. It panics at start-up only if the embedded files
// cannot be read (a build error).
func Handler() http.Handler {
	s, err := load()
	if err != nil {
		panic("web: reading embedded files: " + err.Error())
	}
	return s
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, cache := s.resolve(r.URL.Path)
	a, ok := s.files[name]
	if name == "" || !ok {
		securityHeaders(w, r)
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	securityHeaders(w, r)
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", cache)
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// resolve maps a URL path to an embedded file name and its cache policy, or
// "" when nothing is served there.
func (s *site) resolve(p string) (string, string) {
	const htmlCache = "no-cache"
	const assetCache = "public, max-age=300"
	if p == "/" || p == "/index.html" {
		return "index.html", htmlCache
	}
	if p == "/favicon.ico" {
		return "img/icon.svg", assetCache
	}
	if rest, ok := strings.CutPrefix(p, "/static/"); ok {
		clean := path.Clean("/" + rest)[1:]
		if clean == "" || strings.HasSuffix(clean, ".html") || clean != rest {
			return "", ""
		}
		return clean, assetCache
	}
	for _, pg := range pages {
		if strings.HasSuffix(pg.prefix, "/") {
			if id, ok := strings.CutPrefix(p, pg.prefix); ok && id != "" && !strings.Contains(id, "/") {
				return pg.file, htmlCache
			}
			continue
		}
		if p == pg.prefix || p == pg.prefix+"/" {
			return pg.file, htmlCache
		}
	}
	return "", ""
}

// securityHeaders sets the Content-Security-Policy and its companions. The
// WebSocket origin is named explicitly because older browsers do not let
// 'self' cover ws:/wss:.
func securityHeaders(w http.ResponseWriter, r *http.Request) {
	ws := "ws://" + r.Host + " wss://" + r.Host
	if r.Host == "" || strings.ContainsAny(r.Host, " ;,'\"") {
		ws = ""
	}
	h := w.Header()
	h.Set("Content-Security-Policy", strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data: blob:",
		"media-src 'self' blob: mediastream:",
		"font-src 'self'",
		strings.TrimSpace("connect-src 'self' " + ws),
		"manifest-src 'self'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
		"object-src 'none'",
	}, "; "))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
}
