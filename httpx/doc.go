// Package httpx holds the HTTP conventions every jobcast transport shares:
// the error JSON shape of DESIGN.md §3, strict JSON decoding with a size cap,
// where a request's credentials come from, and the caller's identity in a Gin
// context. It imports live and Gin only; feature packages import it, it
// imports none of them.
package httpx
