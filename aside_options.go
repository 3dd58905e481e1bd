package hoard

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults of [AsideOptions].
const (
	DefaultTTL              = 5 * time.Minute
	DefaultJitter           = 0.1
	DefaultNegativeTTL      = 30 * time.Second
	DefaultFailSafeThrottle = 30 * time.Second
	DefaultLockTTL          = 10 * time.Second
	DefaultLockWait         = 5 * time.Second
	DefaultBeta             = 1.0
	DefaultRefreshBackoff   = time.Second
	// DefaultEarlyRefreshDraws is how many XFetch draws a process makes at
	// most per key per load duration.
	DefaultEarlyRefreshDraws = 16
)

// LockFallback says what a reader does when it has waited LockWait for
// another process's load and no value has appeared.
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

// AsideOptions configure an [Aside], one per endpoint or repository method.
// The zero value is valid once a tier is given.
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

	// TTL is how long a loaded value stays fresh. Default: DefaultTTL.
	TTL time.Duration

	// Jitter shortens each TTL by a random share of up to Jitter (0 to 1),
	// so keys loaded together do not expire together. Default:
	// DefaultJitter; set a negative value for none.
	Jitter float64

	// MemoryTTL caps how long the memory tier keeps a value fresh: the
	// longest an instance can serve a value another instance has replaced
	// when no invalidation reaches it. Default: TTL.
	MemoryTTL time.Duration

	// NegativeTTL is how long a loader's "not found" is cached. Default:
	// DefaultNegativeTTL; set a negative value to cache no "not found".
	NegativeTTL time.Duration

	// FailSafe is how long past its expiry a value is kept to be served
	// stale when the loader fails or times out. Default: 0, no fail-safe.
	FailSafe time.Duration

	// FailSafeThrottle is how long a stale value served by the fail-safe is
	// then served as fresh, so a failing source is not asked again on
	// every read. Default: DefaultFailSafeThrottle.
	FailSafeThrottle time.Duration

	// LoadTimeout bounds each loader call (the hard timeout); past it the
	// load fails, and the fail-safe applies. Keep it below the Redis tier's
	// TombstoneTTL: a load that read a key as absent and outlives that TTL
	// is refused its write-back (the tombstone that would prove no delete
	// came meanwhile is gone). Default: no bound but ctx's.
	LoadTimeout time.Duration

	// EarlyRefresh turns on probabilistic early refresh (XFetch): a reader
	// of a fresh entry that nears its expiry may start a refresh in the
	// background, and still gets the current value at once. The chance
	// grows as expiry nears, scaled by the entry's load duration and Beta,
	// so about one reader refreshes before the entry expires and readers
	// never wait for a recompute of a hot key. With a Locker, one process
	// refreshes; the others keep serving. Default: off.
	EarlyRefresh bool

	// Beta scales how early XFetch refreshes: above 1 earlier, below 1
	// later. Default: DefaultBeta (1, the paper's optimum).
	Beta float64

	// EarlyRefreshDraws is how many XFetch draws a process makes at most
	// per key in the time the key's last load took (delta); the reads in
	// between keep the last draw's verdict. It keeps a hot key's refresh
	// from coming earlier the more it is read: the lead before expiry stays
	// about delta*Beta*(ln(N*EarlyRefreshDraws*Beta) + 0.58) for N
	// processes, where a draw on every read gives
	// delta*Beta*(ln(reads per delta*Beta) + 0.58). Negative: a draw on
	// every read, as in the paper's model. Default:
	// DefaultEarlyRefreshDraws.
	EarlyRefreshDraws int

	// RefreshBackoff is how long a key waits before another background
	// refresh after one failed; it doubles with each failure in a row, up
	// to TTL. The old value is served meanwhile until it expires, then the
	// fail-safe applies. Default: DefaultRefreshBackoff.
	RefreshBackoff time.Duration

	// Locker, when set, makes a miss one load across every process sharing
	// it (distributed stampede protection): the process that takes the
	// key's lock loads; the others wait for the value to appear in the
	// shared tier, polling it with backoff from 2ms to 50ms. Default: nil,
	// one load per process.
	Locker Locker

	// LockTTL is how long a lock lasts; the holder refreshes it every
	// LockTTL/3 while its loader runs, so a crashed holder frees the key
	// within LockTTL. Default: DefaultLockTTL.
	LockTTL time.Duration

	// LockWait bounds a wait for another process's load; then LockFallback
	// applies. Default: DefaultLockWait.
	LockWait time.Duration

	// LockFallback is what a reader does after LockWait. Default:
	// LockFallbackLoad.
	LockFallback LockFallback

	// SoftTimeout, when a stale value within the fail-safe window is at
	// hand, bounds how long a reader waits for a load: past it the reader
	// gets the stale value (with ErrServedStale) and the load goes on in
	// the background, writing back when done (see Aside.Close). Default: 0,
	// readers wait for the load (up to LoadTimeout).
	SoftTimeout time.Duration

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

// maxDuration bounds every duration option: a century, far past any
// useful TTL, and small enough that sums of them (a TTL plus a fail-safe
// window plus a backend's grace) cannot overflow a time.Duration.
const maxDuration = 100 * 365 * 24 * time.Hour

func (o *AsideOptions[V]) validate() error {
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"TTL", o.TTL}, {"MemoryTTL", o.MemoryTTL}, {"NegativeTTL", o.NegativeTTL}, {"FailSafe", o.FailSafe},
		{"FailSafeThrottle", o.FailSafeThrottle}, {"LoadTimeout", o.LoadTimeout}, {"SoftTimeout", o.SoftTimeout},
		{"RefreshBackoff", o.RefreshBackoff}, {"LockTTL", o.LockTTL}, {"LockWait", o.LockWait}} {
		if d.d > maxDuration {
			return fmt.Errorf("%w: aside %q: %s %v is more than the limit of 100 years", ErrInvalidOption, o.Name, d.name, d.d)
		}
	}
	switch {
	case o.Memory == nil && o.Shared == nil:
		return fmt.Errorf("%w: aside %q: no tier: set Memory, Shared or both", ErrInvalidOption, o.Name)
	case o.TagsOf != nil && o.Invalidator == nil:
		return fmt.Errorf("%w: aside %q: TagsOf needs an Invalidator", ErrInvalidOption, o.Name)
	case o.Namespace != "" && o.Invalidator == nil:
		return fmt.Errorf("%w: aside %q: Namespace %q needs an Invalidator", ErrInvalidOption, o.Name, o.Namespace)
	case o.TTL < 0:
		return fmt.Errorf("%w: aside %q: TTL %v is negative", ErrInvalidOption, o.Name, o.TTL)
	case o.Jitter > 1:
		return fmt.Errorf("%w: aside %q: Jitter %v is above 1", ErrInvalidOption, o.Name, o.Jitter)
	case o.MemoryTTL < 0:
		return fmt.Errorf("%w: aside %q: MemoryTTL %v is negative", ErrInvalidOption, o.Name, o.MemoryTTL)
	case o.FailSafe < 0:
		return fmt.Errorf("%w: aside %q: FailSafe %v is negative", ErrInvalidOption, o.Name, o.FailSafe)
	case o.FailSafeThrottle < 0:
		return fmt.Errorf("%w: aside %q: FailSafeThrottle %v is negative", ErrInvalidOption, o.Name, o.FailSafeThrottle)
	case o.LockTTL < 0 || (o.LockTTL > 0 && o.LockTTL < 3*time.Millisecond):
		return fmt.Errorf("%w: aside %q: LockTTL %v is negative or below 3ms", ErrInvalidOption, o.Name, o.LockTTL)
	case o.LockWait < 0:
		return fmt.Errorf("%w: aside %q: LockWait %v is negative", ErrInvalidOption, o.Name, o.LockWait)
	case o.LockFallback > LockFallbackError:
		return fmt.Errorf("%w: aside %q: unknown LockFallback %d", ErrInvalidOption, o.Name, o.LockFallback)
	case o.Beta < 0 || math.IsNaN(o.Beta) || math.IsInf(o.Beta, 0):
		return fmt.Errorf("%w: aside %q: Beta %v is not a finite number ≥ 0", ErrInvalidOption, o.Name, o.Beta)
	case o.RefreshBackoff < 0:
		return fmt.Errorf("%w: aside %q: RefreshBackoff %v is negative", ErrInvalidOption, o.Name, o.RefreshBackoff)
	case o.SoftTimeout < 0:
		return fmt.Errorf("%w: aside %q: SoftTimeout %v is negative", ErrInvalidOption, o.Name, o.SoftTimeout)
	case o.LoadTimeout < 0:
		return fmt.Errorf("%w: aside %q: LoadTimeout %v is negative", ErrInvalidOption, o.Name, o.LoadTimeout)
	}
	return nil
}

func (o AsideOptions[V]) withDefaults() (AsideOptions[V], error) {
	if o.Name == "" {
		o.Name = "aside"
	}
	if o.Keys == (KeyBuilder{}) {
		kb, err := NewKeyBuilder(o.Name, nil)
		if err != nil {
			return o, fmt.Errorf("aside name as key prefix: %w", err)
		}
		o.Keys = kb
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	switch {
	case o.Jitter == 0:
		o.Jitter = DefaultJitter
	case o.Jitter < 0:
		o.Jitter = 0
	}
	if o.MemoryTTL == 0 || o.MemoryTTL > o.TTL {
		o.MemoryTTL = o.TTL
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.FailSafeThrottle == 0 {
		o.FailSafeThrottle = DefaultFailSafeThrottle
	}
	if o.Beta == 0 {
		o.Beta = DefaultBeta
	}
	if o.EarlyRefreshDraws == 0 {
		o.EarlyRefreshDraws = DefaultEarlyRefreshDraws
	}
	if o.RefreshBackoff == 0 {
		o.RefreshBackoff = DefaultRefreshBackoff
	}
	if o.LockTTL == 0 {
		o.LockTTL = DefaultLockTTL
	}
	if o.LockWait == 0 {
		o.LockWait = DefaultLockWait
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(o.Name, nil)
	}
	o.Clock = clockOrSystem(o.Clock)
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return o, nil
}
