package hoard

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// WriteBehind writes to the cache at once and to the store later: Put
// writes the value into an [Aside]'s tiers, so its readers see it
// (read-your-writes), and enqueues the write; workers take the queue in
// batches (by size, and by FlushInterval), keep the newest write of each id
// in a batch, store the batch, and acknowledge it once the store has
// committed. A failing store is retried with backoff; after MaxAttempts a
// write goes to a dead-letter handler. The queue is bounded: a full queue
// makes Put wait (or fail, per [FullPolicy]); nothing is dropped silently.
//
// Every write carries a version from a [Versioner], monotonic per id, and
// the store is told it: a [Store] applies a write only if it is newer than
// what it holds, so a batch retried, replayed after a crash or stored out
// of order by another worker never overwrites a newer write.
//
// The guarantee depends on the queue. With a [MemoryQueue] (the default)
// writes are lost if the process dies before they are stored. With a
// [github.com/hoard-cache/hoard/backends/redis.StreamQueue] a write is
// durable once Put returns nil (as durable as
// Redis keeps its data), and a process that takes over the stream stores
// the writes a dead one had not.
//
// Read-your-writes holds while the written entry stays in the tier the
// reader uses: within the Aside's TTL (and its MemoryTTL for the memory
// tier), and as long as the tier keeps it (a bounded memory tier may
// evict it, and a read then loads from the store, which may not have the
// write yet). Keep TTLs well above the queue's lag.
//
// Puts of one id in one process reach the cache in the order of their
// versions. Puts of one id racing in two processes may leave the shared
// tier with the older of the two values until its TTL (the store always
// ends with the newer one): send the writes of an id through one process,
// or use [WriteThrough] where that matters.
//
// WriteBehind starts its workers in [NewWriteBehind]; [WriteBehind.Close]
// drains the queue and stops them.
type WriteBehind[V any] struct {
	opts    WriteBehindOptions[V]
	name    string
	stats   WriteBehindStats
	seed    maphash.Seed
	stripes [writeBehindStripes]chan struct{} // one write per stripe at a time: per-id order

	mu        sync.Mutex    // guards the fields below
	closed    bool          // Close was called: Put and Delete fail
	active    int           // Puts and Deletes in progress
	idle      chan struct{} // made by Close; closed when active is 0
	closeDone chan struct{} // made by Close; closed when it has finished
	closeErr  error         // Close's result, set before closeDone is closed

	// Flush and Close hurry the workers: while hurrying is above 0 they
	// store what they have instead of waiting FlushInterval for more, and
	// hurry is canceled (and replaced) to wake those waiting already.
	hurrying    atomic.Int32
	hurryMu     sync.Mutex      // guards hurry and hurryCancel
	hurry       context.Context // not a call's ctx: a broadcast to the workers
	hurryCancel context.CancelFunc

	run     context.Context // the workers' ctx, canceled to stop them
	stop    context.CancelFunc
	workers sync.WaitGroup
}

// writeBehindStripes is the number of locks that order the writes of one
// id within a process.
const writeBehindStripes = 64

// ackTimeout bounds an acknowledgement made after the workers were told to
// stop: the store has the writes, and telling the queue saves a replay.
const ackTimeout = 5 * time.Second

// NewWriteBehind returns a write-behind configured by opts and starts its
// workers. Bad options give an error wrapping [ErrInvalidOption].
func NewWriteBehind[V any](opts WriteBehindOptions[V]) (*WriteBehind[V], error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	wb := &WriteBehind[V]{opts: o, name: o.Aside.opts.Name, seed: maphash.MakeSeed()}
	for i := range wb.stripes {
		wb.stripes[i] = make(chan struct{}, 1)
	}
	wb.hurry, wb.hurryCancel = context.WithCancel(context.Background())
	wb.run, wb.stop = context.WithCancel(context.Background())
	for range o.Workers {
		wb.workers.Go(wb.work)
	}
	return wb, nil
}

// Stats returns the write-behind's counters.
func (wb *WriteBehind[V]) Stats() *WriteBehindStats { return &wb.stats }

// QueueStats returns the queue's depth and the age of its oldest write (a
// round trip for a Redis stream queue).
func (wb *WriteBehind[V]) QueueStats(ctx context.Context) (QueueStats, error) {
	return wb.opts.Queue.Stats(ctx)
}

// Put enqueues v as the new value of id, with a new version, and writes it
// into the Aside's tiers (shared first, then memory). It returns nil once
// the write is enqueued: it will reach the store, and the Aside's readers
// see it from then on. When the queue is full Put waits for room or fails
// with [ErrQueueFull], per the Full option. An error means the write was
// not enqueued and the cache was not touched.
//
// A failure to update a tier after the write was enqueued does not fail
// Put (the write will be stored): it is logged, counted in the stats and
// as [EventBackendError] in the Aside's Metrics, and the key is deleted
// from that tier so it serves no older value.
//
// The cached entry carries tags and those of AsideOptions.TagsOf, as a
// loaded one does. When they cannot be checked later (no Invalidator, or
// the tag clock unreadable) the key is deleted from the tiers instead,
// counted as [EventUntaggable]: readers then load the store's row until
// the write reaches it.
func (wb *WriteBehind[V]) Put(ctx context.Context, id string, v V, tags ...string) error {
	return wb.write(ctx, id, &v, tags)
}

// Delete enqueues the deletion of id, with a new version, and writes a
// "not found" entry into the Aside's tiers for the Aside's TTL, so readers
// get [ErrNotFound] at once rather than the old row. Its errors are Put's.
//
// The "not found" carries tags, as one a loader caches keeps the loader's
// [SetTags]: pass the tags the row's loads set, so that inserting the row
// again and invalidating one of them ends the "not found" everywhere.
// (TagsOf needs a value, so it adds none here.)
func (wb *WriteBehind[V]) Delete(ctx context.Context, id string, tags ...string) error {
	return wb.write(ctx, id, nil, tags)
}

// write is Put (v set) or Delete (v nil).
func (wb *WriteBehind[V]) write(ctx context.Context, id string, v *V, tags []string) error {
	op := "put"
	if v == nil {
		op = "delete"
	}
	if !wb.begin() {
		return fmt.Errorf("%w: write-behind %q: %s %q", ErrClosed, wb.name, op, id)
	}
	defer wb.end()
	// The version, the queue and the cache are taken in one order for an
	// id: a later Put of the id in this process waits here, so the cache
	// never ends with the older of two values.
	stripe := wb.stripes[maphash.String(wb.seed, id)%writeBehindStripes]
	select {
	case stripe <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("hoard: write-behind %q: %s %q: %w", wb.name, op, id, context.Cause(ctx))
	}
	defer func() { <-stripe }()

	// The tag epoch is read before the version, so a tag invalidation from
	// then on reaches the entry: also one announcing a newer change made
	// elsewhere after this version, which the store keeps over this write.
	a := wb.opts.Aside
	if v != nil {
		tags = a.tagsOf(id, *v, tags)
	}
	epoch, epochErr := a.tagEpoch(ctx, tags)
	version, err := wb.opts.Versioner.NextVersion(ctx, id)
	if err != nil {
		return fmt.Errorf("hoard: write-behind %q: %s %q: version: %w", wb.name, op, id, err)
	}
	w := Write[V]{ID: id, Version: version, Delete: v == nil}
	if v != nil {
		w.Value = *v
	}
	if err := wb.enqueue(ctx, w); err != nil {
		return fmt.Errorf("hoard: write-behind %q: %s %q: %w", wb.name, op, id, err)
	}
	if v != nil {
		wb.stats.puts.Add(1)
	} else {
		wb.stats.deletes.Add(1)
	}
	// The write is enqueued: finish the cache update even if the caller
	// leaves now, or its readers would miss a write that will be stored.
	wb.updateCache(context.WithoutCancel(ctx), id, v, tags, epoch, epochErr)
	return nil
}

// enqueue adds w to the queue, waiting for room per the Full policy.
func (wb *WriteBehind[V]) enqueue(ctx context.Context, w Write[V]) error {
	err := wb.opts.Queue.Enqueue(ctx, w, false)
	if errors.Is(err, ErrQueueFull) && wb.opts.Full == FullBlock {
		wb.stats.fullWaits.Add(1)
		err = wb.opts.Queue.Enqueue(ctx, w, true)
	}
	if errors.Is(err, ErrQueueFull) {
		wb.stats.fullErrors.Add(1)
	}
	return err
}

// updateCache writes the entry of a Put (v set) or Delete (v nil) into the
// Aside's tiers: a fresh entry as a load would write, or a negative one,
// with tags and the tag epoch read before the write's version (epochErr
// that read's error).
func (wb *WriteBehind[V]) updateCache(ctx context.Context, id string, v *V, tags []string, epoch int64, epochErr error) {
	a := wb.opts.Aside
	key, err := a.storageKey(ctx, id)
	if err != nil {
		// Without the namespace's version this instance cannot name the
		// key; the write is queued, and readers see it within MemoryTTL.
		wb.stats.cacheErrors.Add(1)
		wb.opts.Logger.Warn("hoard: write-behind: cache not updated", slog.String("cache", wb.name), slog.Any("err", err))
		return
	}
	if !a.canTag(tags, epochErr) {
		a.opts.Metrics.Add(EventUntaggable, TierNone, 1)
		wb.stats.cacheErrors.Add(1)
		wb.opts.Logger.Warn("hoard: write-behind: the entry's tags cannot be checked later (no Invalidator, or the tag clock unreadable): deleted from the cache instead",
			slog.String("cache", wb.name), slog.String("key", key), slog.Any("err", epochErr))
		for _, c := range []Cache[V]{a.opts.Shared, a.opts.Memory} {
			if c != nil {
				_ = c.Delete(ctx, key)
			}
		}
		wb.publish(ctx, key)
		return
	}
	now := a.opts.Clock.Now()
	var e Entry[V]
	if v != nil {
		e = a.freshEntry(*v, now, 0, 0)
	} else {
		e = Entry[V]{Negative: true, WrittenAt: now, ExpiresAt: now.Add(a.jittered(a.opts.TTL))}
	}
	if len(tags) > 0 {
		e.Tags, e.TagEpoch = tags, epoch
	}
	wb.setTier(ctx, a.opts.Shared, TierShared, key, e)
	wb.setTier(ctx, a.opts.Memory, TierMemory, key, a.forMemory(e, now))
	wb.publish(ctx, key)
}

// publish detaches the loads of key running here, which may have read the
// old row, and tells the other instances that key changed.
func (wb *WriteBehind[V]) publish(ctx context.Context, key string) {
	a := wb.opts.Aside
	a.forgetLoads(key)
	if err := a.publishKeys(ctx, key); err != nil {
		wb.stats.cacheErrors.Add(1)
		wb.opts.Logger.Warn("hoard: write-behind: "+err.Error(), slog.String("cache", wb.name), slog.String("key", key))
	}
}

// setTier sets key in c; on failure it deletes key there, so the tier
// does not keep serving the value the write replaced.
func (wb *WriteBehind[V]) setTier(ctx context.Context, c Cache[V], tier Tier, key string, e Entry[V]) {
	if c == nil {
		return
	}
	err := c.Set(ctx, key, e)
	if err == nil {
		return
	}
	wb.stats.cacheErrors.Add(1)
	wb.opts.Aside.opts.Metrics.Add(EventBackendError, tier, 1)
	delErr := c.Delete(ctx, key)
	wb.opts.Logger.Warn("hoard: write-behind: cache update failed; the write is queued and will be stored",
		slog.String("cache", wb.name), slog.String("tier", tier.String()), slog.String("key", key),
		slog.Any("err", err), slog.Any("delete_err", delErr))
}

// begin counts a Put or Delete in progress, unless Close was called.
func (wb *WriteBehind[V]) begin() bool {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	if wb.closed {
		return false
	}
	wb.active++
	return true
}

// end counts a Put or Delete done, telling a waiting Close when it is the
// last.
func (wb *WriteBehind[V]) end() {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	wb.active--
	if wb.active == 0 && wb.idle != nil {
		close(wb.idle)
		wb.idle = nil
	}
}

// Flush waits until every write enqueued before it was called is stored
// (or given to the dead-letter handler), or ctx ends. With a Redis stream queue
// that includes the writes other processes enqueued. Workers stop waiting
// for fuller batches while a Flush waits.
func (wb *WriteBehind[V]) Flush(ctx context.Context) error {
	wb.mu.Lock()
	closed := wb.closed
	wb.mu.Unlock()
	if closed {
		return fmt.Errorf("%w: write-behind %q: flush", ErrClosed, wb.name)
	}
	if err := wb.flush(ctx); err != nil {
		return fmt.Errorf("hoard: write-behind %q: flush: %w", wb.name, err)
	}
	return nil
}

// flush hurries the workers and waits until the queue has acknowledged
// everything up to its current mark.
func (wb *WriteBehind[V]) flush(ctx context.Context) error {
	wb.hurryUp()
	defer wb.hurrying.Add(-1)
	mark, err := wb.opts.Queue.Mark(ctx)
	if err != nil {
		return err
	}
	return wb.opts.Queue.WaitAcked(ctx, mark)
}

// hurryUp tells the workers to stop waiting for fuller batches until
// hurrying drops back to 0.
func (wb *WriteBehind[V]) hurryUp() {
	wb.hurrying.Add(1)
	wb.hurryMu.Lock()
	defer wb.hurryMu.Unlock()
	wb.hurryCancel()
	wb.hurry, wb.hurryCancel = context.WithCancel(context.Background())
}

// hurryCtx returns the ctx that the next hurryUp cancels.
func (wb *WriteBehind[V]) hurryCtx() context.Context {
	wb.hurryMu.Lock()
	defer wb.hurryMu.Unlock()
	return wb.hurry
}

// Close drains: it refuses new writes, waits for the Puts in progress, then
// until everything enqueued is stored, then stops the workers and closes
// the queue. If ctx ends first, it stops the workers at once (a store call
// in progress sees its ctx canceled) and returns an error saying how many
// writes were not stored: a Redis stream queue keeps them for the next instance
// to take over; a [MemoryQueue] loses them. Close returns when every
// goroutine of the WriteBehind has ended. Later calls return the first
// call's result.
func (wb *WriteBehind[V]) Close(ctx context.Context) error {
	wb.mu.Lock()
	if wb.closeDone != nil {
		done := wb.closeDone
		wb.mu.Unlock()
		select {
		case <-done:
			return wb.closeErr
		case <-ctx.Done():
			return fmt.Errorf("hoard: write-behind %q: close: %w", wb.name, context.Cause(ctx))
		}
	}
	wb.closed = true
	wb.closeDone = make(chan struct{})
	idle := make(chan struct{})
	if wb.active == 0 {
		close(idle)
	} else {
		wb.idle = idle
	}
	wb.mu.Unlock()

	err := wb.drain(ctx, idle)
	if err != nil {
		err = wb.giveUp(ctx, err)
	}
	wb.stop()
	wb.workers.Wait()
	wb.hurryMu.Lock()
	wb.hurryCancel()
	wb.hurryMu.Unlock()
	if qerr := wb.opts.Queue.Close(context.WithoutCancel(ctx)); qerr != nil {
		err = errors.Join(err, qerr)
	}
	wb.closeErr = err
	close(wb.closeDone)
	return err
}

// drain waits for the Puts in progress, then for the queue to be stored.
func (wb *WriteBehind[V]) drain(ctx context.Context, idle <-chan struct{}) error {
	select {
	case <-idle:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return wb.flush(ctx)
}

// giveUp describes a Close that could not drain: the writes left behind,
// and where they are.
func (wb *WriteBehind[V]) giveUp(ctx context.Context, cause error) error {
	// The workers are stopped first so the count is final for a memory
	// queue; the count is a best effort for a remote one.
	wb.stop()
	wb.workers.Wait()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	where := "kept in the queue for the next instance to store"
	if _, ok := wb.opts.Queue.(*MemoryQueue[V]); ok {
		where = "lost with the memory queue"
	}
	s, err := wb.opts.Queue.Stats(sctx)
	if err != nil {
		return fmt.Errorf("hoard: write-behind %q: close gave up before the queue was stored (%s): %w", wb.name, where, cause)
	}
	return fmt.Errorf("hoard: write-behind %q: close gave up with %d writes not stored (%s): %w", wb.name, s.Depth, where, cause)
}

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
