package hoard

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// Defaults of [InvalidatorOptions].
const (
	defaultMaxStaleness    = time.Second
	defaultMaxLocalTags    = 100_000
	defaultNamespacePrefix = "hoard:ns:"
)

// InvalidatorOptions configure an [Invalidator].
type InvalidatorOptions struct {
	// Counter keeps the namespace versions; TagClock keeps the tag epoch
	// and stamps. Give both the shared (Redis) tier so every instance sees
	// the same, and they survive the data's TTLs (they have none). The
	// Redis backend is both. Required.
	Counter  Counter
	TagClock TagClock

	// Bus tells other instances of bumps and tag invalidations at once;
	// without it they learn of them within MaxStaleness.
	Bus Bus

	// MaxStaleness is how long an instance trusts its local copy of a
	// namespace version or a tag stamp before reading it again: the
	// backstop for a lost bus message. Default: time.Second.
	MaxStaleness time.Duration

	// MaxLocal bounds the versions and stamps kept locally. Default:
	// 100_000.
	MaxLocal int

	// NamespacePrefix prefixes the namespace counters' keys. Default:
	// "hoard:ns:".
	NamespacePrefix string

	// Breaker, when set, defers a bump or a tag invalidation that could
	// not reach Redis (or the bus) until it is back: the call returns an
	// error matching [ErrDeferred], and the change is replayed before the
	// breaker closes. Give it the breaker of the caches on the same Redis.
	// Default: nil, the call fails.
	Breaker *CircuitBreaker

	// HardTimeout bounds each call to Counter and TagClock: past it the
	// call fails with an error matching [ErrUnavailable], and counts toward
	// the Breaker, which also makes calls fail at once while it is open.
	// Default: 0, the caller's ctx only.
	HardTimeout time.Duration

	// Clock reads the time for MaxStaleness. Default: the system clock.
	Clock Clock
}

// Invalidator makes whole families of entries unreachable in O(1), without
// scanning keys:
//
//   - Namespaces: an [Aside] with AsideOptions.Namespace puts the
//     namespace's version in every key; [Invalidator.BumpNamespace]
//     increments it, so every old key is unreachable at once and expires
//     by its TTL.
//   - Tags: a loader tags its value ([SetTags]); [Invalidator.InvalidateTags]
//     stamps the tags, and every entry loaded before is invalid from then
//     on, checked on read, as FusionCache and HybridCache do.
//
// Each instance keeps the versions and stamps it reads for MaxStaleness,
// and drops them early when the bus tells of a change. The counters start
// from the time, so a Redis restarted empty never brings old entries back.
type Invalidator struct {
	opts InvalidatorOptions
	// counter and tagClock are opts' behind the breaker and HardTimeout;
	// replays of deferred changes use opts' own, past the breaker.
	counter    Counter
	tagClock   TagClock
	namespaces *otter.Cache[string, namespaceVersion]
	// lastKnown keeps every namespace's newest version past MaxStaleness,
	// for when the Counter cannot be read: dropped only by the bus.
	lastKnown *otter.Cache[string, namespaceVersion]
	stamps    *otter.Cache[string, int64]
	// made keeps the newest version of each namespace and stamp of each
	// tag this instance made itself (a bump, a tag invalidation): never
	// dropped by the bus, it is what every later version is at least, so
	// a read that began before it can never store an older one.
	made        *otter.Cache[string, int64]
	unsubscribe func()
	// dropped counts the local copies the bus made this instance drop: a
	// read that began before a drop must not store what it read (see
	// keepNewest).
	dropped atomic.Uint64
	// tagChanges counts the tag invalidations made here or heard of on the
	// bus, and the bus's flushes: a load begun before the latest may hold
	// a value with an invalidated tag (see Aside.Get).
	tagChanges atomic.Uint64
	// knownEpoch is the latest tag epoch read, or nil (see epoch).
	knownEpoch atomic.Pointer[epochReading]
}

// namespaceVersion is a namespace's version and its text, kept together
// so building a key does not format the number each time.
type namespaceVersion struct {
	n    int64
	text string
}

// NewInvalidator returns an invalidator configured by options (copied;
// Counter and TagClock are required, so nil is refused). Close it to stop
// listening to the bus.
func NewInvalidator(options *InvalidatorOptions) (*Invalidator, error) {
	if options == nil {
		return nil, fmt.Errorf("%w: invalidator: nil options (Counter and TagClock are required)", ErrInvalidOption)
	}
	opts := *options // the caller's stay as they were
	switch {
	case opts.Counter == nil || opts.TagClock == nil:
		return nil, fmt.Errorf("%w: invalidator: Counter and TagClock are required (a Redis cache is both)", ErrInvalidOption)
	case opts.MaxStaleness < 0 || opts.MaxLocal < 0 || opts.HardTimeout < 0:
		return nil, fmt.Errorf("%w: invalidator: negative MaxStaleness, MaxLocal or HardTimeout", ErrInvalidOption)
	}
	if opts.MaxStaleness == 0 {
		opts.MaxStaleness = defaultMaxStaleness
	}
	if opts.MaxLocal == 0 {
		opts.MaxLocal = defaultMaxLocalTags
	}
	if opts.NamespacePrefix == "" {
		opts.NamespacePrefix = defaultNamespacePrefix
	}
	opts.Clock = clockOrSystem(opts.Clock)
	clock := otterClockOf(opts.Clock)
	namespaces, err := otter.New(&otter.Options[string, namespaceVersion]{
		MaximumSize: opts.MaxLocal, ExpiryCalculator: otter.ExpiryWriting[string, namespaceVersion](opts.MaxStaleness), Clock: clock,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: invalidator: %w", ErrInvalidOption, err)
	}
	stamps, err := otter.New(&otter.Options[string, int64]{
		MaximumSize: opts.MaxLocal, ExpiryCalculator: otter.ExpiryWriting[string, int64](opts.MaxStaleness), Clock: clock,
	})
	if err != nil {
		namespaces.StopAllGoroutines()
		return nil, fmt.Errorf("%w: invalidator: %w", ErrInvalidOption, err)
	}
	lastKnown, err := otter.New(&otter.Options[string, namespaceVersion]{MaximumSize: opts.MaxLocal})
	if err != nil {
		namespaces.StopAllGoroutines()
		stamps.StopAllGoroutines()
		return nil, fmt.Errorf("%w: invalidator: %w", ErrInvalidOption, err)
	}
	made, err := otter.New(&otter.Options[string, int64]{MaximumSize: opts.MaxLocal})
	if err != nil {
		namespaces.StopAllGoroutines()
		stamps.StopAllGoroutines()
		lastKnown.StopAllGoroutines()
		return nil, fmt.Errorf("%w: invalidator: %w", ErrInvalidOption, err)
	}
	inv := &Invalidator{opts: opts, namespaces: namespaces, stamps: stamps, lastKnown: lastKnown, made: made,
		counter: opts.Counter, tagClock: opts.TagClock}
	if opts.Breaker != nil || opts.HardTimeout > 0 {
		guard := sharedGuard{hard: opts.HardTimeout, breaker: opts.Breaker}
		inv.counter = guardedCounter{inner: opts.Counter, guard: guard}
		inv.tagClock = guardedTagClock{inner: opts.TagClock, guard: guard}
	}
	if opts.Bus != nil {
		inv.unsubscribe = opts.Bus.Subscribe(inv.apply)
	}
	return inv, nil
}

// apply drops the local copies the bus says are out of date.
func (inv *Invalidator) apply(events []Invalidation) {
	inv.dropped.Add(1) // before the drops: see keepNewest
	for _, ev := range events {
		switch ev.Kind {
		case InvalidateNamespace:
			inv.namespaces.Invalidate(ev.Value)
			inv.lastKnown.Invalidate(ev.Value)
		case InvalidateTag:
			inv.stamps.Invalidate(ev.Value)
			inv.tagChanges.Add(1)
		case InvalidateAll:
			inv.namespaces.InvalidateAll()
			inv.lastKnown.InvalidateAll()
			inv.stamps.InvalidateAll()
			inv.tagChanges.Add(1)
		}
	}
}

// Close stops listening to the bus and the local caches' clean-up.
func (inv *Invalidator) Close() error {
	if inv.unsubscribe != nil {
		inv.unsubscribe()
	}
	inv.namespaces.StopAllGoroutines()
	inv.stamps.StopAllGoroutines()
	inv.lastKnown.StopAllGoroutines()
	inv.made.StopAllGoroutines()
	return nil
}

// NamespaceVersion returns the current version of namespace ns, from the
// local copy when it is younger than MaxStaleness.
func (inv *Invalidator) NamespaceVersion(ctx context.Context, ns string) (int64, error) {
	v, err := inv.namespaceVersion(ctx, ns)
	return v.n, err
}

func (inv *Invalidator) namespaceVersion(ctx context.Context, ns string) (namespaceVersion, error) {
	if v, ok := inv.namespaces.GetIfPresent(ns); ok {
		return v, nil
	}
	since := inv.dropped.Load()
	n, err := inv.counter.IncrBy(ctx, inv.opts.NamespacePrefix+ns, 0)
	if err != nil {
		err = fmt.Errorf("hoard: namespace %q version: %w", ns, err)
		if v, ok := inv.lastKnown.GetIfPresent(ns); ok {
			return v, fmt.Errorf("%w (%w)", errVersionUnconfirmed, err)
		}
		return namespaceVersion{}, err
	}
	return inv.keepVersion(ns, newNamespaceVersion(n), since), nil
}

// knownNamespaceVersion returns the version of ns this instance knows,
// without asking the Counter: its local copy, else the last one known.
func (inv *Invalidator) knownNamespaceVersion(ns string) (namespaceVersion, bool) {
	if v, ok := inv.namespaces.GetIfPresent(ns); ok {
		return v, true
	}
	return inv.lastKnown.GetIfPresent(ns)
}

// currentNamespaceVersion reads namespace ns's version from the Counter,
// past the local copy, and keeps it: for a writer that must know whether
// a bump happened while it wrote.
func (inv *Invalidator) currentNamespaceVersion(ctx context.Context, ns string) (namespaceVersion, error) {
	since := inv.dropped.Load()
	n, err := inv.counter.IncrBy(ctx, inv.opts.NamespacePrefix+ns, 0)
	if err != nil {
		return namespaceVersion{}, fmt.Errorf("hoard: namespace %q version: %w", ns, err)
	}
	return inv.keepVersion(ns, newNamespaceVersion(n), since), nil
}

// errVersionUnconfirmed comes with the last namespace version this
// instance knew, when the Counter cannot be read.
var errVersionUnconfirmed = errors.New("hoard: the namespace's version could not be read; the last one known is used")

// BumpNamespace makes every key of namespace ns unreachable, in O(1): the
// namespace's version moves on, and keys carry the version. Other
// instances learn of it through the bus at once, or within MaxStaleness.
func (inv *Invalidator) BumpNamespace(ctx context.Context, ns string) (int64, error) {
	n, err := inv.bump(ctx, inv.counter, ns)
	if err != nil {
		err = deferUnavailable(ctx, inv.opts.Breaker, err, false, "bump namespace "+ns, func(ctx context.Context) error {
			if _, err := inv.bump(ctx, inv.opts.Counter, ns); err != nil {
				return err
			}
			return inv.publishRaw(ctx, InvalidateNamespace, ns)
		})
		return 0, fmt.Errorf("hoard: bump namespace %q: %w", ns, err)
	}
	return n, inv.publish(ctx, InvalidateNamespace, ns)
}

// bump increments the namespace's version and keeps it as made here.
func (inv *Invalidator) bump(ctx context.Context, counter Counter, ns string) (int64, error) {
	// The drop count is taken before the bump, as for a read: another
	// instance's newer bump, heard of while this one's answer was on its
	// way, must not be replaced by this older version (see keepNewest).
	since := inv.dropped.Load()
	n, err := counter.IncrBy(ctx, inv.opts.NamespacePrefix+ns, 1)
	if err != nil {
		return 0, err
	}
	inv.madeHere(madeNamespace+ns, n)
	inv.keepVersion(ns, newNamespaceVersion(n), since)
	return n, nil
}

// InvalidateTags makes every entry tagged with one of tags, loaded before
// the call, invalid everywhere: readers check an entry's tags on every read
// and treat an invalidated one as absent, never serving it, not even stale.
func (inv *Invalidator) InvalidateTags(ctx context.Context, tags ...string) error {
	if len(tags) == 0 {
		return nil
	}
	// A load running here began before this call: it counts as older.
	inv.tagChanges.Add(1)
	if err := inv.invalidateTags(ctx, inv.tagClock, tags...); err != nil {
		for _, t := range tags {
			err = deferUnavailable(ctx, inv.opts.Breaker, err, false, "invalidate tag "+t, func(ctx context.Context) error {
				if err := inv.invalidateTags(ctx, inv.opts.TagClock, t); err != nil {
					return err
				}
				return inv.publishRaw(ctx, InvalidateTag, t)
			})
		}
		return fmt.Errorf("hoard: invalidate tags %q: %w", tags, err)
	}
	return inv.publish(ctx, InvalidateTag, tags...)
}

// invalidateTags stamps tags with a new epoch and keeps the stamps as made
// here.
func (inv *Invalidator) invalidateTags(ctx context.Context, clock TagClock, tags ...string) error {
	since := inv.dropped.Load() // before the call: see bump
	epoch, err := clock.InvalidateTags(ctx, tags...)
	if err != nil {
		return err
	}
	for _, t := range tags {
		inv.madeHere(madeTag+t, epoch)
		inv.keepStamp(t, epoch, since)
	}
	changes := inv.tagChanges.Add(1)
	inv.keepEpoch(epochReading{epoch: epoch, at: inv.opts.Clock.Now(), changes: changes})
	return nil
}

// publish tells the other instances, when there is a bus.
func (inv *Invalidator) publish(ctx context.Context, kind InvalidationKind, values ...string) error {
	if err := inv.publishRaw(ctx, kind, values...); err != nil {
		for _, v := range values {
			err = deferUnavailable(ctx, inv.opts.Breaker, err, true, "publish "+kind.String()+" "+v, func(ctx context.Context) error {
				return inv.publishRaw(ctx, kind, v)
			})
		}
		return fmt.Errorf("hoard: invalidation done, but telling other instances failed (they learn within MaxStaleness): %w", err)
	}
	return nil
}

// publishRaw tells the other instances, when there is a bus, without
// deferring: for a replay, which the breaker retries.
func (inv *Invalidator) publishRaw(ctx context.Context, kind InvalidationKind, values ...string) error {
	if inv.opts.Bus == nil {
		return nil
	}
	events := make([]Invalidation, len(values))
	for i, v := range values {
		events[i] = Invalidation{Kind: kind, Value: v}
	}
	return inv.opts.Bus.Publish(ctx, events...)
}

// valid reports whether an entry loaded at epoch with tags is still valid:
// no tag of it was invalidated at a later epoch. An error (the tag clock
// unreachable) reports false: an entry that cannot be checked is not served.
func (inv *Invalidator) valid(ctx context.Context, tags []string, epoch int64) bool {
	var missing []string
	for _, t := range tags {
		stamp, ok := inv.stamps.GetIfPresent(t)
		if !ok {
			missing = append(missing, t)
			continue
		}
		if stamp > epoch {
			return false
		}
	}
	if len(missing) == 0 {
		return true
	}
	since := inv.dropped.Load()
	stamps, err := inv.tagClock.TagEpochs(ctx, missing)
	if err != nil {
		return false
	}
	ok := true
	for i, t := range missing {
		if inv.keepStamp(t, stamps[i], since) > epoch {
			ok = false
		}
	}
	return ok
}
