// Package load is the engine of jobcast-load: it simulates a job fair
// against a running jobcast node — WebSocket viewers ramped in, chatters,
// a host pinning cards, seekers applying in bursts, a WHIP publisher with a
// synthetic VP8+Opus source and pion WHEP viewers — and reports what the
// clients saw (deliveries, loss and duplicates by seq, latencies, WHEP
// first-packet time and loss) next to what the server spent (CPU seconds
// and RSS read from its /metrics).
//
// Files: scenario.go (what to run), runner.go (Run), viewer.go (WebSocket
// clients and seq accounting), api.go (REST client), seed.go (accounts
// written straight into the store), media.go (synthetic source, WHIP
// publisher), whep.go (WHEP viewers), stats.go (histograms, seq tracker),
// metrics.go (/metrics parsing), report.go (text and JSON report),
// spawn.go (start a jobcast binary for `make bench` and tests).
package load
