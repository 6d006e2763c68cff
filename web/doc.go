// Package web is jobcast's browser front end: plain ES modules, one CSS file
// and a handful of HTML pages, embedded in the binary with go:embed so the
// server needs no build step and no files on disk.
//
// Handler serves the pages (room list, watch page, host studio, employer
// dashboard, sign-in, profile, my applications) and the static assets under
// /static/, with content types, cache headers and a Content-Security-Policy
// that allows the page's own scripts, styles, media and same-origin
// connections only. The pages talk to the REST API (DESIGN.md §3), the room
// WebSocket (§5) and WHIP/WHEP (§4) from the browser; this package has no
// server-side logic of its own and imports nothing else from jobcast.
//
// The browser tests in this package (chromedp with Debian Chromium) load every
// page in English and Chinese, check the console, run axe-core and write
// screenshots; the story test drives a real jobcast server end to end.
package web
