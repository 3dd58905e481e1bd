package otel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/hoardtest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func hashOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// TestTraceCacheSpans calls every method of a traced memory cache, which
// has every ability, under a parent span, and checks each call's span:
// its name, its parent, and what it says of the call.
func TestTraceCacheSpans(t *testing.T) {
	tr, rec, test := newTracing(t, TraceOptions{Name: "products"})
	mem := newMemory(t)
	traced, err := TraceCache[int](tr, hoard.TierShared, mem)
	if err != nil {
		t.Fatal(err)
	}
	c := traced.(hoardtest.Cache[int])
	ctx, parent := test.Start(context.Background(), "request")

	e := hoard.Entry[int]{Value: 1}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, missErr := c.Get(ctx, "k1")
	must(c.Set(ctx, "k1", e))
	_, err = c.Get(ctx, "k1")
	must(err)
	_, tok, err := c.GetWithToken(ctx, "k2")
	if !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("GetWithToken of an absent key: %v", err)
	}
	must(c.CompareAndSet(ctx, "k2", tok, e))
	conflict := c.CompareAndSet(ctx, "k2", tok, e)
	found, err := c.GetMany(ctx, []string{"k1", "k2", "k3"})
	must(err)
	must(c.SetMany(ctx, map[string]hoard.Entry[int]{"k4": e, "k5": e}))
	toks := make([]hoard.Token, 2)
	must(c.GetManyWithTokens(ctx, []string{"k4", "k:6"}, func(i int, _ *hoard.Entry[int], tok hoard.Token, _ bool) { toks[i] = tok }))
	// k:6 is stored, k2 conflicts: tok was spent above.
	casMany := c.CompareAndSetMany(ctx, []hoard.TokenWrite[int]{{Key: "k:6", Token: toks[1], Entry: e}, {Key: "k2", Token: tok, Entry: e}})
	kb, err := hoard.NewKeyBuilder("k", nil)
	must(err)
	_, err = traced.(hoard.IDKeyGetter[int]).GetID(ctx, hoard.IDKey{Keys: &kb, ID: "6"}) // k:6

	must(err)
	must(c.Delete(ctx, "k1"))
	must(c.Delete(ctx, "k2", "k3"))
	n, err := c.DeletePrefix(ctx, "k")
	must(err)
	must(traced.(hoard.Clearer).Clear(ctx))
	_, err = c.IncrBy(ctx, "ctr", 1)
	must(err)
	_, err = c.IncrAtLeast(ctx, "ctr", 10)
	must(err)
	_, err = c.Epoch(ctx)
	must(err)
	_, err = c.InvalidateTags(ctx, "t1", "t2")
	must(err)
	_, err = c.TagEpochs(ctx, []string{"t1"})
	must(err)
	parent.End()

	if !errors.Is(missErr, hoard.ErrNotFound) || !errors.Is(conflict, hoard.ErrConflict) || !errors.Is(casMany, hoard.ErrConflict) {
		t.Fatalf("the calls did not answer as the test needs: miss %v, conflict %v, many %v", missErr, conflict, casMany)
	}
	if len(found) != 2 || n != 3 {
		t.Fatalf("GetMany found %d, DeletePrefix deleted %d; want 2 and 3", len(found), n)
	}

	type want struct {
		name  string
		attrs []attribute.KeyValue
	}
	key := func(k string) attribute.KeyValue { return AttrKeyHash.String(hashOf(k)) }
	wants := []want{
		{"hoard.shared.get", []attribute.KeyValue{key("k1"), AttrHit.Bool(false)}},
		{"hoard.shared.set", []attribute.KeyValue{key("k1")}},
		{"hoard.shared.get", []attribute.KeyValue{key("k1"), AttrHit.Bool(true)}},
		{"hoard.shared.get_with_token", []attribute.KeyValue{key("k2"), AttrHit.Bool(false)}},
		{"hoard.shared.compare_and_set", []attribute.KeyValue{key("k2"), AttrOutcome.String("stored")}},
		{"hoard.shared.compare_and_set", []attribute.KeyValue{key("k2"), AttrOutcome.String("conflict")}},
		{"hoard.shared.get_many", []attribute.KeyValue{AttrKeys.Int(3), AttrHits.Int(2)}},
		{"hoard.shared.set_many", []attribute.KeyValue{AttrKeys.Int(2)}},
		{"hoard.shared.get_many_with_tokens", []attribute.KeyValue{AttrKeys.Int(2), AttrHits.Int(1)}},
		{"hoard.shared.compare_and_set_many", []attribute.KeyValue{AttrKeys.Int(2), AttrOutcome.String("conflict")}},
		{"hoard.shared.get_id", []attribute.KeyValue{key("k:6"), AttrHit.Bool(true)}},
		{"hoard.shared.delete", []attribute.KeyValue{key("k1")}},
		{"hoard.shared.delete", []attribute.KeyValue{AttrKeys.Int(2)}},
		{"hoard.shared.delete_prefix", []attribute.KeyValue{key("k"), AttrKeys.Int(3)}},
		{"hoard.shared.clear", nil},
		{"hoard.shared.incr_by", []attribute.KeyValue{key("ctr")}},
		{"hoard.shared.incr_at_least", []attribute.KeyValue{key("ctr")}},
		{"hoard.shared.epoch", nil},
		{"hoard.shared.invalidate_tags", []attribute.KeyValue{AttrKeys.Int(2)}},
		{"hoard.shared.tag_epochs", []attribute.KeyValue{AttrKeys.Int(1)}},
	}
	got := childrenOf(rec.Ended(), parent.SpanContext())
	if len(got) != len(wants) {
		t.Fatalf("%d spans under the request, want %d: %v", len(got), len(wants), names(got))
	}
	for i, w := range wants {
		s := got[i]
		if s.Name() != w.name {
			t.Errorf("span %d is %q, want %q", i, s.Name(), w.name)
			continue
		}
		a := attrs(s)
		for _, kv := range append(w.attrs, AttrCache.String("products"), AttrTier.String("shared")) {
			if v, ok := a[kv.Key]; !ok || v != kv.Value {
				t.Errorf("%s (span %d): %s = %v, want %v", s.Name(), i, kv.Key, v.String(), kv.Value.String())
			}
		}
		if s.Status().Code == codes.Error {
			t.Errorf("%s (span %d) failed: %s (a miss or a conflict is an answer)", s.Name(), i, s.Status().Description)
		}
	}
}

// TestTraceCacheFailures checks that a call that fails marks its span
// failed, with the error recorded, and returns the error as it came.
func TestTraceCacheFailures(t *testing.T) {
	tr, rec, _ := newTracing(t, TraceOptions{})
	faults := hoardtest.NewFaults(1)
	faults.SetDown(true)
	inner := hoardtest.NewFaultyCache[int](newMemory(t), hoardtest.FaultOptions[int]{Inject: faults.Inject})
	c, err := TraceCache(tr, hoard.TierShared, inner)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, getErr := c.Get(ctx, "k")
	casErr := c.(hoard.CompareAndSetter[int]).CompareAndSet(ctx, "k", 1, hoard.Entry[int]{})
	casManyErr := c.(hoard.ManyCompareAndSetter[int]).CompareAndSetMany(ctx, []hoard.TokenWrite[int]{{Key: "k", Token: 1}})
	for _, err := range []error{getErr, casErr, casManyErr} {
		if !hoardtest.IsInjected(err) {
			t.Fatalf("err %v, want the injected fault as it came", err)
		}
	}
	for _, s := range rec.Ended() {
		if s.Status().Code != codes.Error || !hasException(s) {
			t.Errorf("%s: status %v, events %v; want failed with the error recorded", s.Name(), s.Status(), s.Events())
		}
		if _, ok := attrs(s)[AttrOutcome]; ok {
			t.Errorf("%s: an outcome for a call that failed", s.Name())
		}
	}
	if n := len(rec.Ended()); n != 3 {
		t.Errorf("%d spans, want 3", n)
	}
}

// hasException reports whether s recorded an error.
func hasException(s sdktrace.ReadOnlySpan) bool {
	for _, ev := range s.Events() {
		if ev.Name == "exception" {
			return true
		}
	}
	return false
}

// TestTraceKeyModes checks how each KeyMode shows a key, on the memory
// tier's span names.
func TestTraceKeyModes(t *testing.T) {
	for _, tc := range []struct {
		mode KeyMode
		want map[attribute.Key]string // "" for absent
	}{
		{KeysHashed, map[attribute.Key]string{AttrKeyHash: hashOf("user:42"), AttrKey: ""}},
		{KeysRaw, map[attribute.Key]string{AttrKey: "user:42", AttrKeyHash: ""}},
		{KeysOmitted, map[attribute.Key]string{AttrKey: "", AttrKeyHash: ""}},
	} {
		tr, rec, _ := newTracing(t, TraceOptions{Keys: tc.mode})
		c, err := TraceCache[int](tr, hoard.TierMemory, newMemory(t))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Get(context.Background(), "user:42")
		spans := rec.Ended()
		if len(spans) != 1 || spans[0].Name() != "hoard.memory.get" {
			t.Fatalf("mode %d: spans %v, want one hoard.memory.get", tc.mode, names(spans))
		}
		a := attrs(spans[0])
		for k, want := range tc.want {
			v, ok := a[k]
			if want == "" && ok {
				t.Errorf("mode %d: %s = %q, want none", tc.mode, k, v.AsString())
			}
			if want != "" && v.AsString() != want {
				t.Errorf("mode %d: %s = %q, want %q", tc.mode, k, v.AsString(), want)
			}
		}
		if _, ok := a[AttrCache]; ok {
			t.Errorf("mode %d: a cache name, though none was given", tc.mode)
		}
		if v := a[AttrTier]; v.AsString() != "memory" {
			t.Errorf("mode %d: tier %q", tc.mode, v.AsString())
		}
	}
}
