package hoard

import (
	"log/slog"
	"time"
)

// AsideOptions configure an [Aside], one per endpoint or repository method.
// The zero value is valid once a tier is given. The optional features
// (FailSafe, Stampede, EarlyRefresh) are each a small struct: set it to
// turn the feature on, its zero fields take the defaults their docs state.
type AsideOptions[V any] struct {
	// Name names the cache in metrics and errors, and is the key prefix
	// when Keys is the zero KeyBuilder. Default: "aside".
	Name string

	// Keys turns ids into storage keys. Default: a KeyBuilder with Name as
	// prefix, so ids of different caches never share a key.
	Keys KeyBuilder

	// Memory is the in-process tier, read first; nil for none.
	Memory Cache[V]

	// Shared is the tier shared by every instance (Redis), read when the
	// memory tier misses; a value found there fills the memory tier. nil
	// for none. At least one of Memory and Shared must be set.
	Shared Cache[V]

	// TTL is how long a loaded value stays fresh. Default: 5 * time.Minute.
	// The memory backend tells its entries' expiry by a clock it reads
	// once a millisecond (memory.Options.ExpiryResolution), so a value
	// with no fail-safe window may be served from memory up to that late.
	TTL time.Duration

	// Jitter shortens each TTL by a random share of up to Jitter (0 to 1),
	// so keys loaded together do not expire together. Default:
	// 0.1; set a negative value for none.
	Jitter float64

	// MemoryTTL caps how long the memory tier keeps a value fresh: the
	// longest an instance can serve a value another instance has replaced
	// when no invalidation reaches it. Default: TTL.
	MemoryTTL time.Duration

	// NegativeTTL is how long a loader's "not found" is cached. Default:
	// 30 * time.Second; set a negative value to cache no "not found".
	NegativeTTL time.Duration

	// LoadTimeout bounds each loader call (the hard timeout); past it the
	// load fails, and the fail-safe applies. Keep it below the Redis tier's
	// TombstoneTTL: a load that read a key as absent and outlives that TTL
	// is refused its write-back (the tombstone that would prove no delete
	// came meanwhile is gone). Default: no bound but ctx's.
	LoadTimeout time.Duration

	// FailSafe, when set, keeps values past their expiry to be served stale
	// when the loader fails or is slow. Default: nil, no fail-safe.
	FailSafe *FailSafe

	// Stampede, when set, makes a miss one load across every process
	// sharing its Locker (distributed stampede protection). Within a
	// process a miss is always one load. Default: nil, one load per
	// process.
	Stampede *Stampede

	// EarlyRefresh, when set, turns on probabilistic early refresh (XFetch).
	// Default: nil, off.
	EarlyRefresh *EarlyRefresh

	// SharedBudget, when set, bounds the time spent on the shared tier
	// (soft and hard timeouts) and may move write-backs to the background.
	// Default: nil, shared-tier calls are bounded by the caller's ctx only.
	SharedBudget *SharedBudget

	// Breaker, when set, skips the shared tier while it is unavailable and
	// defers the changes that could not reach it (or the bus) until it is
	// back: see [CircuitBreaker]. Give every cache on one Redis the same
	// breaker, and the Invalidator too. Default: nil, every call tries the
	// tier and a change that fails returns its error.
	Breaker *CircuitBreaker

	// MaxBackground caps the work an Aside runs in the background at once:
	// early and soft-timeout refreshes, loads left to finish past a soft
	// timeout, background write-backs. Past it, new background work is
	// skipped, not queued: counted as [EventDropped] and logged at debug
	// level; the reader still gets its answer (the current or the stale
	// value), and a later read tries again. Default: 64; negative: no cap.
	MaxBackground int

	// Logger reports what no caller sees: background loads and refreshes
	// that failed, work dropped past its cap. Default: nil, silent.
	Logger *slog.Logger

	// Bus, when set, carries this cache's invalidations to every other
	// instance (Delete publishes the keys it deleted) and theirs to this
	// one, which evicts them from its memory tier. Default: nil; other
	// instances then see a change within MemoryTTL.
	Bus Bus

	// Invalidator enables namespaces and tags (see [Invalidator]). Default:
	// nil.
	Invalidator *Invalidator

	// TagsOf, when set, tags every value this cache stores, however it was
	// written: loaded by Get or GetMany, or put by a [WriteThrough] or
	// [WriteBehind]. Its tags add to those a loader gives with [SetTags]
	// or [SetTagsFor] and those given to Put. It needs an Invalidator.
	// Default: nil, only the tags given per load or per Put.
	TagsOf func(id string, v V) []string

	// Namespace, with an Invalidator, puts the namespace's version in every
	// key, so Invalidator.BumpNamespace makes them all unreachable at once.
	// Default: "", no namespace.
	Namespace string

	// Metrics counts what the cache does. Default: a new Metrics named
	// Name, with no Recorder; read it with [Aside.Metrics].
	Metrics *Metrics

	// Clock reads the time. Default: the system clock.
	Clock Clock

	// Rand returns uniform numbers in [0, 1) for the jitter and the XFetch
	// draws. Default: math/rand/v2's Float64.
	Rand func() float64
}

// FailSafe configures the fail-safe of an [Aside] (AsideOptions.FailSafe):
// a value past its expiry is kept for Window and served stale, joined with
// [ErrServedStale], when its loader fails, times out or, with SoftTimeout,
// is slow.
type FailSafe struct {
	// Window is how long past its expiry a value is kept to be served
	// stale. Required: a positive duration.
	Window time.Duration

	// Throttle is how long a stale value served by the fail-safe is then
	// served as fresh, so a failing source is not asked again on every
	// read. Default: 30 * time.Second.
	Throttle time.Duration

	// SoftTimeout, when a stale value within Window is at hand, bounds how
	// long a reader waits for a load: past it the reader gets the stale
	// value (with ErrServedStale) and the load goes on in the background,
	// writing back when done (see Aside.Close). Default: 0, readers wait
	// for the load (up to AsideOptions.LoadTimeout).
	SoftTimeout time.Duration
}

// Stampede configures the distributed stampede protection of an [Aside]
// (AsideOptions.Stampede): the process that takes a missing key's lock
// loads it; the others wait for the value to appear in the shared tier,
// polling it with backoff from 2ms to 50ms.
type Stampede struct {
	// Locker takes the per-key locks, shared by every process (for
	// example a hoardredis.Locker). Required.
	Locker Locker

	// LockTTL is how long a lock lasts; the holder refreshes it every
	// LockTTL/3 while its loader runs, so a crashed holder frees the key
	// within LockTTL. At least 3ms. Default: 10 * time.Second.
	LockTTL time.Duration

	// Wait bounds a wait for another process's load; then Fallback
	// applies. Default: 5 * time.Second.
	Wait time.Duration

	// Fallback is what a reader does after Wait. Default: LockFallbackLoad.
	Fallback LockFallback
}

// LockFallback says what a reader does when it has waited Stampede.Wait
// for another process's load and no value has appeared.
type LockFallback uint8

// The fallbacks.
const (
	// LockFallbackLoad loads anyway: the source may see a second load, the
	// reader gets a value. The default.
	LockFallbackLoad LockFallback = iota
	// LockFallbackStale serves a stale value within the fail-safe window,
	// joined with ErrServedStale and ErrLockTimeout, or fails with
	// ErrLockTimeout when there is none.
	LockFallbackStale
	// LockFallbackError fails with ErrLockTimeout.
	LockFallbackError
)

// EarlyRefresh configures probabilistic early refresh (XFetch) of an
// [Aside] (AsideOptions.EarlyRefresh): a reader of a fresh entry that nears
// its expiry may start a refresh in the background, and still gets the
// current value at once. The chance grows as expiry nears, scaled by the
// entry's load duration and Beta, so about one reader refreshes before the
// entry expires and readers never wait for a recompute of a hot key. With
// Stampede, one process refreshes; the others keep serving.
type EarlyRefresh struct {
	// Beta scales how early XFetch refreshes: above 1 earlier, below 1
	// later. Default: 1.0 (the paper's optimum).
	Beta float64

	// Draws is how many XFetch draws a process makes at most per key in
	// the time the key's last load took (delta); the reads in between keep
	// the last draw's verdict. It keeps a hot key's refresh from coming
	// earlier the more it is read: the lead before expiry stays about
	// delta*Beta*(ln(N*Draws*Beta) + 0.58) for N processes, where a draw on
	// every read gives delta*Beta*(ln(reads per delta*Beta) + 0.58).
	// Negative: a draw on every read, as in the paper's model. Default: 16.
	Draws int

	// Backoff is how long a key waits before another background refresh
	// after one failed; it doubles with each failure in a row, up to TTL.
	// The old value is served meanwhile until it expires, then the
	// fail-safe applies. Default: time.Second.
	Backoff time.Duration
}
