// Command jobcast is the one jobcast binary: HTTP API (Gin), accounts,
// orgs, jobs and rooms over SQLite (default) or PostgreSQL, plus — wired by
// the lead — the real-time channel and the WHIP/WHEP media server.
//
// Configuration comes from JOBCAST_* environment variables and matching
// flags (flags win); see README.md. The wiring lives in app.go (NewApp,
// Handler, Serve, Close) so tests start the whole server on :0; main.go only
// parses the configuration, runs the app and stops it on SIGINT/SIGTERM.
package main
