package chat

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"jobcast/live"
)

// Close codes sent by the server. 1000–1015 are the standard ones; 4000+
// are jobcast's own. Every close carries a short reason text. See
// docs/api-realtime.md.
const (
	CloseNormal      = 1000 // the client asked to close
	CloseGoingAway   = 1001 // the node is shutting down: reconnect with since/epoch
	CloseTooBig      = 1009 // a frame was larger than the read limit (4 KiB)
	CloseInternal    = 1011 // unexpected server failure: reconnect with since/epoch
	CloseSlow        = 4001 // the client did not read fast enough: reconnect with since/epoch
	CloseResync      = 4002 // the room's history was lost or interrupted: reconnect with since/epoch
	CloseKicked      = 4003 // banned from the room or signed out: do not reconnect automatically
	CloseIdleTimeout = 4008 // no pong or message for 60 s
)

// welcomeData is the payload of the welcome event.
type welcomeData struct {
	Room      live.RoomID        `json:"room"`
	Role      live.Role          `json:"role"`
	UserID    live.UserID        `json:"user_id,omitempty"`
	Seq       uint64             `json:"seq"`
	Epoch     string             `json:"epoch"`
	Recovered bool               `json:"recovered"`
	Snapshot  *live.RoomSnapshot `json:"snapshot,omitempty"`
	Viewers   int                `json:"viewers"`
	Limits    welcomeLimits      `json:"limits"`
}

type welcomeLimits struct {
	MaxChatChars    int     `json:"max_chat_chars"`
	ChatPerSecond   float64 `json:"chat_per_second"`
	ChatBurst       int     `json:"chat_burst"`
	SlowModeSeconds int     `json:"slow_mode_seconds"`
	MaxFrameBytes   int     `json:"max_frame_bytes"`
}

// heldData is the payload of chat.held (to staff only).
type heldData struct {
	Message live.ChatData `json:"message"`
	Reason  string        `json:"reason"`
}

// clientMessage is a frame from the client.
type clientMessage struct {
	Type  string `json:"type"`
	Text  string `json:"text,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

const maxNonceLen = 64

// decodeClientMessage strictly decodes one client frame.
func decodeClientMessage(b []byte) (clientMessage, error) {
	var m clientMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, live.Invalid("bad_message", "a frame must be one JSON object {\"type\":…} with known fields")
	}
	if dec.More() {
		return m, live.Invalid("bad_message", "a frame must be one JSON object")
	}
	if len(m.Nonce) > maxNonceLen {
		return m, live.Invalid("bad_nonce", "nonce is at most 64 bytes")
	}
	return m, nil
}

// encodeTail encodes the part of an ordered envelope after its seq:
// `"at":"…","data":{…}}`. data must be valid JSON; it is compacted so that
// an envelope never contains a raw newline (the frame separator).
func encodeTail(at time.Time, data []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(data) + 48)
	b.WriteString(`"at":`)
	ts, _ := at.UTC().MarshalJSON()
	b.Write(ts)
	b.WriteString(`,"data":`)
	if len(data) == 0 {
		b.WriteString("{}")
	} else if err := json.Compact(&b, data); err != nil {
		return nil, errors.New("chat: event data is not valid JSON")
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// envelope joins type, seq and tail into the envelope sent to clients. The
// Redis script builds the same bytes in Lua.
func envelope(typ live.EventType, seq uint64, tail []byte) []byte {
	b := make([]byte, 0, len(tail)+len(typ)+32)
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ',')
	return append(b, tail...)
}

// encodeEphemeral encodes an event without seq, once, for every recipient.
func encodeEphemeral(ev live.Event) ([]byte, error) {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	tail, err := encodeTail(ev.At, ev.Data)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(tail)+len(ev.Type)+16)
	b = append(b, `{"type":"`...)
	b = append(b, ev.Type...)
	b = append(b, `",`...)
	return append(b, tail...), nil
}

// tombstone is the chat.deleted event that stands in history for the
// deleted chat message at seq (same seq, data {"seq":seq}).
func tombstone(seq uint64, at time.Time) []byte {
	tail, _ := encodeTail(at, []byte(`{"seq":`+strconv.FormatUint(seq, 10)+`}`))
	return envelope(live.EvChatDeleted, seq, tail)
}

// mustEphemeral encodes server-built ephemeral events (never invalid).
func mustEphemeral(t live.EventType, data any) []byte {
	b, err := encodeEphemeral(live.NewEvent(t, data))
	if err != nil {
		panic(err)
	}
	return b
}

func errorEvent(code, msg, nonce string) []byte {
	return mustEphemeral(live.EvError, live.ErrorData{Code: code, Message: msg, Nonce: nonce})
}

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
