// Package browsertest starts headless Debian Chromium for Go tests through
// github.com/chromedp/chromedp, with the flags that make WebRTC work on a
// loopback-only machine (fake camera and microphone, loopback ICE, no mDNS
// candidates, no background throttling), a fresh profile per browser, and
// helpers to evaluate JavaScript and to wait for decoded video frames.
//
// It is test support: only _test.go files import it. A test calls New; when
// Chromium is absent the test is skipped, or fails when CI=true.
package browsertest
