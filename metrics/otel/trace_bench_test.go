package otel

import (
	"context"
	"testing"

	"github.com/hoard-cache/hoard"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkTraceCacheGet measures what tracing adds to one call of a tier
// (a memory cache, so the call itself costs little): untraced, traced with
// spans that do not record (no SDK, or not sampled), and traced with spans
// that record (an SDK sampling every span, with no exporter).
func BenchmarkTraceCacheGet(b *testing.B) {
	mem := newMemory(b)
	ctx := context.Background()
	if err := mem.Set(ctx, "k", hoard.Entry[int]{Value: 1}); err != nil {
		b.Fatal(err)
	}
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() { _ = sdk.Shutdown(ctx) })
	for _, bc := range []struct {
		name string
		tp   *TraceOptions
	}{
		{"untraced", nil},
		{"not-recording", &TraceOptions{TracerProvider: noop.NewTracerProvider(), Name: "products"}},
		{"recording", &TraceOptions{TracerProvider: sdk, Name: "products"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := hoard.Cache[int](mem)
			if bc.tp != nil {
				tr, err := NewTracer(bc.tp)
				if err != nil {
					b.Fatal(err)
				}
				if c, err = TraceCache(tr, hoard.TierShared, c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Get(ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
