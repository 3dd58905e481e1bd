package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// Take returns up to limit writes: claimed from idle consumers when a claim
// pass is due, else new ones; see [hoard.WriteQueue.Take].
func (q *StreamQueue[V]) Take(ctx context.Context, limit int) ([]hoard.QueuedWrite[V], error) {
	limit = max(limit, 1)
	q.startKeeper()
	for {
		if err := q.checkOpen(); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		if err := q.ensureGroup(ctx); err != nil {
			return nil, err
		}
		claimed, err := q.claim(ctx, limit)
		if err != nil {
			return nil, err
		}
		if len(claimed) > 0 {
			return q.taking(claimed), nil
		}
		block := q.opts.Block
		if d, ok := ctx.Deadline(); ok {
			block = min(block, time.Until(d))
		}
		if block < time.Millisecond {
			// No time left to block: one look, then wait out ctx.
			block = -1
		}
		streams, err := q.client.XReadGroup(ctx, &goredis.XReadGroupArgs{
			Group: q.opts.Group, Consumer: q.opts.Consumer,
			Streams: []string{q.keys[0], ">"}, Count: int64(limit), Block: block,
		}).Result()
		switch {
		case err == nil && len(streams) > 0 && len(streams[0].Messages) > 0:
			return q.taking(streams[0].Messages), nil
		case err == nil || errors.Is(err, goredis.Nil):
			if block < 0 {
				<-ctx.Done()
			}
		case isNoGroup(err):
			q.hasGroup.Store(false) // the stream was deleted: make it again
		default:
			return nil, wrapErr("stream read", q.keys[0], err)
		}
	}
}

// taking records msgs as taken (for the keeper) and decodes them.
func (q *StreamQueue[V]) taking(msgs []goredis.XMessage) []hoard.QueuedWrite[V] {
	out := make([]hoard.QueuedWrite[V], len(msgs))
	q.mu.Lock()
	for i := range msgs {
		q.taken[msgs[i].ID] = struct{}{}
	}
	q.mu.Unlock()
	for i := range msgs {
		out[i] = q.decode(&msgs[i])
	}
	return out
}

// decode reads a stream entry back into a write. It never panics: an entry
// it cannot read comes back with Err wrapping [hoard.ErrCorrupt].
func (q *StreamQueue[V]) decode(m *goredis.XMessage) hoard.QueuedWrite[V] {
	w := hoard.QueuedWrite[V]{Receipt: m.ID}
	if ms, _, ok := parseStreamID(m.ID); ok {
		w.EnqueuedAt = time.UnixMilli(int64(min(ms, 1<<62)))
	}
	field := func(name string) (string, bool) {
		s, ok := m.Values[name].(string)
		return s, ok
	}
	corrupt := func(format string, args ...any) hoard.QueuedWrite[V] {
		w.Err = fmt.Errorf("%w: stream %q entry %s: %s", hoard.ErrCorrupt, q.keys[0], m.ID, fmt.Sprintf(format, args...))
		return w
	}
	id, ok := field(streamFieldID)
	if !ok {
		return corrupt("no id")
	}
	w.ID = id
	vs, _ := field(streamFieldV)
	version, err := strconv.ParseUint(vs, 10, 64)
	if err != nil {
		return corrupt("version %q", vs)
	}
	w.Version = version
	if ts, ok := field(streamFieldT); ok {
		if ns, err := strconv.ParseInt(ts, 10, 64); err == nil && ns > 0 {
			w.EnqueuedAt = time.Unix(0, ns)
		}
	}
	switch d, _ := field(streamFieldDel); d {
	case "1":
		w.Delete = true
		return w
	case "0":
	default:
		return corrupt("delete flag %q", d)
	}
	payload, ok := field(streamFieldPayload)
	if !ok {
		return corrupt("no value")
	}
	if len(payload) > q.opts.MaxValueBytes {
		return corrupt("value of %d bytes, over MaxValueBytes %d", len(payload), q.opts.MaxValueBytes)
	}
	if err := q.opts.Codec.Unmarshal([]byte(payload), &w.Value); err != nil {
		var zero V
		w.Value = zero
		if !errors.Is(err, hoard.ErrCorrupt) {
			err = fmt.Errorf("%w: %w", hoard.ErrCorrupt, err)
		}
		w.Err = fmt.Errorf("stream %q entry %s: %s codec: %w", q.keys[0], m.ID, q.opts.Codec.Name(), err)
	}
	return w
}
