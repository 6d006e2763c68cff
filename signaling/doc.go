// Package signaling is jobcast's media half: WHIP ingest (RFC 9725) and WHEP
// playback over HTTP, and a small selective forwarding unit (SFU) on
// github.com/pion/webrtc/v4 that fans one publisher's audio and video out to
// every viewer of a room.
//
// What it owns:
//
//   - The HTTP surface (see Server.Register): POST/OPTIONS
//     /api/rooms/:room/whip, POST/HEAD/OPTIONS /api/rooms/:room/whep and the
//     session resources PATCH/DELETE/OPTIONS /api/rooms/:room/whip/:session
//     and /api/rooms/:room/whep/:session. Errors use the JSON shape of
//     DESIGN.md §3 (httpx); success bodies are SDP.
//   - The SFU: per room one forwarder per media kind; the publisher's track
//     is read by one goroutine that rewrites sequence numbers and timestamps
//     (so a reconnecting publisher is seamless for viewers), strips the
//     publisher's header extensions and hands each packet to a few shard
//     goroutines, each owning one TrackLocalStaticRTP bound to a subset of
//     the viewers, so one track's fan-out uses every core; packets leave in
//     sendmmsg batches. Viewers have no interceptors and no goroutines of
//     ours: their RTCP is pushed to per-viewer handlers (rtcpsink.go) where
//     PLI/FIR and viewer joins become one throttled PLI upstream and NACKs
//     are answered from one recent-packet buffer per room stream; one loop
//     per server sends every viewer its sender reports.
//   - ICE networking: all media on one UDP port (ICE UDP mux) plus ICE-TCP on
//     one TCP port, optional NAT 1:1 public IPs, STUN/TURN servers advertised
//     to clients in Link headers.
//   - The media-node Registry (room → URL of the node hosting its
//     publisher) with a memory and a Redis implementation; a request reaching
//     a node that does not host the room is redirected (307) to the one that
//     does.
//
// Rooms and identities come from the live.Rooms and live.Sessions ports; the
// package never touches storage and never imports chat, jobs or auth.
package signaling
