package memory

import (
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/defaults"
)

// Defaults of [Options].
const (
	// defaultMaxEntries bounds a cache given neither MaxEntries nor MaxBytes.
	defaultMaxEntries = 10_000
	// defaultMaxValueBytes is the largest value a cache takes by default.
	defaultMaxValueBytes = 1 << 20
	// defaultMaxCounters bounds the counters kept beside the entries.
	defaultMaxCounters = 1 << 16
)

// Options configure a memory [Cache]. The zero Options (or nil) give a cache
// of 10_000 entries.
type Options[V any] struct {
	// MaxEntries bounds the number of entries. Default: 10_000
	// when MaxBytes is unset too, otherwise no count bound.
	MaxEntries int

	// MaxBytes bounds the sum of entry sizes as the Weigher measures them.
	// When MaxEntries is set as well, both bounds hold: each entry is
	// charged at least MaxBytes/MaxEntries. Default: no byte bound.
	MaxBytes uint64

	// Weigher returns the size in bytes of a value. Default: len for string
	// and []byte, Size() for values with a Size() int method, and the
	// shallow size (unsafe.Sizeof) otherwise: give a Weigher when values hold
	// pointers and MaxBytes must mean bytes. The key and the tags are added
	// to the weight either way.
	Weigher func(key string, value V) int

	// MaxValueBytes refuses values larger than this (as the Weigher measures
	// them) with hoard.ErrTooLarge. Default: 1 << 20, or
	// MaxBytes if smaller.
	MaxValueBytes int

	// MaxCounters bounds the counters of IncrBy. A counter pushed out starts
	// again from the current time (see hoard.Counter), so it never repeats
	// an old value. Default: 1 << 16.
	MaxCounters int

	// Metrics, when set, counts the entries pushed out for room or by
	// expiry as hoard.EventEviction at hoard.TierMemory. Give it the
	// Metrics of the Aside in front of this cache to see evictions beside
	// its hit rate.
	Metrics *hoard.Metrics

	// TagStampTTL is how long the cache, used as a hoard.TagClock, keeps
	// a tag's stamp after InvalidateTags; then it drops it. A dropped
	// stamp still counts: a tag with no stamp reads as the latest stamp
	// dropped, so the entries it invalidated stay invalid. The price is
	// that an entry whose tag epoch is older than that, and that has a
	// tag with no stamp, reads as invalidated too: keep stamps longer
	// than the entries whose tags they check live. Default: twice the
	// longest life (KeepUntil less the time of the write) of a tagged
	// entry this cache has stored, which fits a cache that holds the
	// entries its stamps check (the Memory of an Aside whose
	// Invalidator's TagClock it is); stamps are kept for ever while it has
	// stored none, or one kept for ever. Negative: for ever.
	TagStampTTL time.Duration

	// Clock reads the time for expiry. Default: the system clock. A
	// hoardtest.FakeClock makes expiry move only when the test says so.
	Clock hoard.Clock

	// ExpiryResolution is how often the cache reads the system clock for
	// expiry: otter reads the time on every access, and a read of the
	// system clock costs as much as the rest of a hit on many virtual
	// machines, so by default one goroutine per process reads it once a
	// millisecond and every cache reads that reading. An entry then
	// expires up to ExpiryResolution late, and later while the process is
	// starved of CPU. Negative: read the clock on every access, for
	// expiry to the nanosecond. Only the system clock is read coarsely;
	// another Clock is read on every access. Default: 1ms.
	ExpiryResolution time.Duration
}

func (o *Options[V]) validate() error {
	switch {
	case o.MaxEntries < 0:
		return fmt.Errorf("%w: memory: MaxEntries %d is negative", hoard.ErrInvalidOption, o.MaxEntries)
	case o.MaxValueBytes < 0:
		return fmt.Errorf("%w: memory: MaxValueBytes %d is negative", hoard.ErrInvalidOption, o.MaxValueBytes)
	case o.MaxCounters < 0:
		return fmt.Errorf("%w: memory: MaxCounters %d is negative", hoard.ErrInvalidOption, o.MaxCounters)
	case o.MaxEntries > 0 && o.MaxBytes > 0 && o.MaxBytes < uint64(o.MaxEntries):
		return fmt.Errorf("%w: memory: MaxBytes %d is less than one byte per entry of MaxEntries %d",
			hoard.ErrInvalidOption, o.MaxBytes, o.MaxEntries)
	}
	return nil
}

// withDefaults returns a copy of o with every unset field at its default.
func (o Options[V]) withDefaults() Options[V] {
	if o.MaxEntries == 0 && o.MaxBytes == 0 {
		o.MaxEntries = defaultMaxEntries
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = defaultMaxValueBytes
		if o.MaxBytes > 0 && o.MaxBytes < uint64(o.MaxValueBytes) {
			o.MaxValueBytes = int(o.MaxBytes)
		}
	}
	if o.MaxCounters == 0 {
		o.MaxCounters = defaultMaxCounters
	}
	if o.Weigher == nil {
		o.Weigher = defaultWeigher[V]
	}
	o.Clock = defaults.Clock(o.Clock)
	if o.ExpiryResolution == 0 {
		o.ExpiryResolution = defaultExpiryResolution
	}
	return o
}
