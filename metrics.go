package hoard

import (
	"math"
	"sync/atomic"
	"time"
)

// Event is something a cache did that [Metrics] counts.
type Event uint8

// The events. Hits carry the [Tier] that answered; the others carry
// [TierNone] unless they say otherwise.
const (
	EventHit          Event = iota + 1 // a read answered by a tier, fresh
	EventMiss                          // a read no tier could answer fresh
	EventNegativeHit                   // a read answered with a cached "not found"
	EventStaleServe                    // a stale value served by the fail-safe
	EventLoad                          // a loader call
	EventLoadError                     // a loader call that failed
	EventLockWait                      // a wait for another process's load (distributed lock)
	EventLockTimeout                   // a lock wait that ran past its limit
	EventEviction                      // entries pushed out of a tier for room or expiry
	EventInvalidation                  // keys invalidated (delete, version bump, bus event)
	EventBackendError                  // a tier that failed (Redis unreachable, corrupt bytes)
	EventEarlyRefresh                  // a refresh started before expiry (XFetch)
	EventUntaggable                    // a tagged value left uncached: its tags could not be checked later
	EventBreakerOpen                   // a circuit breaker opened: the shared tier is skipped
	EventBreakerClose                  // a circuit breaker closed: the shared tier is back
	EventDeferred                      // a change kept for the shared tier's return (see ErrDeferred)
	EventReplayed                      // deferred changes replayed on the shared tier's return
	EventDropped                       // work dropped: a deferred change past MaxDeferred, a background load past its cap
	EventBusFlush                      // the memory tier flushed on the bus's word, after a gap in its messages
	eventCount
)

var eventNames = [eventCount]string{
	EventHit: "hit", EventMiss: "miss", EventNegativeHit: "negative_hit",
	EventStaleServe: "stale_serve", EventLoad: "load", EventLoadError: "load_error",
	EventLockWait: "lock_wait", EventLockTimeout: "lock_timeout", EventEviction: "eviction",
	EventInvalidation: "invalidation", EventBackendError: "backend_error",
	EventEarlyRefresh: "early_refresh", EventUntaggable: "untaggable",
	EventBreakerOpen: "breaker_open", EventBreakerClose: "breaker_close", EventDeferred: "deferred",
	EventReplayed: "replayed", EventDropped: "dropped", EventBusFlush: "bus_flush",
}

// String returns the event's name in metrics: "hit", "miss", ...
func (e Event) String() string {
	if e < eventCount && eventNames[e] != "" {
		return eventNames[e]
	}
	return "unknown"
}

// Events lists every event, for adapters that declare their series up front.
func Events() []Event {
	out := make([]Event, 0, eventCount-1)
	for e := EventHit; e < eventCount; e++ {
		out = append(out, e)
	}
	return out
}

// Tier is where a read was answered, or which tier an event concerns.
type Tier uint8

// The tiers.
const (
	TierNone   Tier = iota // the event concerns no tier in particular
	TierMemory             // the in-process tier
	TierShared             // the shared tier (Redis, or any Cache in AsideOptions.Shared)
	tierCount
)

var tierNames = [tierCount]string{TierNone: "", TierMemory: "memory", TierShared: "shared"}

// String returns the tier's name in metrics: "memory", "redis", or "" for
// TierNone.
func (t Tier) String() string {
	if t < tierCount {
		return tierNames[t]
	}
	return "unknown"
}

// Recorder receives every event of every cache, for export. The
// Prometheus and OpenTelemetry adapters (modules metrics/prometheus and
// metrics/otel) implement it. Its methods are called on the caches' hot
// paths, from many goroutines: they must be safe for concurrent use, and
// fast.
type Recorder interface {
	// Add counts n events of ev for the cache named cache, at tier.
	Add(cache string, ev Event, tier Tier, n int64)
	// ObserveLoad records the duration of one loader call.
	ObserveLoad(cache string, d time.Duration, failed bool)
	// ObserveLockWait records how long a caller waited for another
	// process's load.
	ObserveLockWait(cache string, d time.Duration)
}

// Metrics counts the events of one cache, by name, and hands each to a
// [Recorder] if it has one. Every pattern of hoard takes one; a nil
// *Metrics counts nothing, so patterns need no checks. It is safe for
// concurrent use.
type Metrics struct {
	name     string
	recorder Recorder
	counts   [eventCount][tierCount]atomic.Int64
	// stripes count the hits and negative hits (see hotStripe); their
	// cells of counts stay 0, unless the Metrics was not made by
	// NewMetrics and has no stripes.
	stripes  []hotStripe
	loads    histogram
	lockWait histogram
}

// NewMetrics returns the metrics of the cache called name, passing every
// event on to rec as well when rec is not nil.
func NewMetrics(name string, rec Recorder) *Metrics {
	return &Metrics{name: name, recorder: rec, stripes: newHotStripes()}
}

// Name returns the cache name the metrics count for.
func (m *Metrics) Name() string {
	if m == nil {
		return ""
	}
	return m.name
}

// Add counts n events of ev at tier.
func (m *Metrics) Add(ev Event, tier Tier, n int64) {
	if m == nil || ev == 0 || ev >= eventCount || tier >= tierCount {
		return
	}
	if isHot(ev, tier) {
		m.addHot(ev, tier, n)
	} else {
		m.counts[ev][tier].Add(n)
	}
	if m.recorder != nil {
		m.recorder.Add(m.name, ev, tier, n)
	}
}

// Hit counts a fresh read answered by tier.
func (m *Metrics) Hit(tier Tier) { m.Add(EventHit, tier, 1) }

// Miss counts a read that no tier could answer fresh.
func (m *Metrics) Miss() { m.Add(EventMiss, TierNone, 1) }

// ObserveLoad counts one loader call, failed or not, and its duration.
func (m *Metrics) ObserveLoad(d time.Duration, failed bool) {
	if m == nil {
		return
	}
	m.Add(EventLoad, TierNone, 1)
	if failed {
		m.Add(EventLoadError, TierNone, 1)
	}
	m.loads.observe(d)
	if m.recorder != nil {
		m.recorder.ObserveLoad(m.name, d, failed)
	}
}

// ObserveLockWait counts one wait for another process's load and its
// duration.
func (m *Metrics) ObserveLockWait(d time.Duration) {
	if m == nil {
		return
	}
	m.Add(EventLockWait, TierNone, 1)
	m.lockWait.observe(d)
	if m.recorder != nil {
		m.recorder.ObserveLockWait(m.name, d)
	}
}

// Snapshot returns the counts so far. It is a copy: later events do not
// change it.
func (m *Metrics) Snapshot() MetricsSnapshot {
	var s MetricsSnapshot
	if m == nil {
		return s
	}
	s.Name = m.name
	for ev := range eventCount {
		for tier := range tierCount {
			s.counts[ev][tier] = m.counts[ev][tier].Load()
			if isHot(ev, tier) {
				s.counts[ev][tier] += m.hotCount(ev, tier)
			}
		}
	}
	s.Loads = m.loads.snapshot()
	s.LockWaits = m.lockWait.snapshot()
	return s
}

// MetricsSnapshot is an immutable copy of a cache's [Metrics].
type MetricsSnapshot struct {
	Name      string
	Loads     DurationHistogram // durations of loader calls
	LockWaits DurationHistogram // durations of waits for another process's load
	counts    [eventCount][tierCount]int64
}

// Count returns the number of events ev at tier.
func (s MetricsSnapshot) Count(ev Event, tier Tier) int64 {
	if ev >= eventCount || tier >= tierCount {
		return 0
	}
	return s.counts[ev][tier]
}

// Total returns the number of events ev at every tier.
func (s MetricsSnapshot) Total(ev Event) int64 {
	if ev >= eventCount {
		return 0
	}
	var n int64
	for _, c := range s.counts[ev] {
		n += c
	}
	return n
}

// Hits returns the fresh hits of every tier plus the negative hits: the
// reads answered without a load.
func (s MetricsSnapshot) Hits() int64 { return s.Total(EventHit) + s.Total(EventNegativeHit) }

// HitRate returns the share of reads answered without a load, from 0 to 1;
// 0 before any read.
func (s MetricsSnapshot) HitRate() float64 {
	hits := s.Hits()
	reads := hits + s.Total(EventMiss)
	if reads == 0 {
		return 0
	}
	return float64(hits) / float64(reads)
}

// TierHitRate returns the share of the reads that reached tier which tier
// answered: for the memory tier, of all reads; for Redis, of the reads the
// memory tier could not answer.
func (s MetricsSnapshot) TierHitRate(tier Tier) float64 {
	reached := s.Total(EventMiss) + s.Total(EventNegativeHit)
	for t := tier; t < tierCount; t++ {
		reached += s.Count(EventHit, t)
	}
	if reached == 0 {
		return 0
	}
	return float64(s.Count(EventHit, tier)) / float64(reached)
}

// histogram counts durations in buckets that double from 1µs to about
// 2.3 hours, so quantiles are known to within a factor of two; it needs no
// lock and never allocates.
type histogram struct {
	buckets [histBuckets]atomic.Int64
	count   atomic.Int64
	sumNS   atomic.Int64
	maxNS   atomic.Int64
}

const histBuckets = 34 // bucket i holds durations below 2^i µs; the last, the rest

func (h *histogram) observe(d time.Duration) {
	us := max(d.Microseconds(), 0)
	i := 0
	for i < histBuckets-1 && us >= int64(1)<<i {
		i++
	}
	h.buckets[i].Add(1)
	h.count.Add(1)
	h.sumNS.Add(int64(d))
	for {
		cur := h.maxNS.Load()
		if int64(d) <= cur || h.maxNS.CompareAndSwap(cur, int64(d)) {
			break
		}
	}
}

func (h *histogram) snapshot() DurationHistogram {
	var d DurationHistogram
	for i := range h.buckets {
		d.buckets[i] = h.buckets[i].Load()
	}
	d.Count = h.count.Load()
	d.Sum = time.Duration(h.sumNS.Load())
	d.Max = time.Duration(h.maxNS.Load())
	return d
}

// DurationHistogram summarises observed durations.
type DurationHistogram struct {
	Count   int64         // how many were observed
	Sum     time.Duration // their sum
	Max     time.Duration // the longest
	buckets [histBuckets]int64
}

// Mean returns the average duration; 0 when none was observed.
func (d DurationHistogram) Mean() time.Duration {
	if d.Count == 0 {
		return 0
	}
	return d.Sum / time.Duration(d.Count)
}

// Quantile returns an upper bound of the q-quantile (0 < q ≤ 1), exact to a
// factor of two: the upper edge of the bucket it falls in, capped by Max.
func (d DurationHistogram) Quantile(q float64) time.Duration {
	if d.Count == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(d.Count)))
	var seen int64
	for i, n := range d.buckets {
		seen += n
		if seen >= rank {
			if i == histBuckets-1 {
				return d.Max
			}
			return min(time.Duration(int64(1)<<i)*time.Microsecond, d.Max)
		}
	}
	return d.Max
}
