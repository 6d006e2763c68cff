package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestHandlerRoutes(t *testing.T) {
	h := Handler()
	tests := []struct {
		name, method, path string
		status             int
		ctype, cache       string
		bodyHas            string
	}{
		{"room list", "GET", "/", 200, "text/html; charset=utf-8", "no-cache", `src="/static/js/pages/rooms.js"`},
		{"index alias", "GET", "/index.html", 200, "text/html; charset=utf-8", "no-cache", "rooms.js"},
		{"watch page", "GET", "/rooms/0193b1f0-0000-7000-8000-000000000001", 200, "text/html; charset=utf-8", "no-cache", "watch.js"},
		{"watch any id", "GET", "/rooms/anything", 200, "text/html; charset=utf-8", "no-cache", "watch.js"},
		{"studio", "GET", "/studio/abc", 200, "text/html; charset=utf-8", "no-cache", "studio.js"},
		{"dashboard", "GET", "/dashboard", 200, "text/html; charset=utf-8", "no-cache", "dashboard.js"},
		{"dashboard slash", "GET", "/dashboard/", 200, "text/html; charset=utf-8", "no-cache", "dashboard.js"},
		{"signin", "GET", "/signin", 200, "text/html; charset=utf-8", "no-cache", "signin.js"},
		{"profile", "GET", "/profile", 200, "text/html; charset=utf-8", "no-cache", "profile.js"},
		{"my applications", "GET", "/me/applications", 200, "text/html; charset=utf-8", "no-cache", "applications.js"},
		{"script", "GET", "/static/js/api.js", 200, "text/javascript; charset=utf-8", "public, max-age=300", "export class ApiError"},
		{"stylesheet", "GET", "/static/css/app.css", 200, "text/css; charset=utf-8", "public, max-age=300", ":root"},
		{"icon", "GET", "/static/img/icon.svg", 200, "image/svg+xml", "public, max-age=300", "<svg"},
		{"favicon", "GET", "/favicon.ico", 200, "image/svg+xml", "public, max-age=300", "<svg"},
		{"head", "HEAD", "/signin", 200, "text/html; charset=utf-8", "no-cache", ""},
		{"rooms without id", "GET", "/rooms/", 404, "", "", ""},
		{"nested room path", "GET", "/rooms/a/b", 404, "", "", ""},
		{"unknown page", "GET", "/nope", 404, "", "", ""},
		{"html under static", "GET", "/static/watch.html", 404, "", "", ""},
		{"traversal", "GET", "/static/../web.go", 404, "", "", ""},
		{"dot segments", "GET", "/static/js/../js/api.js", 404, "", "", ""},
		{"missing asset", "GET", "/static/js/nope.js", 404, "", "", ""},
		{"post", "POST", "/", 405, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.Host = "example.test:8080"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d", rec.Code, tc.status)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			if tc.status != 405 && !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("CSP = %q", csp)
			}
			if tc.status != 200 {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tc.ctype)
			}
			if got := rec.Header().Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.cache)
			}
			if rec.Header().Get("ETag") == "" {
				t.Error("no ETag")
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
			if !strings.Contains(rec.Body.String(), tc.bodyHas) {
				t.Errorf("body lacks %q", tc.bodyHas)
			}
		})
	}
}

func TestCSPAllowsOnlyOwnOrigin(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	req.Host = "127.0.0.1:8080"
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{
		"default-src 'none'", "script-src 'self'", "style-src 'self'",
		"media-src 'self' blob: mediastream:", "connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080",
		"frame-ancestors 'none'", "object-src 'none'",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %q: %s", want, csp)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP allows %q: %s", bad, csp)
		}
	}
	// A hostile Host header cannot inject directives.
	req = httptest.NewRequest("GET", "/", nil)
	req.Host = "evil; script-src *"
	rec = httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if csp := rec.Header().Get("Content-Security-Policy"); strings.Contains(csp, "evil") || strings.Contains(csp, "*") {
		t.Errorf("Host injected into CSP: %s", csp)
	}
}

func TestETagRevalidation(t *testing.T) {
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/static/js/api.js", nil))
	etag := rec.Header().Get("ETag")
	req := httptest.NewRequest("GET", "/static/js/api.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("status = %d, want 304", rec.Code)
	}
}

// No inline scripts, styles or event handlers: the CSP would block them.
func TestNoInlineCode(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\son[a-z]+=|style="|javascript:`)
	htmlUse := regexp.MustCompile(`\.innerHTML\s*=|insertAdjacentHTML|outerHTML\s*=|document\.write`)
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := staticFS.ReadFile(p)
		switch filepath.Ext(p) {
		case ".html":
			if m := inline.Find(b); m != nil {
				t.Errorf("%s: inline code %q", p, m)
			}
		case ".js":
			if m := htmlUse.Find(b); m != nil {
				t.Errorf("%s: builds HTML from strings (%q); use textContent", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var dictKey = regexp.MustCompile(`(?m)^\s*'([a-z0-9_.]+)':`)

func dictKeys(t *testing.T, file string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("static/js/strings", file))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, m := range dictKey.FindAllSubmatch(b, -1) {
		keys[string(m[1])] = true
	}
	if len(keys) < 100 {
		t.Fatalf("%s: only %d keys parsed", file, len(keys))
	}
	return keys
}

// Both dictionaries have the same keys, and every key named in markup or
// literally in the scripts exists. (Keys built at run time are checked by the
// browser tests through window.__i18nMissing.)
func TestTranslationsComplete(t *testing.T) {
	en, zh := dictKeys(t, "en.js"), dictKeys(t, "zh.js")
	for k := range en {
		if !zh[k] {
			t.Errorf("zh-CN lacks %q", k)
		}
	}
	for k := range zh {
		if !en[k] {
			t.Errorf("en lacks %q", k)
		}
	}
	markup := regexp.MustCompile(`data-i18n="([a-z0-9_.]+)"|data-i18n-attr="[a-z-]+:([a-z0-9_.]+)"`)
	script := regexp.MustCompile(`(?:i18n: |setText\([^,]+, |announce\(|showWaiting\(|chat\.notice\(|setAttr\([^,]+, '[a-z-]+', |\bt\(|titleKey|emptyKey|i18nAttrs: \{ '[a-z-]+': )'([a-z0-9_]+(?:\.[a-z0-9_]+)+)'`)
	used := map[string]bool{}
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "/strings/") {
			return err
		}
		b, _ := staticFS.ReadFile(p)
		if strings.HasSuffix(p, ".html") {
			for _, m := range markup.FindAllSubmatch(b, -1) {
				used[string(m[1])+string(m[2])] = true
			}
			return nil
		}
		for _, m := range script.FindAllSubmatch(b, -1) {
			used[string(m[1])] = true
		}
		return nil
	})
	if len(used) < 150 {
		t.Fatalf("only %d keys found in use; the scanner is broken", len(used))
	}
	var missing []string
	for k := range used {
		if !en[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("keys used but not translated: %v", missing)
	}
}

// Chinese strings must not be English left untranslated (a cheap check:
// long zh values must contain at least one CJK character).
func TestChineseIsChinese(t *testing.T) {
	b, err := os.ReadFile("static/js/strings/zh.js")
	if err != nil {
		t.Fatal(err)
	}
	entry := regexp.MustCompile(`(?m)^\s*'([a-z0-9_.]+)': '(.*)',$`)
	cjk := regexp.MustCompile(`\p{Han}`)
	n := 0
	for _, m := range entry.FindAllSubmatch(b, -1) {
		n++
		v := regexp.MustCompile(`\{\w+\}`).ReplaceAllString(string(m[2]), "")
		letters := regexp.MustCompile(`[A-Za-z]{4,}`).FindString(strings.NewReplacer("{", " ", "}", " ", "jobcast", "", "OBS", "", "WHIP", "", "Bearer Token", "", "CSV", "", "ID", "").Replace(v))
		if !cjk.MatchString(v) && letters != "" {
			t.Errorf("zh %s = %q looks untranslated", m[1], v)
		}
	}
	if n < 100 {
		t.Fatalf("parsed only %d zh entries", n)
	}
}
