package signaling

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pion/webrtc/v4"

	"jobcast/httpx"
	"jobcast/live"
)

type sessionKind int

const (
	kindWHIP sessionKind = iota + 1
	kindWHEP
)

func (k sessionKind) String() string {
	if k == kindWHIP {
		return "whip"
	}
	return "whep"
}

// session is one WHIP or WHEP session resource and its peer connection.
type session struct {
	id       string // unguessable; part of the session URL
	kind     sessionKind
	room     *mediaRoom
	srv      *Server
	pc       *webrtc.PeerConnection
	location string
	patchMu  sync.Mutex // serializes PATCHes; guards etag and ufrag after creation
	etag     string
	ufrag    string // the client's ICE ufrag (a different one = ICE restart)

	principal string      // WHIP: "key" or "user:<id>"; WHEP: "" or "user:<id>"
	user      live.UserID // WHEP viewer's user, "" for visitors
	capKey    string      // per-user viewer cap key
	gen       uint64      // WHIP: publisher generation
	shard     int         // WHEP: fan-out shard
	active    bool        // WHEP: counted in its shards (guarded by room.mu)
	fwds      []*forwarder
	reports   []reportedStream // WHEP: the streams Server.reportLoop reports on; set before the session is installed

	connected  atomic.Bool
	installed  atomic.Bool // counted in the publishers or viewers gauge
	closing    atomic.Bool
	done       chan struct{} // closed when the session is closed
	videoSSRC  atomic.Uint32 // WHIP: the publisher's video SSRC (for PLI)
	timerMu    sync.Mutex
	connectTmr *time.Timer
}

// short is a log-safe prefix of the session id (the full id is a secret:
// whoever knows it may DELETE the session).
func (s *session) short() string { return s.id[:8] }

// watchState wires the peer connection's state to the session's lifetime:
// connected stops the connect timeout, failed or closed closes the session.
func (s *session) watchState(onConnected func()) {
	s.timerMu.Lock()
	s.connectTmr = time.AfterFunc(s.srv.cfg.ConnectTimeout, func() {
		if !s.connected.Load() {
			// Closing blocks on pion: do it in a goroutine the server
			// owns (a closing server closes the session itself).
			s.srv.spawn(func(context.Context) { s.close("connect timeout") })
		}
	})
	s.timerMu.Unlock()
	s.pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			if s.connected.CompareAndSwap(false, true) {
				s.stopTimer()
				if onConnected != nil {
					onConnected()
				}
			}
		case webrtc.PeerConnectionStateFailed:
			s.close("ice failed")
		case webrtc.PeerConnectionStateClosed:
			s.close("closed")
		}
	})
}

func (s *session) stopTimer() {
	s.timerMu.Lock()
	if s.connectTmr != nil {
		s.connectTmr.Stop()
	}
	s.timerMu.Unlock()
}

// close tears the session down once: peer connection, maps, counters, and
// for a publisher the room's grace period. Later calls return at once. It
// may block while pion closes the connection.
func (s *session) close(reason string) {
	if !s.closing.CompareAndSwap(false, true) {
		return
	}
	s.stopTimer()
	close(s.done)
	_ = s.pc.Close()
	srv := s.srv
	srv.mu.Lock()
	if srv.byID[s.id] == s {
		delete(srv.byID, s.id)
	}
	if s.kind == kindWHEP && s.installed.Load() {
		if srv.perUser[s.capKey]--; srv.perUser[s.capKey] <= 0 {
			delete(srv.perUser, s.capKey)
		}
	}
	srv.mu.Unlock()
	if s.installed.Load() {
		if s.kind == kindWHEP {
			srv.m.viewers.Add(-1)
		} else {
			srv.m.publishers.Add(-1)
		}
	}
	if s.kind == kindWHEP {
		s.room.removeViewer(s)
	} else {
		s.room.publisherGone(s, reason)
	}
	srv.log.Debug("media session closed", "kind", s.kind.String(), "room", s.room.id, "session", s.short(), "reason", reason)
}

// lookupSession finds the session of the URL, checking kind and room.
func (srv *Server) lookupSession(c *gin.Context, kind sessionKind) (*session, error) {
	room, err := roomParam(c)
	if err != nil {
		return nil, err
	}
	srv.mu.Lock()
	sess := srv.byID[c.Param("session")]
	srv.mu.Unlock()
	if sess == nil || sess.kind != kind || sess.room.id != room || sess.closing.Load() {
		return nil, live.NotFound("session")
	}
	return sess, nil
}

// authorizeSession re-checks the credentials of a PATCH or DELETE: a
// publisher must present the same stream key or a token of the same host
// (still allowed to publish); a viewer who created the session signed in
// may only be acted on by a bearer of the same user (or none: the session
// URL itself is the capability, as players DELETE without credentials).
func (srv *Server) authorizeSession(c *gin.Context, sess *session) error {
	ctx := c.Request.Context()
	token := httpx.BearerToken(c.Request)
	if sess.kind == kindWHIP {
		principal, err := srv.authPublisher(ctx, sess.room.id, token)
		if err != nil {
			return err
		}
		if principal != sess.principal {
			return live.Forbidden("these credentials did not create this session")
		}
		return nil
	}
	if token == "" {
		return nil
	}
	id, err := srv.sessions.IdentifyToken(ctx, token)
	if err != nil {
		return err
	}
	if sess.user != "" && id.UserID != sess.user && !id.Admin {
		return live.Forbidden("these credentials did not create this session")
	}
	return nil
}

func (srv *Server) patchSession(kind sessionKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		srv.cors(c)
		sess, err := srv.lookupSession(c, kind)
		if err != nil {
			srv.fail(c, err)
			return
		}
		if err := srv.authorizeSession(c, sess); err != nil {
			srv.fail(c, err)
			return
		}
		sess.patchMu.Lock()
		defer sess.patchMu.Unlock()
		if m := c.GetHeader("If-Match"); m != "" && m != "*" && m != sess.etag {
			srv.m.rejected.Add(1)
			c.AbortWithStatusJSON(http.StatusPreconditionFailed, httpx.ErrorBody{Error: httpx.ErrorDetail{
				Code: "etag_mismatch", Message: "If-Match does not match the session's ETag"}})
			return
		}
		body, err := readBody(c.Request, mimeSDPFrag)
		if err != nil {
			srv.fail(c, err)
			return
		}
		frag, err := parseFrag(body)
		if err != nil {
			srv.fail(c, err)
			return
		}
		if frag.ufrag != "" && frag.ufrag != sess.ufrag {
			// ICE restart (RFC 9725 section 4.3): 200 with the answer
			// fragment and a new ETag.
			ans, err := srv.iceRestart(sess, frag)
			if err != nil {
				srv.fail(c, err)
				return
			}
			sess.ufrag, sess.etag = frag.ufrag, `"`+newToken()[:16]+`"`
			c.Header("ETag", sess.etag)
			c.Data(http.StatusOK, mimeSDPFrag, []byte(ans))
			return
		}
		srv.addCandidates(sess, frag)
		c.Status(http.StatusNoContent)
	}
}

// addCandidates adds a fragment's trickled candidates to the session.
func (srv *Server) addCandidates(sess *session, frag sdpFrag) {
	for _, cand := range frag.cands {
		init := webrtc.ICECandidateInit{Candidate: cand.line}
		if cand.mid != "" {
			mid := cand.mid
			init.SDPMid = &mid
		} else {
			zero := uint16(0)
			init.SDPMLineIndex = &zero
		}
		// A well-formed candidate this node cannot use (another
		// address family, say) is ignored, as RFC 8838 asks.
		if err := sess.pc.AddICECandidate(init); err != nil {
			srv.log.Debug("trickled candidate ignored", "session", sess.short(), "err", err)
		}
	}
}

func (srv *Server) deleteSession(kind sessionKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		srv.cors(c)
		sess, err := srv.lookupSession(c, kind)
		if err != nil {
			srv.fail(c, err)
			return
		}
		if err := srv.authorizeSession(c, sess); err != nil {
			srv.fail(c, err)
			return
		}
		if kind == kindWHIP {
			// The host's DELETE ends the broadcast for everyone.
			sess.room.end(context.WithoutCancel(c.Request.Context()), "publisher ended the broadcast")
		} else {
			sess.close("deleted")
		}
		c.Status(http.StatusOK)
	}
}
