// Package advisor owns the career advisor's side of a job fair (职业指导):
// seekers' "I need help" requests, the advisor's view of a room's seekers
// (who asked for help, who has no application yet), private messages
// between an advisor and one seeker, follow-up notes with an outcome, and
// the host org's per-room report (counts only, JSON and CSV).
//
// Every read and write is checked on the server against the caller's room
// access (live.ActAdvise for advisor tools, live.ActViewRoomAll for the
// report) and scoped to that one room: an advisor of room A sees nothing of
// room B. Every advisor view of a seeker is written to the audit log. Live
// notices (help.requested, dm) carry ids only and go to one user through
// the live.Notifier's per-user path.
package advisor
