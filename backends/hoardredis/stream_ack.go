package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
)

// Ack acknowledges the writes and trims the stream below the oldest entry
// not yet acknowledged; see [hoard.WriteQueue.Ack].
func (q *StreamQueue[V]) Ack(ctx context.Context, ws []hoard.QueuedWrite[V]) error {
	ids := make([]any, 0, min(len(ws), streamAckChunk)+1)
	var errs []error
	for start := 0; start < len(ws); start += streamAckChunk {
		ids = append(ids[:0], q.opts.Group)
		for _, w := range ws[start:min(start+streamAckChunk, len(ws))] {
			ids = append(ids, w.Receipt)
		}
		if err := streamAckScript.Run(ctx, q.client, q.keys, ids...).Err(); err != nil {
			errs = append(errs, wrapErr("stream ack", q.keys[0], err))
		}
	}
	q.mu.Lock()
	for _, w := range ws {
		delete(q.taken, w.Receipt) // a failed ack: the keeper lets go, XAUTOCLAIM hands it out again
	}
	if !q.closed {
		close(q.acked)
		q.acked = make(chan struct{})
	}
	q.mu.Unlock()
	return errors.Join(errs...)
}

// Mark returns the ID of the stream's newest entry, "0-0" when it is
// empty.
func (q *StreamQueue[V]) Mark(ctx context.Context) (string, error) {
	if err := q.checkOpen(); err != nil {
		return "", err
	}
	msgs, err := q.client.XRevRangeN(ctx, q.keys[0], "+", "-", 1).Result()
	if err != nil {
		return "", wrapErr("stream mark", q.keys[0], err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// WaitAcked waits until the group has acknowledged every entry up to mark;
// see [hoard.WriteQueue.WaitAcked].
func (q *StreamQueue[V]) WaitAcked(ctx context.Context, mark string) error {
	ms, seq, ok := parseStreamID(mark)
	if !ok {
		return fmt.Errorf("%w: stream queue %q: mark %q is not a stream ID", hoard.ErrInvalidOption, q.opts.Name, mark)
	}
	if ms == 0 && seq == 0 {
		return nil // the stream was empty
	}
	for {
		if err := q.checkOpen(); err != nil {
			return err
		}
		acked := q.ackedChan()
		first, _, _, err := q.firstUnacked(ctx)
		if err != nil {
			return err
		}
		if fms, fseq, ok := parseStreamID(first); first == "" || (ok && (fms > ms || (fms == ms && fseq > seq))) {
			return nil
		}
		t := time.NewTimer(q.opts.PollInterval)
		select {
		case <-acked:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("hoard: stream queue %q: waiting for entries up to %s: %w", q.opts.Name, mark, context.Cause(ctx))
		}
		t.Stop()
	}
}

// firstUnacked returns the lowest ID the group may still have to store
// ("" when the stream does not exist), the ID of the oldest entry not yet
// acknowledged ("" for none) and the depth counter.
func (q *StreamQueue[V]) firstUnacked(ctx context.Context) (first, oldest string, depth int64, err error) {
	res, err := streamOldestScript.Run(ctx, q.client, q.keys, q.opts.Group).Slice()
	if err != nil {
		return "", "", 0, wrapErr("stream oldest", q.keys[0], err)
	}
	if len(res) > 0 {
		depth, _ = res[0].(int64)
	}
	if len(res) > 1 {
		first, _ = res[1].(string)
	}
	if len(res) > 2 {
		oldest, _ = res[2].(string)
	}
	return first, oldest, depth, nil
}

// Stats returns the depth counter and the enqueue time of the oldest entry
// not yet acknowledged (from its ID: Redis's clock).
func (q *StreamQueue[V]) Stats(ctx context.Context) (hoard.QueueStats, error) {
	_, oldest, depth, err := q.firstUnacked(ctx)
	if err != nil {
		return hoard.QueueStats{}, err
	}
	s := hoard.QueueStats{Depth: depth}
	if ms, _, ok := parseStreamID(oldest); ok {
		s.Oldest = time.UnixMilli(int64(min(ms, 1<<62)))
	}
	return s, nil
}
