// Package hoard is a library of application caching patterns for Go
// services: cache-aside with loaders, stampede protection, fail-safe,
// early refresh, write-through and write-behind, version and tag
// invalidation, HTTP response caching. Each is configured per endpoint, with
// its own key builder, over storage that is in process, in Redis, or both.
//
// # Cache-aside
//
// [Aside] is the read path most services start with, configured per
// endpoint by [AsideOptions]: Get reads the memory tier, then the shared
// tier, then calls a [Loader], and writes the value back to both tiers.
// Concurrent readers of one key share one load ([FlightGroup]); with
// [AsideOptions.Stampede] (a [Locker]), readers in every process do. A loader's [ErrNotFound] is cached
// for the negative TTL, TTLs are jittered, and with a fail-safe window a
// failing or slow source is answered with the stale value and
// [ErrServedStale]. [Aside.GetMany] does the same for a batch with one
// [BatchLoader] call. Every write-back is a compare-and-set, so a load that
// raced a write or delete of its key never stores its stale value.
// [Metrics] counts hits per tier, misses, loads and the rest, for
// [MetricsSnapshot.HitRate] and for a [Recorder] (Prometheus, OpenTelemetry).
//
// With [AsideOptions.EarlyRefresh], a reader near an entry's expiry may
// start a background refresh (XFetch, Vattani et al., VLDB 2015) and gets
// the current value at once, so hot keys are recomputed before they expire
// and no reader waits. A loader can set its value's TTL ([SetTTL]) and tags
// ([SetTags]), and answer [ErrNotModified] after reading [PreviousEntry].
//
// # Writes
//
// [WriteThrough] saves to a [Store] first, then compare-and-sets the
// cache, invalidating when it loses a race. [WriteBehind] updates the cache
// at once and queues the write, in memory or durably in a Redis Stream
// (backends/hoardredis.NewStreamQueue), flushed in coalesced batches with
// retries. Every write carries a version; a Store applies only writes newer
// than what it holds. A [VersioningStore] picks the versions itself; else a
// [HybridVersioner] takes them from Redis counters, and from the clock while
// Redis is down, so a cache outage never blocks a write to the store.
//
// # Coherence across instances
//
// A [Bus] (backends/hoardredis.NewBus over Redis pub/sub) carries invalidations
// to every instance's memory tier and turns a possible loss into a flush.
// An [Invalidator] adds namespace versions ([Invalidator.BumpNamespace])
// and tags ([Invalidator.InvalidateTags]), each making a whole family of
// entries unreachable in O(1). Tags reach every entry however it was
// written: a loader's [SetTags] (or [SetTagsFor] in a batch), the tags
// given to [WriteThrough.Put], [WriteBehind.Put] and [WriteBehind.Delete],
// and AsideOptions.TagsOf; a "not modified" renewal keeps the entry's.
//
// docs/architecture.md draws the layers and follows a read through the
// files.
//
// # Storage
//
// Everything stores through [Cache], a small interface generic over the
// value type. An [Entry] is a value with the metadata the patterns need:
// when it was written and expires, how long a stale copy may be kept for a
// fail-safe ([Entry.StaleUntil]), how long its load took (for early
// refresh), whether it caches a "not found", its generation and its tags.
//
// Two backends implement it:
//
//   - backends/memory: a bounded in-process cache on otter v2 (W-TinyLFU)
//     holding typed values, so a hit costs no decoding and no allocation;
//     bounded by entry count, by bytes, or both.
//   - backends/hoardredis: go-redis v9 through redis.UniversalClient (one node,
//     Sentinel or Cluster). Values travel in a small versioned binary
//     envelope with a [Codec]'s payload: [JSON] by default, [MsgPack] for
//     speed, [Compressed] for large values.
//
// Further abilities are optional interfaces found by type assertion:
// [ManyGetter] and [ManySetter] (one round trip for many keys, cluster-safe),
// [PrefixDeleter], [Clearer], [Counter] (version counters that never repeat
// after a loss) and [CompareAndSetter], the stale-set protection: a load
// that read a key before a write or delete of it cannot store its value
// after it.
//
// # Keys
//
// A [KeyBuilder] composes keys from parts so that distinct part tuples never
// collide, user input cannot forge a Redis Cluster hash tag or escape its
// prefix, and over-long keys are hashed.
//
// # Errors
//
// Errors are sentinels prefixed "hoard:" ([ErrNotFound], [ErrTooLarge],
// [ErrConflict], [ErrCorrupt], [ErrUnavailable], ...), wrapped with %w:
// match them with [errors.Is].
//
// # Testing
//
// Package hoardtest holds a conformance suite any Cache implementation can
// run, hoardtest.TestCache, a fake clock, and what a test of several
// instances needs: a local bus network that can lose messages and tells
// when it has delivered, and wrappers that inject faults into a Cache and a
// Locker at exact points.
package hoard
