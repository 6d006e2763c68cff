package signaling

import (
	"context"
	"errors"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pion/webrtc/v4"

	"jobcast/httpx"
	"jobcast/live"
)

// gatherTimeout bounds the server's own ICE gathering (host candidates on
// the muxed sockets: normally instant).
const gatherTimeout = 5 * time.Second

// authPublisher resolves a WHIP bearer token to a publishing principal: the
// room's stream key ("key") or the session token of a user who may publish
// ("user:<id>").
func (s *Server) authPublisher(ctx context.Context, room live.RoomID, token string) (string, error) {
	if token == "" {
		return "", &live.Error{Kind: live.KindUnauthenticated, Code: "unauthenticated", Message: "send the room's stream key or a host's token as Authorization: Bearer"}
	}
	ok, err := s.rooms.CheckStreamKey(ctx, room, token)
	if err != nil {
		return "", err
	}
	if ok {
		return "key", nil
	}
	id, err := s.sessions.IdentifyToken(ctx, token)
	if e, isLive := live.AsError(err); (isLive && e.Kind == live.KindUnauthenticated) || (err == nil && !id.SignedIn()) {
		return "", &live.Error{Kind: live.KindUnauthenticated, Code: "invalid_credentials", Message: "the bearer token is neither the room's stream key nor a valid session"}
	}
	if err != nil {
		return "", err
	}
	_, acc, err := s.loadRoom(ctx, room, id)
	if err != nil {
		return "", err
	}
	if !acc.Can(live.ActPublish) {
		return "", live.Forbidden("only the room's hosts may publish")
	}
	return "user:" + string(id.UserID), nil
}

// postWHIP creates a publisher session (RFC 9725 §4.2).
func (s *Server) postWHIP(c *gin.Context) {
	s.cors(c)
	ctx := c.Request.Context()
	body, err := readBody(c.Request, mimeSDP)
	if err != nil {
		s.fail(c, err)
		return
	}
	roomID, err := roomParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	room, _, err := s.loadRoom(ctx, roomID, live.Identity{})
	if err != nil {
		s.fail(c, err)
		return
	}
	principal, err := s.authPublisher(ctx, roomID, httpx.BearerToken(c.Request))
	if err != nil {
		s.fail(c, err)
		return
	}
	if room.Status == live.RoomEnded {
		s.fail(c, roomEnded())
		return
	}
	if holder, err := s.remoteHolder(ctx, roomID); err != nil {
		s.fail(c, err)
		return
	} else if holder != "" {
		s.redirect(c, holder)
		return
	}
	_, info, err := parseOffer(body)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !info.audioSend && !info.videoSend {
		s.fail(c, badSDP("a WHIP offer must send audio or video (sendonly or sendrecv)"))
		return
	}
	var video *webrtc.RTPCodecParameters
	if info.videoSend {
		for _, md := range info.videoCodecs {
			if c, ok := pickVideoCodec(md); ok {
				video = &c
				break
			}
		}
		if video == nil {
			s.fail(c, live.Invalid("unsupported_codec", "the offer's video has no codec this server forwards (VP8, H.264 packetization-mode 1)"))
			return
		}
	}
	audio := info.audioSend && info.audioOpus
	if info.audioSend && !info.audioOpus && video == nil {
		s.fail(c, live.Invalid("unsupported_codec", "the offer's audio is not Opus"))
		return
	}
	if r := s.hostedRoom(roomID, false); r != nil {
		if err := r.conflict(principal); err != nil {
			s.fail(c, err)
			return
		}
	}

	pc, answer, err := s.negotiatePublisher(body, video)
	if err != nil {
		s.fail(c, err)
		return
	}
	sess := &session{
		id: newToken(), kind: kindWHIP, srv: s, pc: pc, etag: `"` + newToken()[:16] + `"`,
		ufrag: info.ufrag, principal: principal, done: make(chan struct{}),
	}
	sess.location = s.location(kindWHIP, roomID, sess.id)

	if s.cfg.NodeURL != "" {
		holder, err := s.reg.Claim(ctx, roomID, s.cfg.NodeURL, s.cfg.RegistryTTL)
		if err != nil || holder != s.cfg.NodeURL {
			_ = pc.Close()
			if err != nil {
				s.fail(c, s.registryDown(err))
			} else {
				s.redirect(c, holder)
			}
			return
		}
	}
	if _, err := s.rooms.SetStatus(ctx, roomID, live.RoomLive); err != nil {
		_ = pc.Close()
		s.fail(c, err)
		return
	}
	r := s.hostedRoom(roomID, true)
	if r == nil {
		_ = pc.Close()
		s.fail(c, &live.Error{Kind: live.KindUnavailable, Code: "shutting_down", Message: "this media server is shutting down", RetryAfter: time.Second})
		return
	}
	sess.room = r
	s.mu.Lock()
	s.gen++
	sess.gen = s.gen
	s.byID[sess.id] = sess
	s.mu.Unlock()
	var vcap *webrtc.RTPCodecCapability
	if video != nil {
		vcap = &video.RTPCodecCapability
	}
	replaced, orphans, stale, err := r.installPublisher(sess, vcap, audio)
	if err != nil {
		s.mu.Lock()
		delete(s.byID, sess.id)
		s.mu.Unlock()
		_ = pc.Close()
		s.fail(c, err)
		return
	}
	s.m.publishers.Add(1)
	sess.installed.Store(true)
	s.wirePublisher(sess)
	if replaced != nil {
		s.spawn(func(context.Context) { replaced.close("replaced by a new session of the same publisher") })
	}
	for _, o := range orphans {
		s.spawn(func(context.Context) { o.close("publisher changed codec") })
	}
	for _, f := range stale {
		f.close()
	}
	s.log.Info("publisher connected", "room", roomID, "session", sess.short(), "replaced", replaced != nil)
	s.answer(c, sess, answer)
}

// negotiatePublisher answers the offer with a receive-only peer connection
// that accepts only the chosen video codec, after gathering every local
// candidate (OBS sends offers without candidates and does not trickle).
func (s *Server) negotiatePublisher(offer []byte, video *webrtc.RTPCodecParameters) (*webrtc.PeerConnection, string, error) {
	pcCfg, err := s.certs.config()
	if err != nil {
		return nil, "", err
	}
	pc, err := s.pubAPI.NewPeerConnection(pcCfg)
	if err != nil {
		return nil, "", err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		_ = pc.Close()
		return nil, "", badSDP("the SDP offer was refused: " + trimErr(err))
	}
	for _, t := range pc.GetTransceivers() {
		if t.Kind() == webrtc.RTPCodecTypeVideo && video != nil {
			if err := t.SetCodecPreferences([]webrtc.RTPCodecParameters{*video}); err != nil {
				_ = pc.Close()
				return nil, "", live.Invalid("unsupported_codec", "the offer's video codec cannot be used: "+trimErr(err))
			}
		}
	}
	ans, err := finishAnswer(pc)
	if err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	return pc, ans, nil
}

// finishAnswer creates and sets the local answer and waits for gathering.
func finishAnswer(pc *webrtc.PeerConnection) (string, error) {
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", badSDP("no answer can be made for this offer: " + trimErr(err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", badSDP("no answer can be made for this offer: " + trimErr(err))
	}
	select {
	case <-gathered:
	case <-time.After(gatherTimeout):
		return "", errors.New("ICE gathering timed out")
	}
	return pc.LocalDescription().SDP, nil
}

// wirePublisher starts reading the publisher's tracks into the room's
// forwarders once they arrive, and ties the session's life to its
// connection.
func (s *Server) wirePublisher(sess *session) {
	r := sess.room
	sess.pc.OnTrack(func(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		fwd := r.forwarderFor(track.Kind())
		if fwd == nil {
			// An audio track in a codec we do not forward: keep the
			// receiver drained so pion's buffers do not fill.
			s.spawn(func(context.Context) { drainTrack(track) })
			return
		}
		if track.Kind() == webrtc.RTPCodecTypeVideo {
			sess.videoSSRC.Store(uint32(track.SSRC()))
			// Viewers who stayed through a reconnect need a keyframe.
			r.requestKeyframe()
		}
		s.spawn(func(context.Context) { readTrack(sess, track, fwd) })
		s.spawn(func(context.Context) { drainRTCP(recv) })
	})
	sess.watchState(nil)
}

// readTrack forwards the publisher's packets until the track ends. Each
// packet is a fresh allocation because the shards read it after push
// returns.
func readTrack(sess *session, track *webrtc.TrackRemote, fwd *forwarder) {
	for {
		p, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		fwd.push(sess.gen, p)
	}
}

func drainTrack(track *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := track.Read(buf); err != nil {
			return
		}
	}
}

// drainRTCP reads a receiver's incoming RTCP (sender reports) so pion's
// interceptors see it and its buffer never fills.
func drainRTCP(recv *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := recv.Read(buf); err != nil {
			return
		}
	}
}

// remoteHolder returns the URL of another node hosting room, or "".
func (s *Server) remoteHolder(ctx context.Context, room live.RoomID) (string, error) {
	if s.cfg.NodeURL == "" {
		return "", nil
	}
	if r := s.hostedRoom(room, false); r != nil && r.hosting() {
		return "", nil
	}
	holder, err := s.reg.Lookup(ctx, room)
	if err != nil {
		return "", s.registryDown(err)
	}
	if holder == s.cfg.NodeURL {
		return "", nil
	}
	return holder, nil
}

// registryDown logs a registry failure once and turns it into a 503 the
// client may retry (never a guess that could split a room over two nodes).
func (s *Server) registryDown(err error) error {
	s.log.Error("media registry unavailable", "err", err)
	return &live.Error{Kind: live.KindUnavailable, Code: "media_registry_unavailable", Message: "the media directory is unavailable; retry shortly", RetryAfter: 2 * time.Second}
}
