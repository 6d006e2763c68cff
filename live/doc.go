// Package live is the domain root of jobcast: the nouns of a live job
// broadcast (users, orgs, jobs, rooms, applications), who may do what in a
// room, the room lifecycle, the events that flow to viewers and the one
// user-facing error type.
//
// live imports only the standard library and github.com/google/uuid. Every
// other package (chat, signaling, jobs, auth, store, ...) imports live; live
// imports none of them. Cross-package needs are expressed as small ports
// (interfaces) here, implemented elsewhere and wired in cmd/jobcast.
package live
