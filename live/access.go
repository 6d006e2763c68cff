package live

import "time"

// Role is a user's strongest role in one room, for display and for the
// welcome event. Permission checks use RoomAccess.Can, not Role.
type Role string

const (
	RoleVisitor   Role = "visitor"
	RoleSeeker    Role = "seeker"
	RoleExhibitor Role = "exhibitor"
	RoleAdvisor   Role = "advisor"
	RoleModerator Role = "moderator"
	RoleHost      Role = "host"
	RoleAdmin     Role = "admin"
)

// RoomAccess is what one identity is in one room. It is loaded from storage
// on every action (never trusted from a client) by the room's node.
type RoomAccess struct {
	Identity   Identity
	Host       bool      // member of the org that owns the room
	Moderator  bool      // assigned moderator of this room
	Advisor    bool      // assigned career advisor of this room
	Exhibitors []OrgID   // exhibitor orgs of this room the user is a member of
	Banned     bool      // banned from this room
	MutedUntil time.Time // chat time-out; zero = not muted
	// ProfileComplete is set for signed-in users (chat mode profile_complete).
	ProfileComplete bool
	// MemberOf lists every org the user is a member of (for the employer's
	// applicant feed: events for org X go to connections whose user is in X).
	MemberOf []OrgID
}

// Role returns the strongest role.
func (a RoomAccess) Role() Role {
	switch {
	case a.Identity.Admin:
		return RoleAdmin
	case a.Host:
		return RoleHost
	case a.Moderator:
		return RoleModerator
	case a.Advisor:
		return RoleAdvisor
	case len(a.Exhibitors) > 0:
		return RoleExhibitor
	case a.Identity.SignedIn():
		return RoleSeeker
	}
	return RoleVisitor
}

// Action is something done in a room.
type Action string

const (
	ActWatch       Action = "watch"        // WHEP, read chat
	ActChat        Action = "chat"         // send a chat message (mode checked separately)
	ActApply       Action = "apply"        // one-tap apply
	ActPublish     Action = "publish"      // WHIP with a user token
	ActStreamKey   Action = "stream_key"   // read or rotate the stream key
	ActManageStaff Action = "manage_staff" // assign moderators, advisors, exhibitors
	ActShelf       Action = "shelf"        // put jobs on / take off the shelf (own org's jobs for exhibitors)
	ActPin         Action = "pin"          // pin/unpin a shelved job (own org's for exhibitors)
	ActModerate    Action = "moderate"     // delete, mute, ban, settings, held queue
	ActAudit       Action = "audit"        // read the audit log
	ActEnd         Action = "end"          // end the room
	ActAdvise      Action = "advise"       // see seekers, DM, follow-ups
	ActViewRoomAll Action = "room_stats"   // counts for every job of the fair
)

// Can reports whether the identity may perform act in the room. Banned users
// may do nothing but are still told so by the caller; per-object rules
// (exhibitors touch only their own org's jobs, moderators cannot act on the
// host) are checked by CanTouchJob and CanModerate.
func (a RoomAccess) Can(act Action) bool {
	if a.Identity.Admin {
		return true
	}
	if a.Banned && !a.Host {
		return false
	}
	switch act {
	case ActWatch:
		return true
	case ActChat, ActApply:
		return a.Identity.SignedIn()
	case ActPublish, ActStreamKey, ActManageStaff, ActViewRoomAll:
		return a.Host
	case ActShelf, ActPin:
		return a.Host || a.Moderator || len(a.Exhibitors) > 0
	case ActModerate, ActAudit, ActEnd:
		return a.Host || a.Moderator
	case ActAdvise:
		return a.Host || a.Advisor
	}
	return false
}

// CanTouchJob reports whether the identity may shelve or pin a job owned by
// jobOrg in this room: host, moderators and admins any job of the room's
// host org or its exhibitors; an exhibitor only its own org's jobs. hostOrg
// and exhibitorOrgs describe the room.
func (a RoomAccess) CanTouchJob(jobOrg, hostOrg OrgID, exhibitorOrgs []OrgID) bool {
	inRoom := jobOrg == hostOrg || contains(exhibitorOrgs, jobOrg)
	if !inRoom {
		return false
	}
	if a.Identity.Admin || a.Host || a.Moderator {
		return true
	}
	return contains(a.Exhibitors, jobOrg)
}

// CanModerate reports whether the actor may act (mute, ban, delete a message
// of) the target. Nobody moderates the host or an admin; moderators do not
// moderate each other (only the host or an admin may).
func (a RoomAccess) CanModerate(target RoomAccess) bool {
	if !a.Can(ActModerate) {
		return false
	}
	if target.Identity.Admin || target.Host {
		return false
	}
	if target.Moderator && !(a.Host || a.Identity.Admin) {
		return false
	}
	return target.Identity.UserID != a.Identity.UserID
}

// CanChat reports whether the identity may post in a room with the given
// settings right now, and if not, the error to show.
func (a RoomAccess) CanChat(s RoomSettings, now time.Time) error {
	if !a.Identity.SignedIn() {
		return &Error{Kind: KindUnauthenticated, Code: "sign_in_to_chat", Message: "sign in to chat"}
	}
	if a.Banned && !a.Host && !a.Identity.Admin {
		return &Error{Kind: KindForbidden, Code: "banned", Message: "you are banned from this room"}
	}
	staff := a.Identity.Admin || a.Host || a.Moderator
	if staff {
		return nil
	}
	if now.Before(a.MutedUntil) {
		return &Error{Kind: KindForbidden, Code: "muted", Message: "you are timed out until " + a.MutedUntil.UTC().Format(time.RFC3339)}
	}
	switch s.Chat {
	case ChatOff:
		return &Error{Kind: KindForbidden, Code: "chat_off", Message: "chat is off in this room"}
	case ChatProfileComplete:
		if !a.ProfileComplete {
			return &Error{Kind: KindForbidden, Code: "profile_required", Message: "complete your profile (name and phone) to chat in this room"}
		}
	}
	return nil
}

func contains[T comparable](xs []T, x T) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
