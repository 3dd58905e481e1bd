// Package otel exports hoard's cache metrics through the OpenTelemetry
// metrics API: its [Recorder] implements [hoard.Recorder], so every cache
// that takes a [hoard.Metrics] made with it feeds three instruments of a
// meter named [ScopeName].
//
//	import hoardotel "github.com/hoard-cache/hoard/metrics/otel"
//
//	rec, err := hoardotel.New(meterProvider, nil) // nil provider: the global one
//	if err != nil { ... }
//	metrics := hoard.NewMetrics("products", rec)
//
// The instruments are:
//
//	hoard.events         Int64Counter,     unit "{event}", attributes cache, event, tier
//	hoard.load.duration  Float64Histogram, unit "s",       attributes cache, outcome ("ok" or "error")
//	hoard.lock.wait      Float64Histogram, unit "s",       attribute  cache
//
// event is a [hoard.Event]'s name ("hit", "miss", "load", ...) and tier a
// [hoard.Tier]'s ("memory", "shared", or "" for [hoard.TierNone]; the
// attribute is always there, so every point of hoard.events has the same
// keys). Each cache name makes its own series: name caches by endpoint,
// never by key or user.
//
// The Recorder's methods run on every cache hit. Each keeps the
// measurement options (an [attribute.Set] made once) for the attributes it
// has seen in a copy-on-write map, so after the first event of a kind an
// event builds no attributes and allocates nothing of its own; what the
// SDK then does is the SDK's. Measurements carry [context.Background]:
// [hoard.Recorder] has no context, so there are no trace exemplars.
//
// This package is its own Go module, so that hoard's core module does not
// depend on OpenTelemetry; it needs only the API
// (go.opentelemetry.io/otel/metric), and its tests the SDK. Its go.mod
// replaces github.com/hoard-cache/hoard with the checkout two directories
// up: the repository is developed and tested as a whole.
package otel
