package hoard

import "context"

// Store is the repository behind a cache: the source of truth that
// write-through and write-behind save to, and that cache-aside loads from
// (a Store is a [Loader]).
//
// Every save and delete carries a version, monotonic per id across every
// writer (see [Versioner]). A Store must apply a write only if its version
// is newer than the one it holds for the id, so a write retried or
// replayed late never overwrites a newer one; in SQL, an upsert with
// "WHERE stored.version < new.version".
//
// Where the versions come from decides what a cache outage does to writes.
// A Store that picks them itself, in the write's own transaction, is a
// [VersioningStore], and [WriteThrough] then needs nothing but the store.
// Otherwise the default is a [HybridVersioner]: versions from a counter in
// the cache's Redis while it answers, and from the clock when it does not,
// so writes go on through an outage, ordered across processes to within
// their clocks' skew while it lasts (its doc says exactly what holds).
type Store[V any] interface {
	// Load returns the value of id, or an error wrapping [ErrNotFound].
	Load(ctx context.Context, id string) (V, error)
	// Save stores v as the value of id at version, unless the store holds
	// a newer version.
	Save(ctx context.Context, id string, v V, version uint64) error
	// Delete removes id at version, unless the store holds a newer
	// version. Deleting an absent id is not an error.
	Delete(ctx context.Context, id string, version uint64) error
}

// Write is one versioned change of a [Store]: a save, or a delete.
type Write[V any] struct {
	ID      string
	Value   V // the zero value for a delete
	Version uint64
	Delete  bool
}

// BatchStore is a [Store] that applies many writes in one call (one
// transaction, one multi-row statement). Write-behind uses it when the
// store has it. Each write obeys the version rule on its own.
type BatchStore[V any] interface {
	Store[V]
	WriteMany(ctx context.Context, writes []Write[V]) error
}

// VersioningStore is a [Store] that picks the versions of writes itself,
// in the same transaction as the write, from what it holds: the version of
// a write is above the one the store holds for the id, so writes of an id
// are ordered as the store applied them, whatever the callers' clocks, and
// a write needs nothing but the store. (stores/postgres is one: an upsert
// that sets the row's version to greatest(version + 1, floor).)
//
// The floor keeps the versions comparable with those other writers give
// Save and Delete ([WriteBehind], a [Versioner]): [WriteThrough] passes its
// hybrid clock's reading, the time in microseconds or above. A write with
// a version from elsewhere still obeys the version rule against the
// versions the store picked.
type VersioningStore[V any] interface {
	Store[V]
	// SaveNext stores v as the value of id at a version above the one the
	// store holds for id (a save's or a delete's) and at least floor, and
	// returns that version.
	SaveNext(ctx context.Context, id string, v V, floor uint64) (uint64, error)
	// DeleteNext removes id at a version chosen as SaveNext chooses it, and
	// returns it. The store must remember the version of a deleted id (a
	// tombstone) so that an older save arriving later is refused.
	DeleteNext(ctx context.Context, id string, floor uint64) (uint64, error)
}

// StoreFuncs adapts three functions to a [Store]. A nil function makes its
// method fail with [ErrInvalidOption].
type StoreFuncs[V any] struct {
	LoadFunc   func(ctx context.Context, id string) (V, error)
	SaveFunc   func(ctx context.Context, id string, v V, version uint64) error
	DeleteFunc func(ctx context.Context, id string, version uint64) error
}

var _ Store[int] = StoreFuncs[int]{}

// Load calls LoadFunc.
func (f StoreFuncs[V]) Load(ctx context.Context, id string) (V, error) {
	if f.LoadFunc == nil {
		var zero V
		return zero, missingFunc("LoadFunc")
	}
	return f.LoadFunc(ctx, id)
}

// Save calls SaveFunc.
func (f StoreFuncs[V]) Save(ctx context.Context, id string, v V, version uint64) error {
	if f.SaveFunc == nil {
		return missingFunc("SaveFunc")
	}
	return f.SaveFunc(ctx, id, v, version)
}

// Delete calls DeleteFunc.
func (f StoreFuncs[V]) Delete(ctx context.Context, id string, version uint64) error {
	if f.DeleteFunc == nil {
		return missingFunc("DeleteFunc")
	}
	return f.DeleteFunc(ctx, id, version)
}

func missingFunc(name string) error {
	return &missingFuncError{name}
}

type missingFuncError struct{ name string }

func (e *missingFuncError) Error() string {
	return "hoard: invalid option: StoreFuncs." + e.name + " is nil"
}
func (e *missingFuncError) Is(target error) bool { return target == ErrInvalidOption }

// Versioner hands out the versions of writes: for each id, every version is
// greater than every version handed out before, by any process sharing the
// versioner. A versioner's doc says what it does when the state it shares
// cannot be reached: [CounterVersioner] fails, so the write does too;
// [HybridVersioner] (the default) hands out versions from the clock, still
// strictly increasing within the process and comparable with its counter's,
// and ordered across processes to within their clock skew.
type Versioner interface {
	NextVersion(ctx context.Context, id string) (uint64, error)
}

// CounterVersioner hands out versions from a [Counter] under
// Prefix + id: a Redis counter is shared by every process. A counter that
// was lost (a restart) starts again from the time in microseconds, larger
// than any version it gave before as long as versions of one id are taken
// less than once a microsecond on average. When the Counter fails, so does
// NextVersion, and with it the write: with Redis down, nothing is written
// to the store. [HybridVersioner] uses the same counters and goes on.
type CounterVersioner struct {
	Counter Counter
	Prefix  string // default "ver:"
}

// NextVersion increments the id's counter and returns it.
func (v CounterVersioner) NextVersion(ctx context.Context, id string) (uint64, error) {
	prefix := v.Prefix
	if prefix == "" {
		prefix = "ver:"
	}
	n, err := v.Counter.IncrBy(ctx, prefix+id, 1)
	if err != nil {
		return 0, err
	}
	return uint64(n), nil
}
