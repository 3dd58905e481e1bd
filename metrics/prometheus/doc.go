// Package prometheus exports hoard's cache metrics to Prometheus: its
// [Recorder] implements [hoard.Recorder], so every cache that takes a
// [hoard.Metrics] made with it feeds three series families.
//
//	import hoardprom "github.com/hoard-cache/hoard/metrics/prometheus"
//
//	rec, err := hoardprom.New(nil) // registers on prometheus.DefaultRegisterer
//	if err != nil { ... }
//	metrics := hoard.NewMetrics("products", rec)
//
// With the default namespace "hoard" the series are:
//
//	hoard_events_total{cache,event,tier}            counter
//	hoard_load_duration_seconds{cache,outcome}      histogram, outcome "ok" or "error"
//	hoard_lock_wait_seconds{cache}                  histogram
//
// event is a [hoard.Event]'s name ("hit", "miss", "load", ...) and tier a
// [hoard.Tier]'s ("memory", "shared", or "" for [hoard.TierNone], which
// Prometheus treats as an absent label). Each cache name makes its own
// series: name caches by endpoint, never by key or user.
//
// The Recorder's methods run on every cache hit. Each keeps the series it
// has bound in a copy-on-write map, so after the first event of a kind an
// event costs one atomic load, one map lookup and one atomic add: no lock,
// no label hashing by client_golang, no allocation.
//
// # Grafana dashboard
//
// grafana/hoard.json, beside this package, is a Grafana dashboard (Grafana
// 10 or later) on these series: hit rate per tier and cache, reads by
// answer, load latency quantiles and rates, lock waits and their
// duration, stale serves, backend errors, circuit breaker state and
// transitions, invalidation bus gaps and flushes, invalidations and
// evictions. Import it as is: in Grafana, Dashboards → New → Import, upload
// the file and pick a Prometheus data source; or put it in a dashboard
// provisioning folder. Its "cache" variable selects caches by name. It
// assumes the default Namespace "hoard": with another, replace "hoard_" in
// its queries. A test checks that every query parses and names only series,
// labels and label values this Recorder and hoard's events really give.
//
// This package is its own Go module, so that hoard's core module does not
// depend on client_golang. Its go.mod replaces
// github.com/hoard-cache/hoard with the checkout two directories up: the
// repository is developed and tested as a whole.
package prometheus
