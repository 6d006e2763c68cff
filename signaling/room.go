package signaling

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"jobcast/live"
)

// pliInterval throttles keyframe requests to a publisher: at most one per
// interval, and a request inside the interval is delayed, never dropped, so
// a joining viewer always gets its keyframe within one interval.
const pliInterval = 500 * time.Millisecond

// mediaRoom is the SFU state of one room on this node: its publisher, the
// forwarders viewers bind to, the viewers and the grace timer. It exists on
// this node from the first successful publish until the room ends.
type mediaRoom struct {
	id  live.RoomID
	srv *Server

	mu       sync.Mutex
	pub      *session
	grace    *time.Timer // running while the publisher is away
	graceGen uint64      // identifies the current grace timer
	audio    *forwarder
	video    *forwarder
	viewers  map[*session]struct{}
	slots    int // viewers plus viewers being set up (room cap)
	ended    bool

	pliMu      sync.Mutex
	lastPLI    time.Time
	pliPending bool
	pliTimer   *time.Timer
}

// hostedRoom returns the room's media state on this node, creating it when
// create is set. It returns nil for an unknown room when create is false.
func (s *Server) hostedRoom(id live.RoomID, create bool) *mediaRoom {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.media[id]
	if r == nil && create && !s.closed {
		r = &mediaRoom{id: id, srv: s, viewers: map[*session]struct{}{}}
		s.media[id] = r
	}
	return r
}

// hosting reports whether this node hosts the room's publisher (or waits for
// it to come back).
func (r *mediaRoom) hosting() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.ended && (r.pub != nil || r.grace != nil)
}

// playable reports whether viewers can join now.
func (r *mediaRoom) playable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.ended && (r.audio != nil || r.video != nil) && (r.pub != nil || r.grace != nil)
}

// conflict reports the 409 a publish by principal would get.
func (r *mediaRoom) conflict(principal string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return roomEnded()
	}
	if r.pub != nil && r.pub.principal != principal {
		return live.Conflict("publisher_exists", "someone else is already publishing to this room")
	}
	return nil
}

// installPublisher makes sess the room's publisher. It returns the session
// it replaces (to be closed by the caller) and the viewers that must go
// because the codec changed. Forwarders are reused when the codecs match,
// so viewers keep playing across a publisher reconnect.
func (r *mediaRoom) installPublisher(sess *session, video *webrtc.RTPCodecCapability, audio bool) (replaced *session, orphans []*session, stale []*forwarder, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return nil, nil, nil, roomEnded()
	}
	if r.pub != nil && r.pub.principal != sess.principal {
		return nil, nil, nil, live.Conflict("publisher_exists", "someone else is already publishing to this room")
	}
	shards := r.srv.cfg.FanoutShards
	if audio && r.audio == nil {
		if r.audio, err = newForwarder(webrtc.RTPCodecTypeAudio, codecOpus.RTPCodecCapability, shards, 0, r.srv.tr.flush, &r.srv.m); err != nil {
			return nil, nil, nil, err
		}
	}
	if video != nil && (r.video == nil || !sameCodec(r.video.codec, *video)) {
		fwd, err := newForwarder(webrtc.RTPCodecTypeVideo, *video, shards, int(r.srv.cfg.NACKBuffer), r.srv.tr.flush, &r.srv.m)
		if err != nil {
			return nil, nil, nil, err
		}
		if r.video != nil {
			stale = append(stale, r.video)
			for v := range r.viewers {
				if slices.Contains(v.fwds, r.video) {
					orphans = append(orphans, v)
				}
			}
		}
		r.video = fwd
	}
	replaced = r.pub
	r.pub = sess
	if r.grace != nil {
		r.grace.Stop()
		r.grace = nil
	}
	for _, f := range []*forwarder{r.audio, r.video} {
		if f != nil {
			f.newSource(sess.gen)
		}
	}
	return replaced, orphans, stale, nil
}

func sameCodec(a, b webrtc.RTPCodecCapability) bool {
	return a.MimeType == b.MimeType && a.SDPFmtpLine == b.SDPFmtpLine
}

// forwarderFor returns the current forwarder of kind, or nil.
func (r *mediaRoom) forwarderFor(kind webrtc.RTPCodecType) *forwarder {
	r.mu.Lock()
	defer r.mu.Unlock()
	if kind == webrtc.RTPCodecTypeAudio {
		return r.audio
	}
	return r.video
}

// publisherGone starts the grace period when sess was the current publisher
// and its connection ended (or timed out) without a DELETE.
func (r *mediaRoom) publisherGone(sess *session, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pub != sess || r.ended {
		return
	}
	r.pub = nil
	grace := r.srv.cfg.PublisherGrace
	r.graceGen++
	gen := r.graceGen
	r.grace = time.AfterFunc(grace, func() {
		r.srv.spawn(func(ctx context.Context) { r.graceExpired(ctx, gen) })
	})
	r.srv.log.Info("publisher lost, waiting for it to return", "room", r.id, "reason", reason, "grace", grace.String())
}

func (r *mediaRoom) graceExpired(ctx context.Context, gen uint64) {
	r.mu.Lock()
	current := r.grace != nil && r.graceGen == gen && r.pub == nil && !r.ended
	r.mu.Unlock()
	if current {
		r.end(ctx, "publisher did not return")
	}
}

// reserveViewer takes a viewer slot, or returns 429 when the room is full.
func (r *mediaRoom) reserveViewer() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slots >= r.srv.cfg.MaxViewersPerRoom {
		return &live.Error{Kind: live.KindRateLimited, Code: "room_full", Message: "this room has reached its viewer limit on this server", RetryAfter: 30 * time.Second}
	}
	r.slots++
	return nil
}

func (r *mediaRoom) releaseSlot() {
	r.mu.Lock()
	r.slots--
	r.mu.Unlock()
}

// addViewer binds sess to the room's forwarders (one shard each) and returns
// the local tracks to add to its peer connection.
func (r *mediaRoom) addViewer(sess *session, wantAudio, wantVideo bool) ([]*fanTrack, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended || (r.pub == nil && r.grace == nil) {
		return nil, notLive()
	}
	var tracks []*fanTrack
	for _, f := range []*forwarder{r.audio, r.video} {
		if f == nil || (f.kind == webrtc.RTPCodecTypeAudio && !wantAudio) || (f.kind == webrtc.RTPCodecTypeVideo && !wantVideo) {
			continue
		}
		if len(sess.fwds) == 0 {
			sess.shard = f.pickShard()
		}
		sess.fwds = append(sess.fwds, f)
		tracks = append(tracks, f.shards[sess.shard].track)
	}
	if len(tracks) == 0 {
		return nil, notLive()
	}
	r.viewers[sess] = struct{}{}
	return tracks, nil
}

// activate starts counting sess in its shards (so packets flow to it).
func (r *mediaRoom) activate(sess *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.viewers[sess]; !ok {
		return // closed meanwhile
	}
	sess.active = true
	for _, f := range sess.fwds {
		f.shards[sess.shard].viewers.Add(1)
	}
}

// removeViewer forgets a closed viewer session.
func (r *mediaRoom) removeViewer(sess *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.viewers[sess]; !ok {
		return
	}
	delete(r.viewers, sess)
	r.slots--
	if sess.active {
		for _, f := range sess.fwds {
			f.shards[sess.shard].viewers.Add(-1)
		}
	}
}

// end ends the broadcast: every session of the room closes, the forwarders
// stop, this node's registry claim is released and the room moves to
// ended. Only the first call does anything. It blocks until done.
func (r *mediaRoom) end(ctx context.Context, reason string) {
	srv := r.srv
	srv.mu.Lock()
	if srv.media[r.id] == r {
		delete(srv.media, r.id)
	}
	srv.mu.Unlock()
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return
	}
	r.ended = true
	pub := r.pub
	r.pub = nil
	viewers := make([]*session, 0, len(r.viewers))
	for v := range r.viewers {
		viewers = append(viewers, v)
	}
	r.mu.Unlock()
	r.shutdown()

	if pub != nil {
		pub.close(reason)
	}
	for _, v := range viewers {
		v.close("room ended")
	}
	r.closeForwarders()
	if srv.cfg.NodeURL != "" {
		if err := srv.reg.Release(ctx, r.id, srv.cfg.NodeURL); err != nil {
			srv.log.Warn("media registry release failed", "room", r.id, "err", err)
		}
	}
	if _, err := srv.rooms.SetStatus(ctx, r.id, live.RoomEnded); err != nil {
		srv.log.Warn("could not mark the room ended", "room", r.id, "err", err)
	}
	srv.log.Info("broadcast ended", "room", r.id, "reason", reason, "viewers", len(viewers))
}

// shutdown stops the room's timers (server closing or room ending).
func (r *mediaRoom) shutdown() {
	r.mu.Lock()
	if r.grace != nil {
		r.grace.Stop()
		r.grace = nil
	}
	r.ended = true
	r.mu.Unlock()
	r.pliMu.Lock()
	if r.pliTimer != nil {
		r.pliTimer.Stop()
	}
	r.pliMu.Unlock()
	r.closeForwarders()
}

func (r *mediaRoom) closeForwarders() {
	r.mu.Lock()
	fs := []*forwarder{r.audio, r.video}
	r.audio, r.video = nil, nil
	r.mu.Unlock()
	for _, f := range fs {
		if f != nil {
			f.close()
		}
	}
}

// requestKeyframe asks the publisher for a keyframe, at most once per
// pliInterval; a request inside the interval is sent at its end. It never
// blocks on the network.
func (r *mediaRoom) requestKeyframe() {
	r.pliMu.Lock()
	if r.pliPending {
		r.pliMu.Unlock()
		return
	}
	wait := pliInterval - time.Since(r.lastPLI)
	if wait > 0 {
		r.pliPending = true
		r.pliTimer = time.AfterFunc(wait, func() {
			r.pliMu.Lock()
			r.pliPending = false
			r.lastPLI = time.Now()
			r.pliMu.Unlock()
			r.sendPLI()
		})
		r.pliMu.Unlock()
		return
	}
	r.lastPLI = time.Now()
	r.pliMu.Unlock()
	r.sendPLI()
}

func (r *mediaRoom) sendPLI() {
	r.mu.Lock()
	pub := r.pub
	r.mu.Unlock()
	if pub == nil {
		return
	}
	ssrc := pub.videoSSRC.Load()
	if ssrc == 0 {
		return
	}
	if err := pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err == nil {
		r.srv.m.plis.Add(1)
	}
}
