package signaling

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"jobcast/httpx"
	"jobcast/live"
)

// viewer resolves the WHEP caller: a bearer token must be valid (401
// otherwise); a stale session cookie just means a visitor.
func (s *Server) viewer(c *gin.Context) (live.Identity, error) {
	ctx := c.Request.Context()
	if tok := httpx.BearerToken(c.Request); tok != "" {
		return s.sessions.IdentifyToken(ctx, tok)
	}
	if tok := httpx.CookieToken(c.Request); tok != "" {
		id, err := s.sessions.IdentifyToken(ctx, tok)
		if err != nil {
			if _, ok := live.AsError(err); ok {
				return live.Identity{}, nil
			}
			return id, err
		}
		return id, nil
	}
	return live.Identity{}, nil
}

// checkWatch loads the room and checks the caller may watch it now. It
// returns the local room when playable here, or the node to redirect to.
func (s *Server) checkWatch(c *gin.Context) (live.RoomID, live.Identity, *mediaRoom, string, error) {
	ctx := c.Request.Context()
	roomID, err := roomParam(c)
	if err != nil {
		return "", live.Identity{}, nil, "", err
	}
	id, err := s.viewer(c)
	if err != nil {
		return "", id, nil, "", err
	}
	room, acc, err := s.loadRoom(ctx, roomID, id)
	if err != nil {
		return "", id, nil, "", err
	}
	if acc.Banned && !acc.Host && !id.Admin {
		return "", id, nil, "", &live.Error{Kind: live.KindForbidden, Code: "banned", Message: "you are banned from this room"}
	}
	if !acc.Can(live.ActWatch) {
		return "", id, nil, "", live.Forbidden("you may not watch this room")
	}
	if room.Status == live.RoomEnded {
		return "", id, nil, "", roomEnded()
	}
	if r := s.hostedRoom(roomID, false); r != nil && r.playable() {
		return roomID, id, r, "", nil
	}
	holder, err := s.remoteHolder(ctx, roomID)
	if err != nil {
		return "", id, nil, "", err
	}
	if holder != "" {
		return roomID, id, nil, holder, nil
	}
	return "", id, nil, "", notLive()
}

// headWHEP tells a player whether the room can be played now: 200, 307 to
// the hosting node, 503 + Retry-After before the host is live, 409 ended.
func (s *Server) headWHEP(c *gin.Context) {
	s.cors(c)
	_, _, _, holder, err := s.checkWatch(c)
	if err != nil {
		s.m.rejected.Add(1)
		if e, ok := live.AsError(err); ok {
			if e.RetryAfter > 0 {
				c.Header("Retry-After", "5")
			}
			c.AbortWithStatus(e.Kind.Status())
			return
		}
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	if holder != "" {
		s.redirect(c, holder)
		return
	}
	c.Header("Accept-Post", mimeSDP)
	c.Status(http.StatusOK)
}

// postWHEP creates a viewer session.
func (s *Server) postWHEP(c *gin.Context) {
	s.cors(c)
	body, err := readBody(c.Request, mimeSDP)
	if err != nil {
		s.fail(c, err)
		return
	}
	roomID, id, r, holder, err := s.checkWatch(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if holder != "" {
		s.redirect(c, holder)
		return
	}
	_, info, err := parseOffer(body)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !info.audioRecv && !info.videoRecv {
		s.fail(c, badSDP("a WHEP offer must receive audio or video (recvonly or sendrecv)"))
		return
	}

	capKey, limit := "ip:"+c.ClientIP(), s.cfg.MaxViewersPerIP
	if id.SignedIn() {
		capKey, limit = "user:"+string(id.UserID), s.cfg.MaxViewersPerUser
	}
	s.mu.Lock()
	if s.perUser[capKey] >= limit {
		s.mu.Unlock()
		s.fail(c, &live.Error{Kind: live.KindRateLimited, Code: "too_many_sessions", Message: "you have too many players open; close one first", RetryAfter: 10 * time.Second})
		return
	}
	s.perUser[capKey]++
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		if s.perUser[capKey]--; s.perUser[capKey] <= 0 {
			delete(s.perUser, capKey)
		}
		s.mu.Unlock()
	}
	if err := r.reserveViewer(); err != nil {
		release()
		s.fail(c, err)
		return
	}

	sess := &session{
		id: newToken(), kind: kindWHEP, srv: s, room: r, etag: `"` + newToken()[:16] + `"`,
		ufrag: info.ufrag, user: id.UserID, capKey: capKey, done: make(chan struct{}),
	}
	if id.SignedIn() {
		sess.principal = "user:" + string(id.UserID)
	}
	sess.location = s.location(kindWHEP, roomID, sess.id)
	answer, err := s.negotiateViewer(sess, body, info)
	if err != nil {
		if sess.pc != nil {
			_ = sess.pc.Close()
		}
		r.removeViewer(sess) // no-op unless it was added
		if len(sess.fwds) == 0 {
			r.releaseSlot()
		}
		release()
		s.fail(c, err)
		return
	}
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.byID[sess.id] = sess
	}
	s.mu.Unlock()
	if closed {
		_ = sess.pc.Close()
		r.removeViewer(sess)
		release()
		s.fail(c, &live.Error{Kind: live.KindUnavailable, Code: "shutting_down", Message: "this media server is shutting down", RetryAfter: time.Second})
		return
	}
	s.m.viewers.Add(1)
	sess.installed.Store(true)
	r.activate(sess)
	// A joining viewer needs a keyframe to start decoding: ask as soon as
	// its connection is up (throttled per room).
	sess.watchState(r.requestKeyframe)
	s.answer(c, sess, answer)
}

// negotiateViewer answers the viewer's offer with the room's tracks (one
// fan-out shard per viewer); its RTCP goes to a viewerRTCP.
func (s *Server) negotiateViewer(sess *session, offer []byte, info offerInfo) (string, error) {
	pcCfg, err := s.certs.config()
	if err != nil {
		return "", err
	}
	rtcpIn := newViewerRTCP(s, sess)
	pc, err := s.viewAPI(rtcpIn).NewPeerConnection(pcCfg)
	if err != nil {
		return "", err
	}
	sess.pc = pc
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		return "", badSDP("the SDP offer was refused: " + trimErr(err))
	}
	tracks, err := sess.room.addViewer(sess, info.audioRecv, info.videoRecv)
	if err != nil {
		return "", err
	}
	var streams []reportedStream
	for _, t := range tracks {
		sender, err := pc.AddTrack(t)
		if err != nil {
			return "", live.Invalid("unsupported_codec", "the offer cannot receive the room's "+t.Kind().String()+": "+trimErr(err))
		}
		if enc := sender.GetParameters().Encodings; len(enc) > 0 {
			if t.binding(uint32(enc[0].SSRC)) != nil {
				// pion drew an SSRC another viewer of this track has
				// (odds ~ viewers/2^32): its NACKs and reports would
				// reach the other's binding. The client retries.
				return "", &live.Error{Kind: live.KindUnavailable, Code: "ssrc_collision", Message: "try again", RetryAfter: time.Second}
			}
			rtcpIn.add(t, uint32(enc[0].SSRC))
			streams = append(streams, reportedStream{t, uint32(enc[0].SSRC)})
		}
	}
	sess.reports = streams // sent by Server.reportLoop once the session is installed
	ans, err := finishAnswer(pc)
	if err != nil {
		return "", err
	}
	return ans, nil
}

type reportedStream struct {
	track *fanTrack
	ssrc  uint32
}

// reportLoop sends every connected viewer an RTCP sender report per stream
// every second (lip sync needs them), from one goroutine for the whole
// server: pion's sender-report interceptor takes a lock and reads the clock
// per packet per viewer, and a goroutine per viewer costs its stack. A
// write does not block: UDP does not, and pion queues ICE-TCP writes
// (newICETCPMux).
func (s *Server) reportLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var viewers []*session
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		viewers = viewers[:0]
		s.mu.Lock()
		for _, sess := range s.byID {
			if sess.kind == kindWHEP && len(sess.reports) > 0 {
				viewers = append(viewers, sess)
			}
		}
		s.mu.Unlock()
		now := time.Now()
		for _, sess := range viewers {
			s.sendReports(sess, now)
		}
		clear(viewers)
	}
}

// sendReports sends one viewer its sender reports, if it is connected.
func (s *Server) sendReports(sess *session, now time.Time) {
	if !sess.connected.Load() || sess.closing.Load() {
		return
	}
	pkts := make([]rtcp.Packet, 0, len(sess.reports))
	for _, st := range sess.reports {
		if r := st.track.report(st.ssrc, now); r != nil {
			pkts = append(pkts, r)
		}
	}
	if len(pkts) > 0 {
		_ = sess.pc.WriteRTCP(pkts)
	}
}
