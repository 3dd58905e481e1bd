package hoard

import (
	"context"
	"time"
)

// Cache stores entries of one value type under string keys. It is the storage
// layer every pattern in hoard is built on; [github.com/hoard-cache/hoard/backends/memory]
// and [github.com/hoard-cache/hoard/backends/hoardredis] implement it, and
// [github.com/hoard-cache/hoard/hoardtest.TestCache] checks any implementation.
//
// A Cache keeps an entry until its [Entry.KeepUntil] and no longer; whether a
// kept entry is still fresh is for the caller to decide with [Entry.IsFresh].
// Implementations are safe for concurrent use.
//
// Further abilities are optional interfaces, found by type assertion as
// io.WriterTo is: [ManyGetter], [ManySetter], [PrefixDeleter], [Clearer],
// [Counter], [FloorCounter] and [CompareAndSetter].
type Cache[V any] interface {
	// Get returns the entry under key, or an error wrapping [ErrNotFound].
	Get(ctx context.Context, key string) (Entry[V], error)

	// Set stores e under key, replacing what was there, and assigns it a new
	// generation. An entry whose KeepUntil has already passed is not stored,
	// and the key is deleted instead. A value over the cache's maximum size
	// is refused with [ErrTooLarge] and the old entry stays.
	Set(ctx context.Context, key string, e Entry[V]) error

	// Delete removes the entries under keys. Deleting an absent key is not an
	// error. A delete invalidates tokens taken before it (see [CompareAndSetter]).
	Delete(ctx context.Context, keys ...string) error
}

// Entry is a value with the metadata the caching patterns need. The zero
// Entry holds the zero value, never expires and is not negative.
type Entry[V any] struct {
	// Value is the cached value. It is the zero value in a negative entry.
	Value V

	// WrittenAt is when the value was produced (loaded or written).
	WrittenAt time.Time

	// ExpiresAt is when the entry stops being fresh. The zero time means
	// never.
	ExpiresAt time.Time

	// StaleUntil, when after ExpiresAt, keeps the entry past its expiry so a
	// fail-safe can serve it stale while the source is down. The zero time
	// means the entry is dropped at ExpiresAt.
	StaleUntil time.Time

	// LoadDuration is how long the load that produced the value took. Early
	// refresh (XFetch) uses it to decide when to recompute.
	LoadDuration time.Duration

	// Negative marks a cached "not found": the source had no value for the key.
	Negative bool

	// Generation is set by the cache on every write: it differs from the
	// generation of every earlier write of the key. Values given to Set are
	// ignored.
	Generation uint64

	// Tags name the families the entry belongs to (for example "product:42"),
	// for tag invalidation.
	Tags []string

	// TagEpoch is the tag clock's epoch read before the load that produced
	// the value (see [TagClock]): the entry is invalid once one of its Tags
	// was invalidated at a later epoch.
	TagEpoch int64
}

// KeepUntil is when a cache drops the entry: the later of ExpiresAt and
// StaleUntil. The zero time means never.
func (e *Entry[V]) KeepUntil() time.Time {
	if e.ExpiresAt.IsZero() {
		return time.Time{}
	}
	if e.StaleUntil.After(e.ExpiresAt) {
		return e.StaleUntil
	}
	return e.ExpiresAt
}

// IsFresh reports whether the entry has not yet expired at now.
func (e *Entry[V]) IsFresh(now time.Time) bool {
	return e.ExpiresAt.IsZero() || now.Before(e.ExpiresAt)
}

// IsKept reports whether a cache still holds the entry at now: fresh, or
// stale but before StaleUntil.
func (e *Entry[V]) IsKept(now time.Time) bool {
	keep := e.KeepUntil()
	return keep.IsZero() || now.Before(keep)
}

// ManyGetter is a [Cache] that reads many keys in one round trip.
type ManyGetter[V any] interface {
	// GetMany returns the entries found under keys; absent keys are left out
	// of the map. An entry that cannot be decoded is left out too, and err
	// joins an [ErrCorrupt] error for each such key: the map still holds every
	// entry that was read, even when err is not nil.
	GetMany(ctx context.Context, keys []string) (map[string]Entry[V], error)
}

// ManyTokenGetter is a [CompareAndSetter] that reads many keys and their
// tokens in one round trip, for batch loads with stale-set protection.
type ManyTokenGetter[V any] interface {
	// GetManyWithTokens reads keys and calls each once for every key
	// (in no set order), with the key's position i in keys, the entry
	// found (nil when the key holds none, or one that cannot be decoded)
	// and the key's token, found or not, which is valid when tokOK. A
	// key whose token could not be read (a corrupt entry) has tokOK
	// false. The entry is read-only and valid only during the call: copy
	// what is kept. Entries are handed over one by one, so a batch read
	// builds no intermediate map or slice of them.
	//
	// err joins an [ErrCorrupt] error for each entry that cannot be
	// decoded. When the read itself fails, each is not called and err
	// says why.
	GetManyWithTokens(ctx context.Context, keys []string, each func(i int, e *Entry[V], tok Token, tokOK bool)) error
}

// TokenWrite is one write of [ManyCompareAndSetter.CompareAndSetMany].
type TokenWrite[V any] struct {
	Key   string
	Token Token
	Entry Entry[V]
}

// ManyCompareAndSetter is a [CompareAndSetter] that compares-and-sets many
// keys in one round trip.
type ManyCompareAndSetter[V any] interface {
	// CompareAndSetMany does CompareAndSet for every write. Each write
	// stands alone: err joins one error per write that failed (wrapping
	// [ErrConflict] for a key that moved on), and the others are stored.
	CompareAndSetMany(ctx context.Context, writes []TokenWrite[V]) error
}

// ManySetter is a [Cache] that writes many entries in one round trip.
type ManySetter[V any] interface {
	// SetMany stores every entry as Set would. An entry over the maximum size
	// fails the whole call with [ErrTooLarge] before anything is written.
	SetMany(ctx context.Context, entries map[string]Entry[V]) error
}

// PrefixDeleter is a [Cache] that deletes every key that starts with a prefix.
type PrefixDeleter interface {
	// DeletePrefix deletes every key starting with prefix and returns how
	// many it deleted. Its cost is a backend's own: O(n) in the keys held,
	// for a Redis SCAN. Version keys and tags invalidate in O(1) instead.
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

// Clearer is a [Cache] that can drop all its entries at once.
type Clearer interface {
	// Clear drops every entry and invalidates every token taken before it.
	Clear(ctx context.Context) error
}

// Counter is a [Cache] that keeps integer counters beside its entries, as
// namespace and tag versions need. Counter keys share the key space of the
// entries: give them their own prefix.
type Counter interface {
	// IncrBy adds delta to the counter under key and returns the new value.
	// A counter that does not exist yet starts from the current Unix time in
	// microseconds, so a counter that was lost (an evicted memory entry, a
	// Redis restarted empty, a Redis counter past its CounterTTL) comes
	// back larger than it ever was, and never repeats an old version.
	// IncrBy with delta 0 reads the counter.
	IncrBy(ctx context.Context, key string, delta int64) (int64, error)
}

// FloorCounter is a [Counter] that can also move a counter to at least a
// floor in one atomic step, as the shared part of a hybrid logical clock
// needs (see [HybridVersioner]).
type FloorCounter interface {
	Counter
	// IncrAtLeast sets the counter under key to the larger of its value
	// plus one and floor, and returns the new value. A counter that does
	// not exist yet becomes floor. floor must be above 0.
	IncrAtLeast(ctx context.Context, key string, floor int64) (int64, error)
}

// TagClock is a [Cache] that keeps the clock of tag invalidation: one epoch
// shared by every tag, and the epoch at which each tag was last
// invalidated. An entry remembers the epoch read before its load began; it
// is invalid once any of its tags was invalidated at a later epoch, so an
// invalidation that lands while a load runs still poisons the load, even
// though the load learns its tags only at its end.
type TagClock interface {
	// Epoch returns the current epoch. A clock that does not exist yet
	// starts from the time in microseconds, as a [Counter] does.
	Epoch(ctx context.Context) (int64, error)
	// InvalidateTags advances the epoch and stamps every tag with the new
	// epoch, atomically, and returns it.
	InvalidateTags(ctx context.Context, tags ...string) (int64, error)
	// TagEpochs returns the epoch at which each tag was last invalidated,
	// aligned with tags. A tag never invalidated since the clock started
	// reads as the epoch the clock started at (or 0, for a clock that
	// cannot lose its stamps without losing the entries too): a clock lost
	// with its stamps (a Redis restarted empty) starts again later than any
	// epoch an old entry carries, so those entries read as invalidated.
	TagEpochs(ctx context.Context, tags []string) ([]int64, error)
}

// Token is a key's write position, taken by [CompareAndSetter.GetWithToken].
// It is opaque: compare tokens only by handing them back to the cache.
type Token uint64

// CompareAndSetter is a [Cache] with stale-set protection: a load that read a
// key and then computed a value can store it only if nobody wrote or
// invalidated the key meanwhile, in the manner of the leases of "Scaling
// Memcache at Facebook".
type CompareAndSetter[V any] interface {
	// GetWithToken is Get that also returns the key's token. The token is
	// valid on a miss too (err wraps [ErrNotFound]), and for an entry whose
	// value no longer decodes but whose metadata does (err wraps
	// [ErrCorrupt], the token is not 0), so a write can replace it.
	GetWithToken(ctx context.Context, key string) (Entry[V], Token, error)

	// CompareAndSet stores e under key if no Set, Delete, DeletePrefix,
	// Clear or CompareAndSet of key happened since tok was taken. Otherwise
	// it stores nothing and returns an error wrapping [ErrConflict].
	CompareAndSet(ctx context.Context, key string, tok Token, e Entry[V]) error
}
