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
// [github.com/hoard-cache/hoard/backends/hoardredis.StreamQueue] a write is
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

// NewWriteBehind returns a write-behind configured by options (copied;
// Aside and Store are required, so nil is refused) and starts its workers.
// Bad options give an error wrapping [ErrInvalidOption].
func NewWriteBehind[V any](options *WriteBehindOptions[V]) (*WriteBehind[V], error) {
	if options == nil {
		return nil, fmt.Errorf("%w: write-behind: nil options (Aside and Store are required)", ErrInvalidOption)
	}
	opts := *options // the caller's stay as they were
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
