package hoardredis

import (
	"fmt"
	"strings"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/defaults"
)

// Defaults of [Options].
const (
	// defaultMaxValueBytes is the largest encoded value a cache writes.
	defaultMaxValueBytes = 1 << 20
	// defaultTombstoneTTL is how long a Delete keeps out the loads that
	// began before it.
	defaultTombstoneTTL = time.Minute
	// defaultExpiredGrace is how long Redis keeps an entry past its
	// KeepUntil.
	defaultExpiredGrace = 10 * time.Second
	// defaultScanCount is the COUNT hint of each SCAN of DeletePrefix.
	defaultScanCount = 1000
	// defaultBatchSize is how many keys go in one MGET of GetMany.
	defaultBatchSize = 1000
	// defaultCounterTTL is how long a counter lives after its last use.
	defaultCounterTTL = 30 * 24 * time.Hour
	// defaultTagPrefix starts the keys of the tag clock.
	defaultTagPrefix = "{hoard:tags}"

	// MaxTTL is the longest TTL a cache gives a key in Redis, and the
	// largest TombstoneTTL and ExpiredGrace it takes: 100 years. An entry
	// kept longer (a FailSafe or TTL of about math.MaxInt64) is stored with
	// MaxTTL.
	MaxTTL = 100 * 365 * 24 * time.Hour
)

// Options configure a Redis [Cache]. The zero Options (or nil) give the
// defaults.
type Options struct {
	// Codec turns values into bytes. Default: hoard.JSON.
	Codec hoard.Codec

	// MaxValueBytes refuses values whose encoding is longer than this, and
	// keys longer than this, with hoard.ErrTooLarge. Default:
	// 1 << 20.
	MaxValueBytes int

	// TagPrefix starts the keys of the tag clock (its epoch and the tags'
	// stamps), so that services sharing a Redis keep their tags apart and a
	// Redis user limited to a key pattern (ACL ~app:*) can use tags. It
	// must hold a non-empty {hash tag}, as "app:{tags}" does: the script
	// that stamps tags touches those keys together, so on Cluster they must
	// share a slot. Default: "{hoard:tags}".
	TagPrefix string

	// TagStampTTL is how long the tag clock keeps a tag's stamp after
	// InvalidateTags, at most MaxTTL: a stamp is a key per tag, and
	// without a TTL every tag ever invalidated keeps one for ever. A
	// stamp that expired reads as at least as late as it was (see
	// TagEpochs), so an entry it invalidated is never valid again. The
	// price is that an entry loaded more than about TagStampTTL ago that
	// carries a tag with no stamp reads as invalidated: give a TTL above
	// the longest life of the entries whose tags this clock stamps (their
	// TTL plus the fail-safe window; [NewAside] asks for twice that).
	// Default: 0, stamps never expire.
	TagStampTTL time.Duration

	// TombstoneTTL is how long a Delete leaves a tombstone under the key,
	// at most MaxTTL.
	// A load that read the key before the Delete cannot CompareAndSet its
	// value while the tombstone lasts; a token of a key read as absent is
	// refused once it is older than this, so a load slower than
	// TombstoneTTL never stores after a Delete it did not see. Default:
	// time.Minute.
	TombstoneTTL time.Duration

	// ExpiredGrace is how long Redis keeps an entry past its KeepUntil, at
	// most MaxTTL (the entry's Redis TTL is capped at MaxTTL). Reads treat it as absent from KeepUntil on, but its generation stays
	// readable as the key's token: a load that began as the entry expired
	// can still store its value, and one that read the key as absent
	// cannot store over an entry written and expired meanwhile. Tokens of
	// absent keys are refused once older than the lesser of ExpiredGrace and
	// TombstoneTTL, so loads slower than that are not written back. It
	// costs memory: entries stay ExpiredGrace longer in Redis. Default:
	// 10 * time.Second.
	ExpiredGrace time.Duration

	// CounterTTL is how long a counter (hoard.Counter, hoard.FloorCounter:
	// the namespace versions, and the per-id versions of write-through and
	// write-behind) lives in Redis after its last IncrBy or IncrAtLeast,
	// each of which renews it, at most MaxTTL. Without it every id ever
	// written keeps a key for ever. A counter that expired starts again as
	// a new one does, from the time in microseconds (IncrBy) or the floor
	// (IncrAtLeast), so it comes back above every value it handed out
	// unless some process's clock ran ahead of the others' by more than
	// CounterTTL. A namespace whose counter expired moves its keys to a new
	// version: its entries load again, as after a bump. Default:
	// 30 days; negative: counters never expire.
	CounterTTL time.Duration

	// ScanCount is the COUNT hint of the SCANs of DeletePrefix. Default:
	// 1000.
	ScanCount int

	// BatchSize is how many keys GetMany asks for in one MGET. Default:
	// 1000.
	BatchSize int

	// Clock reads the time that entry times are measured against to set
	// Redis TTLs. Default: the system clock.
	Clock hoard.Clock
}

func (o *Options) validate() error {
	switch {
	case o.MaxValueBytes < 0:
		return fmt.Errorf("%w: redis: MaxValueBytes %d is negative", hoard.ErrInvalidOption, o.MaxValueBytes)
	case o.TagStampTTL < 0:
		return fmt.Errorf("%w: redis: TagStampTTL %v is negative", hoard.ErrInvalidOption, o.TagStampTTL)
	case o.TagStampTTL > 0 && o.TagStampTTL < time.Millisecond:
		return fmt.Errorf("%w: redis: TagStampTTL %v is under Redis's 1ms resolution", hoard.ErrInvalidOption, o.TagStampTTL)
	case o.TagStampTTL > MaxTTL:
		return fmt.Errorf("%w: redis: TagStampTTL %v is over MaxTTL %v", hoard.ErrInvalidOption, o.TagStampTTL, MaxTTL)
	case o.TombstoneTTL < 0:
		return fmt.Errorf("%w: redis: TombstoneTTL %v is negative", hoard.ErrInvalidOption, o.TombstoneTTL)
	case o.TombstoneTTL > 0 && o.TombstoneTTL < time.Millisecond:
		return fmt.Errorf("%w: redis: TombstoneTTL %v is under Redis's 1ms resolution", hoard.ErrInvalidOption, o.TombstoneTTL)
	case o.TombstoneTTL > MaxTTL:
		return fmt.Errorf("%w: redis: TombstoneTTL %v is over MaxTTL %v", hoard.ErrInvalidOption, o.TombstoneTTL, MaxTTL)
	case o.ExpiredGrace < 0:
		return fmt.Errorf("%w: redis: ExpiredGrace %v is negative", hoard.ErrInvalidOption, o.ExpiredGrace)
	case o.ExpiredGrace > MaxTTL:
		return fmt.Errorf("%w: redis: ExpiredGrace %v is over MaxTTL %v", hoard.ErrInvalidOption, o.ExpiredGrace, MaxTTL)
	case o.CounterTTL > 0 && o.CounterTTL < time.Millisecond:
		return fmt.Errorf("%w: redis: CounterTTL %v is under Redis's 1ms resolution", hoard.ErrInvalidOption, o.CounterTTL)
	case o.CounterTTL > MaxTTL:
		return fmt.Errorf("%w: redis: CounterTTL %v is over MaxTTL %v", hoard.ErrInvalidOption, o.CounterTTL, MaxTTL)
	case o.ScanCount < 0:
		return fmt.Errorf("%w: redis: ScanCount %d is negative", hoard.ErrInvalidOption, o.ScanCount)
	case o.BatchSize < 0:
		return fmt.Errorf("%w: redis: BatchSize %d is negative", hoard.ErrInvalidOption, o.BatchSize)
	case o.TagPrefix != "" && !hasHashTag(o.TagPrefix):
		return fmt.Errorf("%w: redis: TagPrefix %q holds no non-empty {hash tag}", hoard.ErrInvalidOption, o.TagPrefix)
	}
	return nil
}

func (o Options) withDefaults() Options {
	o.Codec = defaults.Codec(o.Codec)
	o.Clock = defaults.Clock(o.Clock)
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = defaultMaxValueBytes
	}
	if o.TombstoneTTL == 0 {
		o.TombstoneTTL = defaultTombstoneTTL
	}
	if o.ExpiredGrace == 0 {
		o.ExpiredGrace = defaultExpiredGrace
	}
	if o.CounterTTL == 0 {
		o.CounterTTL = defaultCounterTTL
	}
	if o.ScanCount == 0 {
		o.ScanCount = defaultScanCount
	}
	if o.BatchSize == 0 {
		o.BatchSize = defaultBatchSize
	}
	if o.TagPrefix == "" {
		o.TagPrefix = defaultTagPrefix
	}
	return o
}

// hasHashTag reports whether key holds a Redis Cluster hash tag: a "{"
// followed, not at once, by a "}" (the first such pair decides the slot).
func hasHashTag(key string) bool {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return false
	}
	end := strings.IndexByte(key[open+1:], '}')
	return end > 0
}
