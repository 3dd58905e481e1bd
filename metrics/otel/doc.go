// Package otel exports hoard's caches to OpenTelemetry: their metrics
// through the metrics API, and spans of the time a request spent in them
// through the trace API.
//
// # Metrics
//
// The [Recorder] implements [hoard.Recorder], so every cache that takes a
// [hoard.Metrics] made with it feeds three instruments of a meter named
// [ScopeName].
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
// # Traces
//
// A [Tracer] (one per cache, made by [NewTracer]) decorates what an Aside
// is built from, so that its spans are children of the span in the ctx of
// each call, and a slow request's trace shows where the cache spent its
// time:
//
//	tr, err := hoardotel.NewTracer(&hoardotel.TraceOptions{Name: "products"})
//	shared, err := hoardotel.TraceCache[Product](tr, hoard.TierShared, redisCache)
//	aside, err := hoard.NewAside(&hoard.AsideOptions[Product]{
//		Name: "products", Memory: mem, Shared: shared,
//		Stampede: &hoard.Stampede{Locker: hoardotel.TraceLocker(tr, locker)},
//	})
//	loader := hoardotel.TraceLoader(tr, productLoader) // pass it to Get
//
// The spans are:
//
//	hoard.shared.get, .get_with_token, .compare_and_set, ...  each call to the traced tier
//	hoard.load, hoard.load_many                                 each loader call
//	hoard.lock.try, .refresh, .release                          each call to the traced locker
//	hoard.lock.wait                                             a wait for another process's load
//
// with the attributes hoard.cache, hoard.tier, the key (hoard.key.hash by
// default: see [KeyMode]), and what the call came to: hoard.hit, hoard.hits,
// hoard.outcome. A miss, a lost compare-and-set and a held lock are answers;
// other errors mark their span failed. [TraceCache] keeps the optional
// abilities of the cache it wraps ([hoard.CompareAndSetter] and the
// others), which the Aside finds by type assertion, and refuses a mix it
// cannot keep. The memory tier is best left untraced: a span costs more
// than a memory hit, and the absence of a shared-tier span says the
// memory tier answered. go-redis's own instrumentation
// (github.com/redis/go-redis/extra/redisotel) adds a span per Redis
// command under hoard's.
//
// This package is its own Go module, so that hoard's core module does not
// depend on OpenTelemetry; it needs only the API
// (go.opentelemetry.io/otel/metric and go.opentelemetry.io/otel/trace),
// and its tests the SDK. Its go.mod
// replaces github.com/hoard-cache/hoard with the checkout two directories
// up: the repository is developed and tested as a whole.
package otel
