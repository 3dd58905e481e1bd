package hoard

import "errors"

// Sentinel errors. Every error hoard returns wraps one of these (or a ctx
// error), so callers match with [errors.Is] and never compare strings.
var (
	// ErrNotFound reports a key that has no entry. A cache-aside loader may
	// also return it to say the source has no such row (negative caching).
	ErrNotFound = errors.New("hoard: not found")

	// ErrTooLarge reports a value or key over a configured maximum size. The
	// write is refused and whatever the cache held before is left in place.
	ErrTooLarge = errors.New("hoard: too large")

	// ErrConflict reports a compare-and-set that lost: the key was written or
	// invalidated after its token was taken, so the stale value was not stored.
	ErrConflict = errors.New("hoard: conflict: key changed since token was taken")

	// ErrCorrupt reports bytes that do not decode: a malformed envelope read
	// from Redis, a payload the codec rejects, a compressed frame that lies
	// about its length.
	ErrCorrupt = errors.New("hoard: corrupt data")

	// ErrUnavailable reports a backend that could not be reached (connection
	// refused or reset, pool exhausted, client closed). It wraps the cause.
	ErrUnavailable = errors.New("hoard: backend unavailable")

	// ErrBackend reports an error answered by a reachable backend (a Redis
	// error reply such as WRONGTYPE or NOPERM). It wraps the cause.
	ErrBackend = errors.New("hoard: backend error")

	// ErrInvalidOption reports a bad option given to a constructor.
	ErrInvalidOption = errors.New("hoard: invalid option")

	// ErrServedStale is joined with a loader's error when cache-aside served
	// a stale value instead (the fail-safe): the value returned with it is
	// usable, only old. Test for it with errors.Is.
	ErrServedStale = errors.New("hoard: served stale")

	// ErrLockHeld reports a lock that another caller holds.
	ErrLockHeld = errors.New("hoard: lock held by another")

	// ErrLockNotHeld reports a refresh or release of a lock that is no
	// longer held: it expired, or was never taken.
	ErrLockNotHeld = errors.New("hoard: lock not held")

	// ErrLockTimeout reports a wait for another process's load that ran
	// past its limit (Stampede.Wait) with LockFallbackError.
	ErrLockTimeout = errors.New("hoard: lock wait timed out")

	// ErrStoreFailed reports a write-through whose store write failed: the
	// cache was left untouched.
	ErrStoreFailed = errors.New("hoard: store write failed")

	// ErrCacheFailed reports a write-through whose store write succeeded but
	// whose cache update did not; the key was invalidated instead, or, when
	// that failed too, the error says so and the cache may serve the old
	// value until its TTL.
	ErrCacheFailed = errors.New("hoard: cache update failed after the store write")

	// ErrDeferred is joined with the error of a change (a Delete, a tag
	// invalidation, a namespace bump, a write's invalidation) that the
	// shared tier or the bus could not take: the change was kept by the
	// [CircuitBreaker] and is replayed when the tier is back, before the
	// breaker closes. It was not lost.
	ErrDeferred = errors.New("hoard: change deferred until the shared tier is back")

	// ErrCircuitOpen wraps the error of a call the [CircuitBreaker] kept
	// from the shared tier while it is open; it also matches
	// [ErrUnavailable].
	ErrCircuitOpen error = circuitOpenError{}

	// ErrClosed reports a call on a cache that has been closed.
	ErrClosed = errors.New("hoard: closed")
)

// circuitOpenError is [ErrCircuitOpen]: an unavailable tier.
type circuitOpenError struct{}

func (circuitOpenError) Error() string {
	return "hoard: circuit open: the shared tier is skipped until it recovers"
}
func (circuitOpenError) Is(target error) bool { return target == ErrUnavailable }
