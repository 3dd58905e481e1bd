package hoard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Defaults of [HybridVersionerOptions].
const (
	defaultVersionTimeout = 500 * time.Millisecond
	defaultVersionBackoff = time.Second
)

// HybridVersionerOptions configure a [HybridVersioner]. The zero value is
// valid: versions from the process's clock alone.
type HybridVersionerOptions struct {
	// Counter keeps each id's last version, shared by every process that
	// writes the ids: the Aside's Redis tier. With a [FloorCounter] a
	// version costs one round trip; with another Counter, two when the
	// counter is behind the clock. Nil: versions come from this process's
	// clock alone, ordered within the process only.
	Counter Counter

	// Prefix is put before an id to make its counter's key. Default:
	// "ver:".
	Prefix string

	// Timeout bounds each counter call; a call that takes longer gives a
	// version from the clock. Default: 500 * time.Millisecond.
	Timeout time.Duration

	// Backoff is how long after a failed counter call versions come from
	// the clock without trying the counter, so an unreachable Redis costs
	// one Timeout per Backoff, not one per write. Default: time.Second.
	Backoff time.Duration

	// Clock reads the time. Default: the system clock.
	Clock Clock

	// Metrics counts each failed counter call as [EventBackendError] at
	// [TierShared], and names the cache in log lines. Nil: not counted
	// there; [HybridVersioner.Fallbacks] counts the versions either way.
	Metrics *Metrics

	// Logger receives a warning for each failed counter call (at most one
	// per Backoff) and a note when the counter answers again. Nil: silent.
	Logger *slog.Logger
}

// HybridVersioner hands out write versions that are readings of a hybrid
// logical clock (Kulkarni et al., "Logical Physical Clocks", 2014): a
// version of an id is the larger of the time in microseconds and one more
// than the id's last version, kept in a shared [Counter]. It is the default
// [Versioner] of [WriteThrough] and [WriteBehind], and it keeps writes
// going when the Counter's Redis is down.
//
// While the Counter answers, the versions of an id are ordered across every
// process as a plain counter orders them ([CounterVersioner]): each is above
// every version handed out before, whatever the clocks say. When a counter
// call fails or runs past Timeout, the version comes from this process's
// clock alone: the larger of the time in microseconds and one more than the
// last version this process handed out or read from the Counter. Both kinds
// count microseconds, so they compare, and:
//
//   - In one process, versions strictly increase, whether they came from the
//     Counter or the clock: a write after Redis is back is newer than every
//     write this process made during the outage, and the reverse.
//   - A version from the Counter is never behind the clock of the process
//     that took it, however long ago the id's counter was made: a write after
//     Redis is back is newer than a write another process made from its
//     clock during the outage as soon as this process's clock has passed
//     that version.
//   - Across processes, during an outage, a write of an id is newer than a
//     write of the id made elsewhere more than S earlier, S being how far the
//     other process's clock ran ahead of this one's (a few milliseconds on
//     hosts kept by NTP, well under one with chrony or PTP). Two writes of one
//     id closer than S in two processes, while the Counter is unreachable by
//     either, may be ordered against their real order: the store then keeps
//     the earlier one, and refuses the later one without an error, as it
//     refuses any write older than what it holds. That is the trade-off for
//     writes that go on when the cache is down. A [Store] that picks its own
//     versions ([VersioningStore]) has none: [WriteThrough] prefers it.
//
// A clock that jumps back does not make versions go back: the process's
// last version bounds them from below. A clock set far ahead drags the
// versions of the ids it writes with it (and those of every process that
// reads them from the Counter), as in any hybrid logical clock; keep clocks
// synchronised.
//
// A HybridVersioner is safe for concurrent use. Give a process's writers
// of the same ids one HybridVersioner, so that they share its clock.
type HybridVersioner struct {
	opts  HybridVersionerOptions
	floor FloorCounter // opts.Counter as a FloorCounter, or nil
	clock versionClock

	retryAt   atomic.Int64 // UnixNano before which the Counter is not tried
	failing   atomic.Bool  // the last counter call failed
	fallbacks atomic.Int64 // versions taken from the clock
}

var _ Versioner = (*HybridVersioner)(nil)

// NewHybridVersioner returns a versioner configured by options (copied;
// nil: the defaults, with no Counter).
func NewHybridVersioner(options *HybridVersionerOptions) (*HybridVersioner, error) {
	var opts HybridVersionerOptions
	if options != nil {
		opts = *options
	}
	if opts.Timeout < 0 || opts.Backoff < 0 {
		return nil, fmt.Errorf("%w: hybrid versioner: negative Timeout or Backoff", ErrInvalidOption)
	}
	if opts.Prefix == "" {
		opts.Prefix = "ver:"
	}
	if opts.Timeout == 0 {
		opts.Timeout = defaultVersionTimeout
	}
	if opts.Backoff == 0 {
		opts.Backoff = defaultVersionBackoff
	}
	opts.Clock = clockOrSystem(opts.Clock)
	h := &HybridVersioner{opts: opts}
	h.clock.clock = opts.Clock
	h.floor, _ = opts.Counter.(FloorCounter)
	return h, nil
}

// NextVersion returns a version of id above every version handed out
// before, as the type's doc says. It fails only when ctx ends.
func (h *HybridVersioner) NextVersion(ctx context.Context, id string) (uint64, error) {
	v, _, err := h.nextVersion(ctx, id)
	return v, err
}

// Fallbacks returns how many versions came from the clock because the
// Counter failed, ran past Timeout, or was in its Backoff.
func (h *HybridVersioner) Fallbacks() int64 { return h.fallbacks.Load() }

// nextVersion is NextVersion that also says whether the version came from
// the clock because the Counter could not be used (false without a
// Counter: the clock is then all there is, and it orders this process's
// writes exactly).
func (h *HybridVersioner) nextVersion(ctx context.Context, id string) (uint64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, fmt.Errorf("hoard: version of %q: %w", id, context.Cause(ctx))
	}
	floor := h.clock.next()
	if h.opts.Counter == nil {
		return uint64(floor), false, nil
	}
	if h.opts.Clock.Now().UnixNano() < h.retryAt.Load() {
		h.fallbacks.Add(1)
		return uint64(floor), true, nil
	}
	key := h.opts.Prefix + id
	callCtx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	n, err := h.fromCounter(callCtx, key, floor)
	cancel()
	if err == nil {
		h.clock.observe(n)
		if h.failing.CompareAndSwap(true, false) && h.opts.Logger != nil {
			h.opts.Logger.Info("hoard: write versions come from the shared counter again",
				slog.String("cache", h.opts.Metrics.Name()), slog.String("key", key))
		}
		return uint64(n), false, nil
	}
	if ctx.Err() != nil {
		// The caller left: its write is not going anywhere.
		return 0, false, fmt.Errorf("hoard: version of %q: %w", id, errors.Join(err, context.Cause(ctx)))
	}
	h.failing.Store(true)
	h.retryAt.Store(h.opts.Clock.Now().Add(h.opts.Backoff).UnixNano())
	h.fallbacks.Add(1)
	h.opts.Metrics.Add(EventBackendError, TierShared, 1)
	if h.opts.Logger != nil {
		h.opts.Logger.Warn("hoard: the shared version counter failed: write versions come from this process's clock",
			slog.String("cache", h.opts.Metrics.Name()), slog.String("key", key),
			slog.Duration("retry_in", h.opts.Backoff), slog.Any("err", err))
	}
	return uint64(floor), true, nil
}

// fromCounter moves key's counter to at least floor and returns it: in one
// step on a FloorCounter, else by an increment and, when that leaves it
// below floor, a second increment up to floor (two increments racing both
// add, so the values stay unique).
func (h *HybridVersioner) fromCounter(ctx context.Context, key string, floor int64) (int64, error) {
	if h.floor != nil {
		return h.floor.IncrAtLeast(ctx, key, floor)
	}
	n, err := h.opts.Counter.IncrBy(ctx, key, 1)
	if err == nil && n < floor {
		n, err = h.opts.Counter.IncrBy(ctx, key, floor-n)
	}
	if err == nil && n < floor {
		err = fmt.Errorf("%w: version counter %q went back to %d, below %d", ErrCorrupt, key, n, floor)
	}
	return n, err
}

// versionClock is the process's part of a hybrid logical clock: each
// reading is the larger of the time in microseconds and one more than the
// last reading or observed version, so readings strictly increase even
// when the clock steps back.
type versionClock struct {
	clock Clock
	last  atomic.Int64
}

// next returns a reading above every reading and observation before.
func (c *versionClock) next() int64 {
	now := c.clock.Now().UnixMicro()
	for {
		last := c.last.Load()
		n := max(now, last+1)
		if c.last.CompareAndSwap(last, n) {
			return n
		}
	}
}

// observe moves the clock to at least v, a version read from the shared
// counter or a store, so that later readings are above it.
func (c *versionClock) observe(v int64) {
	for {
		last := c.last.Load()
		if v <= last || c.last.CompareAndSwap(last, v) {
			return
		}
	}
}
