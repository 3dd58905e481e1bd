package otel

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// spans is a span processor for tests: it keeps every ended span, in the
// order they ended, and hands each to the test's waits as well.
type spans struct {
	*tracetest.SpanRecorder
	ended chan sdktrace.ReadOnlySpan
}

func (s *spans) OnEnd(span sdktrace.ReadOnlySpan) {
	s.SpanRecorder.OnEnd(span)
	select {
	case s.ended <- span:
	default: // a test that waits for no span lets them go
	}
}

// newTracing returns a tracer provider whose spans the returned recorder
// gets, synchronously as each ends, and a Tracer on it with opts.
func newTracing(t testing.TB, opts TraceOptions) (*Tracer, *spans, trace.Tracer) {
	t.Helper()
	rec := &spans{SpanRecorder: tracetest.NewSpanRecorder(), ended: make(chan sdktrace.ReadOnlySpan, 1024)}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	opts.TracerProvider = tp
	tr, err := NewTracer(&opts)
	if err != nil {
		t.Fatalf("NewTracer: %v", err)
	}
	return tr, rec, tp.Tracer("test")
}

// waitFor returns the first span named name that ends from now on (or has
// ended and was not yet waited for), failing the test after 10 seconds.
func (s *spans) waitFor(t testing.TB, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case span := <-s.ended:
			if span.Name() == name {
				return span
			}
		case <-deadline.C:
			t.Fatalf("no span %q ended within 10s; ended: %v", name, names(s.Ended()))
			return nil
		}
	}
}

// names returns the names of spans.
func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	return out
}

// attrs returns a span's attributes by key.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// childrenOf returns the ended spans whose parent is parent, in the order
// they ended.
func childrenOf(all []sdktrace.ReadOnlySpan, parent trace.SpanContext) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range all {
		if s.Parent().SpanID() == parent.SpanID() && s.Parent().TraceID() == parent.TraceID() {
			out = append(out, s)
		}
	}
	return out
}
