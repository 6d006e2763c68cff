package chat

import (
	"context"

	"jobcast/live"
)

// OnJoin registers f to be called after a signed-in user's connection has
// joined a room on this node (its welcome is queued). Visitors do not
// trigger it. f runs on the joining connection's set-up goroutine: it must
// not block — queue work and return (jobs.Recommender.Joined does). Set it
// before serving. Safe for concurrent use.
func (s *Service) OnJoin(f func(room live.RoomID, id live.Identity)) {
	s.joinMu.Lock()
	s.onJoins = append(s.onJoins, f)
	s.joinMu.Unlock()
}

// joined runs the OnJoin callbacks for c.
func (s *Service) joined(room live.RoomID, id live.Identity) {
	if !id.SignedIn() {
		return
	}
	s.joinMu.Lock()
	fs := s.onJoins
	s.joinMu.Unlock()
	for _, f := range fs {
		f(room, id)
	}
}

// Viewers returns the room's viewer count summed over every node (the
// broker's presence records; a crashed node's viewers drop out within the
// presence TTL). It implements rooms.ViewerCounter. It blocks for one
// broker call; safe for concurrent use.
func (s *Service) Viewers(ctx context.Context, room live.RoomID) (int, error) {
	local := 0
	s.hubsMu.Lock()
	if h := s.hubs[room]; h != nil && !h.closing {
		local = int(h.local.Load())
	}
	s.hubsMu.Unlock()
	return s.broker.Presence(ctx, room, local)
}
