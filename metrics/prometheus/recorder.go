package prometheus

import (
	"errors"
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/recorderkit"
	"github.com/prometheus/client_golang/prometheus"
)

// Recorder is a [hoard.Recorder] that feeds Prometheus collectors. Make one
// with [New]. It is safe for concurrent use; a nil *Recorder records
// nothing.
type Recorder struct {
	events   *prometheus.CounterVec   // {cache, event, tier}
	loads    *prometheus.HistogramVec // {cache, outcome}
	lockWait *prometheus.HistogramVec // {cache}

	// The series bound so far, so the hot path skips the vectors' label
	// hashing and locking.
	counters  recorderkit.Map[recorderkit.EventKey, prometheus.Counter]
	loadObs   recorderkit.Map[recorderkit.LoadKey, prometheus.Observer]
	lockWaits recorderkit.Map[string, prometheus.Observer]
}

var _ hoard.Recorder = (*Recorder)(nil)

// New returns a Recorder whose collectors are registered on
// opts.Registerer; opts may be nil for the defaults. A bad option returns
// an error wrapping [hoard.ErrInvalidOption]. Collectors already registered
// under the same names, help and labels are reused (see
// [Options.Registerer]); any other registration error is returned, and
// then New leaves the registry as it found it.
func New(opts *Options) (*Recorder, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: o.Namespace,
		Name:      "events_total",
		Help:      "Cache events (hit, miss, load, eviction, ...) by cache, event and tier.",
	}, []string{"cache", "event", "tier"})
	loads := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: o.Namespace,
		Name:      "load_duration_seconds",
		Help:      "Duration of cache loader calls, by cache and outcome (ok or error).",
		Buckets:   o.LoadBuckets,
	}, []string{"cache", "outcome"})
	lockWait := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: o.Namespace,
		Name:      "lock_wait_seconds",
		Help:      "Time spent waiting for another process's load of the same key, by cache.",
		Buckets:   o.LockWaitBuckets,
	}, []string{"cache"})

	reg := &registration{reg: o.Registerer}
	r := &Recorder{
		events:   register(reg, events),
		loads:    register(reg, loads),
		lockWait: register(reg, lockWait),
	}
	if reg.err != nil {
		reg.undo()
		return nil, reg.err
	}
	return r, nil
}

// registration registers collectors one after another, keeping the first
// error and which collectors it added, so that a failure can be undone.
type registration struct {
	reg   prometheus.Registerer
	added []prometheus.Collector
	err   error
}

// register registers c, or returns the collector already registered in its
// place, or records an error and returns c.
func register[C prometheus.Collector](r *registration, c C) C {
	if r.err != nil {
		return c
	}
	err := r.reg.Register(c)
	if err == nil {
		r.added = append(r.added, c)
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	r.err = fmt.Errorf("hoard: prometheus: register collector: %w", err)
	return c
}

func (r *registration) undo() {
	for _, c := range r.added {
		r.reg.Unregister(c)
	}
}

// Add counts n events of ev for cache at tier in hoard_events_total. n ≤ 0
// is ignored: a Prometheus counter only goes up.
func (r *Recorder) Add(cache string, ev hoard.Event, tier hoard.Tier, n int64) {
	if r == nil || n <= 0 {
		return
	}
	k := recorderkit.EventKey{Cache: cache, Event: ev, Tier: tier}
	c, ok := r.counters.Get(k)
	if !ok {
		c = r.counters.Put(k, r.events.WithLabelValues(recorderkit.Label(cache), ev.String(), tier.String()))
	}
	c.Add(float64(n))
}

// ObserveLoad records a loader call's duration in
// hoard_load_duration_seconds, with outcome "error" if it failed and "ok"
// if not. A negative d counts as 0.
func (r *Recorder) ObserveLoad(cache string, d time.Duration, failed bool) {
	if r == nil {
		return
	}
	k := recorderkit.LoadKey{Cache: cache, Failed: failed}
	o, ok := r.loadObs.Get(k)
	if !ok {
		outcome := "ok"
		if failed {
			outcome = "error"
		}
		o = r.loadObs.Put(k, r.loads.WithLabelValues(recorderkit.Label(cache), outcome))
	}
	o.Observe(max(d, 0).Seconds())
}

// ObserveLockWait records a lock wait's duration in
// hoard_lock_wait_seconds. A negative d counts as 0.
func (r *Recorder) ObserveLockWait(cache string, d time.Duration) {
	if r == nil {
		return
	}
	o, ok := r.lockWaits.Get(cache)
	if !ok {
		o = r.lockWaits.Put(cache, r.lockWait.WithLabelValues(recorderkit.Label(cache)))
	}
	o.Observe(max(d, 0).Seconds())
}
