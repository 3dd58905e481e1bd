package otel

import (
	"context"
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/recorderkit"
	otelglobal "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the name of the meter, the instrumentation scope, that a
// [Recorder] creates its instruments with: the name views select by.
const ScopeName = "github.com/hoard-cache/hoard/metrics/otel"

// The instruments' names.
const (
	EventsName       = "hoard.events"        // Int64Counter {cache, event, tier}
	LoadDurationName = "hoard.load.duration" // Float64Histogram in s {cache, outcome}
	LockWaitName     = "hoard.lock.wait"     // Float64Histogram in s {cache}
)

// Recorder is a [hoard.Recorder] that feeds OpenTelemetry instruments.
// Make one with [New]. It is safe for concurrent use; a nil *Recorder
// records nothing.
type Recorder struct {
	events   metric.Int64Counter
	loads    metric.Float64Histogram
	lockWait metric.Float64Histogram

	// The measurement options made so far, each holding one attribute set,
	// so the hot path builds no attributes.
	eventOpts recorderkit.Map[recorderkit.EventKey, []metric.AddOption]
	loadOpts  recorderkit.Map[recorderkit.LoadKey, []metric.RecordOption]
	waitOpts  recorderkit.Map[string, []metric.RecordOption]
}

var _ hoard.Recorder = (*Recorder)(nil)

// New returns a Recorder whose instruments come from mp's meter
// [ScopeName]; a nil mp is the global provider, otel.GetMeterProvider().
// opts may be nil for the defaults. A bad option returns an error wrapping
// [hoard.ErrInvalidOption]; a provider that refuses an instrument, its
// error. Calling New again on the same provider is fine: the SDK hands out
// the same instruments, and both Recorders feed the same series.
func New(mp metric.MeterProvider, opts *Options) (*Recorder, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if mp == nil {
		mp = otelglobal.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName)

	events, err := meter.Int64Counter(EventsName,
		metric.WithDescription("Cache events (hit, miss, load, eviction, ...) by cache, event and tier."),
		metric.WithUnit("{event}"))
	if err != nil {
		return nil, fmt.Errorf("hoard: otel: instrument %s: %w", EventsName, err)
	}
	loads, err := meter.Float64Histogram(LoadDurationName,
		metric.WithDescription("Duration of cache loader calls, by cache and outcome (ok or error)."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(o.LoadBuckets...))
	if err != nil {
		return nil, fmt.Errorf("hoard: otel: instrument %s: %w", LoadDurationName, err)
	}
	lockWait, err := meter.Float64Histogram(LockWaitName,
		metric.WithDescription("Time spent waiting for another process's load of the same key, by cache."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(o.LockWaitBuckets...))
	if err != nil {
		return nil, fmt.Errorf("hoard: otel: instrument %s: %w", LockWaitName, err)
	}
	return &Recorder{events: events, loads: loads, lockWait: lockWait}, nil
}

// Add adds n to hoard.events for cache, ev and tier. n ≤ 0 is ignored: the
// instrument is a counter, which only goes up.
func (r *Recorder) Add(cache string, ev hoard.Event, tier hoard.Tier, n int64) {
	if r == nil || n <= 0 {
		return
	}
	k := recorderkit.EventKey{Cache: cache, Event: ev, Tier: tier}
	opts, ok := r.eventOpts.Get(k)
	if !ok {
		set := attribute.NewSet(
			attribute.String("cache", recorderkit.Label(cache)),
			attribute.String("event", ev.String()),
			attribute.String("tier", tier.String()))
		opts = r.eventOpts.Put(k, []metric.AddOption{metric.WithAttributeSet(set)})
	}
	r.events.Add(context.Background(), n, opts...)
}

// ObserveLoad records a loader call's duration, in seconds, in
// hoard.load.duration, with outcome "error" if it failed and "ok" if not.
// A negative d counts as 0.
func (r *Recorder) ObserveLoad(cache string, d time.Duration, failed bool) {
	if r == nil {
		return
	}
	k := recorderkit.LoadKey{Cache: cache, Failed: failed}
	opts, ok := r.loadOpts.Get(k)
	if !ok {
		outcome := "ok"
		if failed {
			outcome = "error"
		}
		set := attribute.NewSet(attribute.String("cache", recorderkit.Label(cache)), attribute.String("outcome", outcome))
		opts = r.loadOpts.Put(k, []metric.RecordOption{metric.WithAttributeSet(set)})
	}
	r.loads.Record(context.Background(), max(d, 0).Seconds(), opts...)
}

// ObserveLockWait records a lock wait's duration, in seconds, in
// hoard.lock.wait. A negative d counts as 0.
func (r *Recorder) ObserveLockWait(cache string, d time.Duration) {
	if r == nil {
		return
	}
	opts, ok := r.waitOpts.Get(cache)
	if !ok {
		set := attribute.NewSet(attribute.String("cache", recorderkit.Label(cache)))
		opts = r.waitOpts.Put(cache, []metric.RecordOption{metric.WithAttributeSet(set)})
	}
	r.lockWait.Record(context.Background(), max(d, 0).Seconds(), opts...)
}
