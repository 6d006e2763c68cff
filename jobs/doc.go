// Package jobs owns employers and their vacancies: orgs and members, jobs
// (create, read, update, open/closed), the public job search seekers use,
// and — built on the same store — a room's job shelf, pins, one-tap
// applications, applicant views and recommendations.
//
// Every handler checks on the server that the caller may act on the org the
// object belongs to: a recruiter of org B never reads or changes org A's
// jobs or members, whatever id it sends. API is safe for concurrent use.
package jobs
