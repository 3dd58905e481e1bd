package hoardredis

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/defaults"
)

// ServiceOptions configure a [Service]. The zero ServiceOptions (or nil)
// give the defaults stated on each field.
type ServiceOptions struct {
	// MemoryMaxEntries bounds the memory tier of each cache the service
	// makes, by entries. Default: 10,000 (the memory backend's) when
	// MemoryMaxBytes is unset too, otherwise no count bound.
	MemoryMaxEntries int

	// MemoryMaxBytes bounds the memory tier of each cache the service
	// makes, by bytes as its weigher measures them: len for strings and
	// byte slices, a Size() int method when the value type has one, the
	// shallow size otherwise (see memory.Options.Weigher). Give value
	// types that hold pointers a Size method, or give a cache a memory
	// tier of your own (AsideOptions.Memory). Default: no byte bound.
	MemoryMaxBytes uint64

	// Codec encodes the values of every cache in Redis. Default:
	// hoard.JSON.
	Codec hoard.Codec

	// Recorder receives the events of every cache the service makes (the
	// Prometheus and OpenTelemetry adapters implement it), by cache name.
	// Each cache's own [hoard.Metrics] counts them either way. Default:
	// none.
	Recorder hoard.Recorder

	// InstanceID names this instance on the bus; it must be unique among
	// the instances of the application. Default: 128 random bits in hex.
	InstanceID string

	// MaxStaleness is how long an instance trusts its copy of a namespace
	// version or a tag stamp before reading it again, the backstop for a
	// lost bus message (see hoard.InvalidatorOptions), and how long the
	// bus's subscription may be down before the memory tiers are flushed,
	// again every MaxStaleness while it stays down (see
	// BusOptions.MaxStaleness). Default: 1s.
	MaxStaleness time.Duration

	// TagStampTTL is how long the tag clock keeps a tag's stamp after an
	// invalidation (see Options.TagStampTTL): an entry loaded longer ago
	// than that which carries a tag with no stamp reads as invalidated.
	// Default: twice the longest life of an entry of the caches [NewAside]
	// made in this process (the larger of the policy's TTL, 5 minutes when
	// unset, and its NegativeTTL, plus its FailSafe window), growing as
	// caches are made; stamps made before the first never expire. Give it
	// when a loader's SetTTL keeps entries longer than their policy's TTL,
	// or when instances of the application make different caches.
	TagStampTTL time.Duration

	// CounterTTL is how long the service's counters (namespace versions,
	// and the per-id versions of write-through and write-behind) live
	// after their last use: see Options.CounterTTL. Default: 30 days;
	// negative: never expire.
	CounterTTL time.Duration

	// StartTimeout bounds each start-up check of [NewService]. With a
	// go-redis client whose ContextTimeoutEnabled is off (go-redis's
	// default), a server that accepts connections and never answers holds
	// a check for the client's ReadTimeout instead. Default: 2s.
	StartTimeout time.Duration

	// Logger receives what the bus logs: reconnects, gaps, malformed
	// messages, failed publishes, flushes while its subscription is
	// down. Default: slog.Default().
	Logger *slog.Logger

	// SharedBudget bounds each cache's calls to Redis (a policy's own
	// SharedBudget wins). Default: SoftTimeout 100ms, HardTimeout 1s,
	// write-backs in the caller's time.
	SharedBudget *hoard.SharedBudget

	// Breaker configures the circuit breaker that every cache and the
	// invalidator share: Redis found unavailable is skipped for a while,
	// and the changes that could not reach it are replayed when it is
	// back (see hoard.CircuitBreaker). Default: hoard's defaults, with a
	// PING as the probe and the service's Logger and Recorder.
	Breaker *hoard.BreakerOptions

	// NoBreaker turns the circuit breaker off: every call tries Redis, and
	// a change that fails returns its error, not deferred.
	NoBreaker bool

	// Clock reads the time for every part of the service and the caches
	// it makes. Default: the system clock.
	Clock hoard.Clock

	// Tracking turns on Redis's server-assisted client-side caching for
	// the application's keys (see [Tracker]): a write to a cache's key in
	// Redis by any client, hoard or not (redis-cli, another service, a
	// script), evicts it from the memory tier of every instance, besides
	// the invalidations the bus carries. It needs Redis 6 or later and a
	// user allowed CLIENT TRACKING, CLIENT ID and the channel
	// __redis__:invalidate. Default: off.
	Tracking bool
}

// Defaults of ServiceOptions.SharedBudget.
const (
	defaultSoftTimeout = 100 * time.Millisecond
	defaultHardTimeout = time.Second
)

// defaultStartTimeout is ServiceOptions.StartTimeout's default.
const defaultStartTimeout = 2 * time.Second

func (o *ServiceOptions) validate() error {
	switch {
	case o.MemoryMaxEntries < 0:
		return fmt.Errorf("%w: redis service: MemoryMaxEntries %d is negative", hoard.ErrInvalidOption, o.MemoryMaxEntries)
	case o.MemoryMaxEntries > 0 && o.MemoryMaxBytes > 0 && o.MemoryMaxBytes < uint64(o.MemoryMaxEntries):
		return fmt.Errorf("%w: redis service: MemoryMaxBytes %d is less than one byte per entry of MemoryMaxEntries %d",
			hoard.ErrInvalidOption, o.MemoryMaxBytes, o.MemoryMaxEntries)
	case len(o.InstanceID) > maxInstanceID:
		return fmt.Errorf("%w: redis service: InstanceID of %d bytes, more than %d", hoard.ErrInvalidOption, len(o.InstanceID), maxInstanceID)
	case o.MaxStaleness < 0:
		return fmt.Errorf("%w: redis service: MaxStaleness %v is negative", hoard.ErrInvalidOption, o.MaxStaleness)
	case o.TagStampTTL < 0:
		return fmt.Errorf("%w: redis service: TagStampTTL %v is negative", hoard.ErrInvalidOption, o.TagStampTTL)
	case o.StartTimeout < 0:
		return fmt.Errorf("%w: redis service: StartTimeout %v is negative", hoard.ErrInvalidOption, o.StartTimeout)
	}
	return nil
}

func (o ServiceOptions) withDefaults() ServiceOptions {
	o.Codec = defaults.Codec(o.Codec)
	if o.InstanceID == "" {
		o.InstanceID = randomInstanceID()
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SharedBudget == nil {
		o.SharedBudget = &hoard.SharedBudget{SoftTimeout: defaultSoftTimeout, HardTimeout: defaultHardTimeout}
	}
	return o
}

// maxNameLen bounds an application's and a cache's name.
const maxNameLen = 64

// reservedNames are the names under an application's prefix that the
// service keeps for itself, so no cache may take them.
var reservedNames = []string{"ns", "lock", "bus", "wb", "probe"}

// checkName refuses an application, cache or queue name that could not be
// a single segment of a Redis name: one to 64 ASCII letters, digits, '-',
// '_' or '.'. Without ':' no application's names extend another's ("shop"
// and "shop:eu"), without braces none forms a Cluster hash tag, and
// without glob characters an ACL pattern or a SCAN of "app:*" means
// exactly the application's keys.
func checkName(what, name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("%w: redis service: %s name %q: want 1 to %d bytes", hoard.ErrInvalidOption, what, name, maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: redis service: %s name %q holds %q at byte %d: use ASCII letters, digits, '-', '_' and '.'",
				hoard.ErrInvalidOption, what, name, c, i)
		}
	}
	return nil
}

// checkCacheName is checkName for a cache, which may also not take a name
// the service keeps for itself.
func checkCacheName(name string) error {
	if err := checkName("cache", name); err != nil {
		return err
	}
	if slices.Contains(reservedNames, name) {
		return fmt.Errorf("%w: redis service: cache name %q is kept for the service's own keys (%v)", hoard.ErrInvalidOption, name, reservedNames)
	}
	return nil
}
