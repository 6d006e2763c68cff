package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"jobcast/live"
)

// RedisOptions configures a RedisBroker.
type RedisOptions struct {
	// Prefix is put before every key and channel ("jobcast:" by default);
	// tests use a unique prefix each.
	Prefix  string
	History HistoryConfig
	// PingEvery is how long the subscriber waits silently before it pings
	// Redis; a second silent period means the connection is dead and it
	// reconnects (default 10 s).
	PingEvery time.Duration
	Log       *slog.Logger
}

// RedisBroker is the Broker for many nodes sharing one Redis. Publish is
// one Lua script (seq, history, expiry, PUBLISH). One pub/sub connection per
// node carries the rooms it has local viewers in plus a node-wide notice
// channel; any interruption of it is followed by Resync of every room, so a
// hub always catches up from history instead of silently missing events.
// Safe for concurrent use.
type RedisBroker struct {
	rdb  redis.UniversalClient
	opt  RedisOptions
	node string
	log  *slog.Logger

	reconnects atomic.Uint64
	noticed    atomic.Bool // the notice channel was subscribed once

	mu   sync.Mutex
	subs map[live.RoomID]bool
	ps   *redis.PubSub // current session; nil outside Run
}

// NewRedisBroker returns a broker over rdb (which the caller owns and
// closes after Run has returned).
func NewRedisBroker(rdb redis.UniversalClient, opt RedisOptions) *RedisBroker {
	if opt.Prefix == "" {
		opt.Prefix = "jobcast:"
	}
	opt.History = opt.History.withDefaults()
	if opt.PingEvery <= 0 {
		opt.PingEvery = 10 * time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	return &RedisBroker{rdb: rdb, opt: opt, node: newEpoch(), log: opt.Log, subs: map[live.RoomID]bool{}}
}

// Reconnects returns how many times the subscriber connection was lost
// and re-established (for metrics).
func (b *RedisBroker) Reconnects() uint64 { return b.reconnects.Load() }

func (b *RedisBroker) keys(room live.RoomID) []string {
	k := b.opt.Prefix + "{" + string(room) + "}:"
	return []string{k + "h", k + "m", k + "d"}
}

func (b *RedisBroker) roomChannel(room live.RoomID) string {
	return b.opt.Prefix + "room:" + string(room)
}

func (b *RedisBroker) noticeChannel() string { return b.opt.Prefix + "notice" }

func ms(d time.Duration) int64 { return d.Milliseconds() }

// Run implements Broker: it keeps one pub/sub session alive, re-creating it
// after any failure (with backoff) until ctx is done.
func (b *RedisBroker) Run(ctx context.Context, h Handler) error {
	backoff := 50 * time.Millisecond
	for {
		started := time.Now()
		err := b.session(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		b.reconnects.Add(1)
		b.log.Warn("chat: redis subscription lost; resubscribing", "err", err)
		if time.Since(started) > 10*time.Second {
			backoff = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// session runs one pub/sub connection until it fails.
func (b *RedisBroker) session(ctx context.Context, h Handler) error {
	ps := b.rdb.Subscribe(ctx, b.noticeChannel())
	defer ps.Close()
	// A blocked receive does not watch ctx; closing the session ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	b.mu.Lock()
	b.ps = ps
	chans := make([]string, 0, len(b.subs))
	for r := range b.subs {
		chans = append(chans, b.roomChannel(r))
	}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		if b.ps == ps {
			b.ps = nil
		}
		b.mu.Unlock()
	}()
	if len(chans) > 0 {
		if err := ps.Subscribe(ctx, chans...); err != nil {
			return err
		}
	}
	roomPrefix := b.opt.Prefix + "room:"
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, b.opt.PingEvery)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				pinged = true
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				continue
			}
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == b.noticeChannel() {
				// Every session but the first follows a time without a
				// subscription: notices published then are gone.
				if b.noticed.Swap(true) {
					h.NoticesLost()
				}
				continue
			}
			if m.Kind != "subscribe" || !strings.HasPrefix(m.Channel, roomPrefix) {
				continue
			}
			room := live.RoomID(strings.TrimPrefix(m.Channel, roomPrefix))
			b.mu.Lock()
			ok := b.subs[room]
			b.mu.Unlock()
			if ok {
				h.Resync(room)
			}
		case *redis.Message:
			if m.Channel == b.noticeChannel() {
				var n Notice
				if err := json.Unmarshal([]byte(m.Payload), &n); err != nil {
					b.log.Error("chat: bad notice on redis", "err", err)
					continue
				}
				h.Notice(n)
				continue
			}
			if !strings.HasPrefix(m.Channel, roomPrefix) {
				continue
			}
			p, err := parsePublication(m.Payload)
			if err != nil {
				b.log.Error("chat: bad publication on redis", "err", err)
				continue
			}
			p.Room = live.RoomID(strings.TrimPrefix(m.Channel, roomPrefix))
			h.Publication(p)
		case *redis.Pong:
		}
	}
}

// parsePublication parses "p<seq>:<epoch>:<type>:<envelope>".
func parsePublication(s string) (Publication, error) {
	bad := fmt.Errorf("chat: malformed publication")
	if len(s) < 2 || s[0] != 'p' {
		return Publication{}, bad
	}
	parts := strings.SplitN(s[1:], ":", 4)
	if len(parts) != 4 {
		return Publication{}, bad
	}
	seq, err := strconv.ParseUint(parts[0], 10, 64)
	if err != nil {
		return Publication{}, bad
	}
	return Publication{Seq: seq, Epoch: parts[1], Type: live.EventType(parts[2]), Data: []byte(parts[3])}, nil
}

// Subscribe implements Broker. It does not wait for Redis to confirm;
// confirmation arrives as Handler.Resync.
func (b *RedisBroker) Subscribe(ctx context.Context, room live.RoomID) error {
	b.mu.Lock()
	b.subs[room] = true
	ps := b.ps
	b.mu.Unlock()
	if ps == nil {
		return nil // the next session subscribes it
	}
	// On failure the session breaks and the next one includes room.
	return ps.Subscribe(ctx, b.roomChannel(room))
}

// Unsubscribe implements Broker.
func (b *RedisBroker) Unsubscribe(ctx context.Context, room live.RoomID) error {
	b.mu.Lock()
	delete(b.subs, room)
	ps := b.ps
	b.mu.Unlock()
	if ps == nil {
		return nil
	}
	return ps.Unsubscribe(ctx, b.roomChannel(room))
}

// Publish implements Broker.
func (b *RedisBroker) Publish(ctx context.Context, room live.RoomID, typ live.EventType, tail []byte) (Publication, error) {
	h := b.opt.History
	res, err := publishScript.Run(ctx, b.rdb, b.keys(room),
		string(typ), tail, h.Size, ms(h.TTL), ms(h.MetaTTL), b.roomChannel(room), newEpoch()).Slice()
	if err != nil {
		return Publication{}, fmt.Errorf("chat: redis publish: %w", err)
	}
	if len(res) != 2 {
		return Publication{}, fmt.Errorf("chat: redis publish: unexpected reply")
	}
	seq, _ := res[0].(int64)
	epoch, _ := res[1].(string)
	return Publication{Room: room, Seq: uint64(seq), Epoch: epoch, Type: typ, Data: envelope(typ, uint64(seq), tail)}, nil
}

// Position implements Broker.
func (b *RedisBroker) Position(ctx context.Context, room live.RoomID) (Position, error) {
	res, err := positionScript.Run(ctx, b.rdb, b.keys(room), newEpoch(), ms(b.opt.History.MetaTTL)).Slice()
	if err != nil {
		return Position{}, fmt.Errorf("chat: redis position: %w", err)
	}
	if len(res) != 2 {
		return Position{}, fmt.Errorf("chat: redis position: unexpected reply")
	}
	seq, _ := res[0].(int64)
	epoch, _ := res[1].(string)
	return Position{Seq: uint64(seq), Epoch: epoch}, nil
}

// History implements Broker.
func (b *RedisBroker) History(ctx context.Context, room live.RoomID, since uint64, epoch string) ([]Publication, Position, error) {
	h := b.opt.History
	res, err := historyScript.Run(ctx, b.rdb, b.keys(room),
		since, epoch, newEpoch(), ms(h.MetaTTL), 2*h.Size+200).Slice()
	if err != nil {
		return nil, Position{}, fmt.Errorf("chat: redis history: %w", err)
	}
	if len(res) < 3 || len(res)%2 == 0 {
		return nil, Position{}, fmt.Errorf("chat: redis history: unexpected reply")
	}
	top, _ := res[0].(int64)
	ep, _ := res[1].(string)
	ok, _ := res[2].(int64)
	pos := Position{Seq: uint64(top), Epoch: ep}
	if ok != 1 {
		return nil, pos, ErrUnrecoverable
	}
	out := make([]Publication, 0, (len(res)-3)/2)
	for i := 3; i+1 < len(res); i += 2 {
		typ, _ := res[i].(string)
		data, _ := res[i+1].(string)
		out = append(out, Publication{Room: room, Seq: since + uint64(len(out)) + 1, Epoch: ep, Type: live.EventType(typ), Data: []byte(data)})
	}
	return out, pos, nil
}

// Remove implements Broker.
func (b *RedisBroker) Remove(ctx context.Context, room live.RoomID, seq uint64, tomb []byte) (bool, error) {
	k := b.keys(room)
	n, err := removeScript.Run(ctx, b.rdb, []string{k[0], k[2]}, seq, tomb).Int64()
	if err != nil {
		return false, fmt.Errorf("chat: redis remove: %w", err)
	}
	return n == 1, nil
}

// Notify implements Broker.
func (b *RedisBroker) Notify(ctx context.Context, n Notice) error {
	payload, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if err := b.rdb.Publish(ctx, b.noticeChannel(), payload).Err(); err != nil {
		return fmt.Errorf("chat: redis notify: %w", err)
	}
	return nil
}

// Presence implements Broker.
func (b *RedisBroker) Presence(ctx context.Context, room live.RoomID, local int) (int, error) {
	key := b.opt.Prefix + "{" + string(room) + "}:p"
	n, err := presenceScript.Run(ctx, b.rdb, []string{key}, b.node, local, ms(b.opt.History.PresenceTTL)).Int64()
	if err != nil {
		return 0, fmt.Errorf("chat: redis presence: %w", err)
	}
	return int(n), nil
}

// Throttle implements Broker.
func (b *RedisBroker) Throttle(ctx context.Context, key string, every time.Duration, burst int) (time.Duration, error) {
	wait, err := throttleScript.Run(ctx, b.rdb, []string{b.opt.Prefix + "thr:" + key}, max(every.Milliseconds(), 1), max(burst, 1)).Int64()
	if err != nil {
		return 0, fmt.Errorf("chat: redis throttle: %w", err)
	}
	return time.Duration(wait) * time.Millisecond, nil
}

// Ping implements Broker.
func (b *RedisBroker) Ping(ctx context.Context) error { return b.rdb.Ping(ctx).Err() }
