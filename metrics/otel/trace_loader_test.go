package otel

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hoard-cache/hoard"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TestTraceLoader checks each outcome of a traced loader, and that the
// loader runs under its span.
func TestTraceLoader(t *testing.T) {
	tr, rec, _ := newTracing(t, TraceOptions{Name: "products", Keys: KeysRaw})
	errDown := errors.New("database down")
	var inside trace.SpanContext
	l := TraceLoader(tr, hoard.LoaderFunc[int](func(ctx context.Context, id string) (int, error) {
		inside = trace.SpanContextFromContext(ctx)
		switch id {
		case "absent":
			return 0, fmt.Errorf("no row: %w", hoard.ErrNotFound)
		case "same":
			return 0, hoard.ErrNotModified
		case "down":
			return 0, errDown
		}
		return 7, nil
	}))
	for _, tc := range []struct {
		id, outcome string
		failed      bool
	}{{"42", "ok", false}, {"absent", "not_found", false}, {"same", "not_modified", false}, {"down", "error", true}} {
		v, err := l.Load(context.Background(), tc.id)
		if tc.id == "42" && (v != 7 || err != nil) {
			t.Errorf("Load: %d, %v", v, err)
		}
		if tc.id == "down" && !errors.Is(err, errDown) {
			t.Errorf("Load: %v, want the loader's error", err)
		}
		spans := rec.Ended()
		s := spans[len(spans)-1]
		if s.Name() != LoadSpan || s.SpanContext().SpanID() != inside.SpanID() {
			t.Errorf("%s: span %q, or the loader ran outside it", tc.id, s.Name())
		}
		a := attrs(s)
		if a[AttrOutcome].AsString() != tc.outcome || a[AttrKey].AsString() != tc.id || a[AttrCache].AsString() != "products" {
			t.Errorf("%s: attributes %v", tc.id, s.Attributes())
		}
		if failed := s.Status().Code == codes.Error; failed != tc.failed {
			t.Errorf("%s: failed %v, want %v", tc.id, failed, tc.failed)
		}
	}
}

func TestTraceBatchLoader(t *testing.T) {
	tr, rec, _ := newTracing(t, TraceOptions{})
	l := TraceBatchLoader(tr, hoard.BatchLoaderFunc[int](func(_ context.Context, ids []string) (map[string]int, error) {
		if len(ids) == 0 {
			return nil, errors.New("no ids")
		}
		return map[string]int{ids[0]: 1}, nil
	}))
	if _, err := l.LoadMany(context.Background(), []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.LoadMany(context.Background(), nil); err == nil {
		t.Fatal("no error")
	}
	spans := rec.Ended()
	if len(spans) != 2 || spans[0].Name() != LoadManySpan {
		t.Fatalf("spans %v", names(spans))
	}
	a := attrs(spans[0])
	if a[AttrKeys].AsInt64() != 3 || a[AttrHits].AsInt64() != 1 || a[AttrOutcome].AsString() != "ok" {
		t.Errorf("attributes %v", spans[0].Attributes())
	}
	if spans[1].Status().Code != codes.Error || attrs(spans[1])[AttrOutcome].AsString() != "error" {
		t.Errorf("a failed batch: status %v, attributes %v", spans[1].Status(), spans[1].Attributes())
	}
	if TraceBatchLoader[int](nil, l) != l || TraceLoader[int](nil, nil) != nil {
		t.Errorf("a nil Tracer changed the loader")
	}
}
