package hoardredis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// claim runs one step of the XAUTOCLAIM pass over the group's pending
// entries when one is due, taking those idle for ClaimIdle. A full pass
// ends by removing consumers idle for ConsumerExpiry with nothing pending.
func (q *StreamQueue[V]) claim(ctx context.Context, limit int) ([]goredis.XMessage, error) {
	now := time.Now()
	q.mu.Lock()
	cursor, due := q.cursor, !now.Before(q.nextClaim)
	q.mu.Unlock()
	if !due {
		return nil, nil
	}
	msgs, next, err := q.client.XAutoClaim(ctx, &goredis.XAutoClaimArgs{
		Stream: q.keys[0], Group: q.opts.Group, Consumer: q.opts.Consumer,
		MinIdle: q.opts.ClaimIdle, Start: cursor, Count: int64(limit),
	}).Result()
	if err != nil {
		if isNoGroup(err) {
			q.hasGroup.Store(false)
			return nil, nil
		}
		return nil, wrapErr("stream autoclaim", q.keys[0], err)
	}
	q.mu.Lock()
	q.cursor = next
	if next == "0-0" || next == "" {
		q.cursor = "0-0"
		q.nextClaim = now.Add(q.opts.ClaimInterval)
	}
	passDone := q.cursor == "0-0"
	q.mu.Unlock()
	if passDone && q.opts.ConsumerExpiry > 0 {
		// Best effort: a failure leaves an idle consumer for next time.
		_ = streamExpireConsumersScript.Run(ctx, q.client, q.keys[:1],
			q.opts.Group, q.opts.Consumer, q.opts.ConsumerExpiry.Milliseconds()).Err()
	}
	return msgs, nil
}

// startKeeper starts the goroutine that keeps taken entries claimed, once.
func (q *StreamQueue[V]) startKeeper() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.keeping || q.closed {
		return
	}
	q.keeping = true
	ctx, cancel := context.WithCancel(context.Background())
	q.stopKeep = cancel
	q.keeper.Go(func() { q.keep(ctx) })
}

// keep re-claims the taken entries every ClaimIdle/3, resetting their idle
// time, so XAUTOCLAIM elsewhere leaves them to this consumer while its
// store call runs.
func (q *StreamQueue[V]) keep(ctx context.Context) {
	t := time.NewTicker(q.opts.ClaimIdle / 3)
	defer t.Stop()
	var ids []string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q.mu.Lock()
		ids = ids[:0]
		for id := range q.taken {
			ids = append(ids, id)
		}
		q.mu.Unlock()
		for start := 0; start < len(ids); start += streamAckChunk {
			// Best effort: an entry that lost its claim is stored twice at
			// worst, which versions make harmless.
			_ = q.client.XClaimJustID(ctx, &goredis.XClaimArgs{
				Stream: q.keys[0], Group: q.opts.Group, Consumer: q.opts.Consumer,
				Messages: ids[start:min(start+streamAckChunk, len(ids))],
			}).Err()
		}
	}
}
