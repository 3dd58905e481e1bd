package hoard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The workers of a write-behind: batches taken from the queue, coalesced
// per id, stored with retries, acknowledged, or dead-lettered.

// work is a worker: take a batch, store it, acknowledge it, until stopped.
func (wb *WriteBehind[V]) work() {
	ctx := wb.run
	failures := 0
	for {
		batch, err := wb.opts.Queue.Take(ctx, wb.opts.BatchSize)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrClosed) {
				return
			}
			wb.stats.queueErrors.Add(1)
			failures++
			wait := wb.opts.Backoff(failures)
			wb.opts.Logger.Warn("hoard: write-behind: taking writes from the queue failed",
				slog.String("cache", wb.name), slog.Any("err", err), slog.Duration("retry_in", wait))
			if sleepCtx(ctx, wait) != nil {
				return
			}
			continue
		}
		failures = 0
		batch = wb.linger(ctx, batch)
		wb.process(ctx, batch)
	}
}

// linger tops batch up to BatchSize for up to FlushInterval, unless a Flush
// or Close is waiting.
func (wb *WriteBehind[V]) linger(ctx context.Context, batch []QueuedWrite[V]) []QueuedWrite[V] {
	if wb.opts.FlushInterval <= 0 {
		return batch
	}
	deadline := time.Now().Add(wb.opts.FlushInterval)
	for len(batch) < wb.opts.BatchSize {
		// Read hurry before hurrying: hurryUp raises hurrying before it
		// cancels, so a Flush in between is seen one way or the other.
		hurry := wb.hurryCtx()
		if wb.hurrying.Load() > 0 {
			break
		}
		lctx, cancel := context.WithDeadline(ctx, deadline)
		stop := context.AfterFunc(hurry, cancel)
		more, err := wb.opts.Queue.Take(lctx, wb.opts.BatchSize-len(batch))
		stop()
		cancel()
		batch = append(batch, more...)
		if err != nil {
			break // the deadline, a Flush, Close, or a queue error: store what we have
		}
	}
	return batch
}

// process stores a batch and acknowledges it. A batch whose store calls
// were cut short by the workers' stop is left unacknowledged.
func (wb *WriteBehind[V]) process(ctx context.Context, batch []QueuedWrite[V]) {
	writes := wb.coalesce(ctx, batch)
	if len(writes) > 0 {
		if !wb.store(ctx, writes) {
			return
		}
		for i := range batch {
			if batch[i].Err == nil {
				wb.stats.observeLag(batch[i].EnqueuedAt)
			}
		}
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	if err := wb.opts.Queue.Ack(actx, batch); err != nil {
		// The store has the writes; the queue will hand them out again
		// and storing them twice is harmless (same versions).
		wb.stats.queueErrors.Add(1)
		wb.opts.Logger.Warn("hoard: write-behind: acknowledging stored writes failed; they will be stored again",
			slog.String("cache", wb.name), slog.Int("writes", len(batch)), slog.Any("err", err))
	}
}

// coalesce keeps the newest write (highest version) of each id of the
// batch, in the order ids first appear, and hands the writes the queue
// could not read to the dead-letter handler.
func (wb *WriteBehind[V]) coalesce(ctx context.Context, batch []QueuedWrite[V]) []Write[V] {
	writes := make([]Write[V], 0, len(batch))
	index := make(map[string]int, len(batch))
	for i := range batch {
		q := &batch[i]
		if q.Err != nil {
			wb.deadLetter(ctx, q.Write, q.Err)
			continue
		}
		j, seen := index[q.ID]
		switch {
		case !seen:
			index[q.ID] = len(writes)
			writes = append(writes, q.Write)
		case q.Version > writes[j].Version:
			writes[j] = q.Write
			wb.stats.coalesced.Add(1)
		default:
			wb.stats.coalesced.Add(1)
		}
	}
	return writes
}

// store writes to the store with retries, and hands what still fails
// after MaxAttempts to the dead-letter handler. It reports false when the
// workers were stopped before it was done.
func (wb *WriteBehind[V]) store(ctx context.Context, writes []Write[V]) bool {
	batchStore, isBatch := wb.opts.Store.(BatchStore[V])
	pending := writes
	for attempt := 1; ; attempt++ {
		final := wb.opts.MaxAttempts > 0 && attempt >= wb.opts.MaxAttempts
		var failed []Write[V]
		var err error
		if isBatch && !(final && attempt > 1 && len(pending) > 1) {
			failed, err = wb.writeMany(ctx, batchStore, pending)
		} else {
			// The last attempt of a batch goes write by write: one bad
			// write fails alone.
			failed, err = wb.writeEach(ctx, pending)
		}
		if len(failed) == 0 {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if final {
			for _, w := range failed {
				wb.deadLetter(ctx, w, err)
			}
			return true
		}
		wait := wb.opts.Backoff(attempt)
		wb.stats.retries.Add(1)
		if h := wb.opts.Hooks.OnRetry; h != nil {
			h(attempt, len(failed), err, wait)
		}
		wb.opts.Logger.Warn("hoard: write-behind: store failed; retrying",
			slog.String("cache", wb.name), slog.Int("attempt", attempt), slog.Int("writes", len(failed)),
			slog.Duration("retry_in", wait), slog.Any("err", err))
		if sleepCtx(ctx, wait) != nil {
			return false
		}
		pending = failed
	}
}

// writeMany stores writes in one call: all or none.
func (wb *WriteBehind[V]) writeMany(ctx context.Context, s BatchStore[V], writes []Write[V]) ([]Write[V], error) {
	wb.stats.storeCalls.Add(1)
	if err := s.WriteMany(ctx, writes); err != nil {
		wb.stats.storeErrors.Add(1)
		return writes, err
	}
	wb.stored(writes)
	return nil, nil
}

// writeEach stores writes one call each, and returns those that failed,
// with their errors joined.
func (wb *WriteBehind[V]) writeEach(ctx context.Context, writes []Write[V]) ([]Write[V], error) {
	var failed, done []Write[V]
	var errs []error
	for i, w := range writes {
		if ctx.Err() != nil {
			failed = append(failed, writes[i:]...)
			errs = append(errs, context.Cause(ctx))
			break
		}
		wb.stats.storeCalls.Add(1)
		var err error
		if w.Delete {
			err = wb.opts.Store.Delete(ctx, w.ID, w.Version)
		} else {
			err = wb.opts.Store.Save(ctx, w.ID, w.Value, w.Version)
		}
		if err != nil {
			wb.stats.storeErrors.Add(1)
			failed = append(failed, w)
			errs = append(errs, fmt.Errorf("%q: %w", w.ID, err))
			continue
		}
		done = append(done, w)
	}
	if len(done) > 0 {
		wb.stored(done)
	}
	return failed, errors.Join(errs...)
}

// stored counts committed writes and tells the hook.
func (wb *WriteBehind[V]) stored(writes []Write[V]) {
	wb.stats.stored.Add(int64(len(writes)))
	if h := wb.opts.Hooks.OnStored; h != nil {
		h(writes)
	}
}

// deadLetter hands w to the dead-letter handler, or logs it.
func (wb *WriteBehind[V]) deadLetter(ctx context.Context, w Write[V], err error) {
	wb.stats.deadLetters.Add(1)
	if wb.opts.DeadLetter != nil {
		wb.opts.DeadLetter(ctx, w, err)
		return
	}
	wb.opts.Logger.Error("hoard: write-behind: write given up (dead letter)",
		slog.String("cache", wb.name), slog.String("id", w.ID), slog.Uint64("version", w.Version),
		slog.Bool("delete", w.Delete), slog.Any("err", err))
}
