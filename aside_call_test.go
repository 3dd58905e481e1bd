package hoard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// GetWith tells what answered, and its options reach the load: a tier
// skipped is neither read nor written, the call's TTL and tags go on the
// value it loads.
func TestGetWithOptions(t *testing.T) {
	w := newWorld(t)
	clockTier, err := hoardredis.New[struct{}](w.redis, &hoardredis.Options{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: clockTier, TagClock: clockTier})
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour, Jitter: -1, Invalidator: inv})
	src := &source{}
	src.set("1", "one", nil)
	ctx := context.Background()
	var from hoard.Source
	get := func(o *hoard.CallOptions) string {
		t.Helper()
		o.Source = &from
		v, err := r.aside.GetWith(ctx, "1", src, o)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if get(&hoard.CallOptions{SkipMemory: true, TTL: time.Minute, Tags: []string{"t"}}); from != hoard.SourceLoader {
		t.Fatalf("first read answered by %v; want loader", from)
	}
	if _, err := r.memory.Get(ctx, r.aside.Key("1")); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("SkipMemory wrote the memory tier: %v", err)
	}
	e, err := r.shared.Get(ctx, r.aside.Key("1"))
	if err != nil {
		t.Fatal(err)
	}
	if ttl := e.ExpiresAt.Sub(e.WrittenAt); ttl != time.Minute || len(e.Tags) != 1 || e.Tags[0] != "t" {
		t.Fatalf("loaded entry: TTL %v, tags %q; want the call's 1m and [t]", ttl, e.Tags)
	}
	if get(&hoard.CallOptions{}); from != hoard.SourceShared {
		t.Fatalf("second read answered by %v; want shared", from)
	}
	if get(&hoard.CallOptions{}); from != hoard.SourceMemory {
		t.Fatalf("third read answered by %v; want memory", from)
	}
	if get(&hoard.CallOptions{SkipMemory: true, SkipShared: true}); from != hoard.SourceLoader || src.queries.Load() != 2 {
		t.Fatalf("read skipping both tiers answered by %v after %d queries; want loader, 2", from, src.queries.Load())
	}
}

// A plain hit through GetWith, options and Source included, allocates
// nothing.
func TestGetWithHitDoesNotAllocate(t *testing.T) {
	w := newWorld(t)
	r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour})
	src := &source{}
	src.set("1", "one", nil)
	ctx := context.Background()
	if _, err := r.aside.Get(ctx, "1", src); err != nil {
		t.Fatal(err)
	}
	var from hoard.Source
	o := &hoard.CallOptions{Source: &from, NoLock: false}
	if n := testing.AllocsPerRun(100, func() { _, _ = r.aside.GetWith(ctx, "1", src, o) }); n != 0 {
		t.Fatalf("a hit through GetWith allocates %v times; want 0", n)
	}
	if from != hoard.SourceMemory {
		t.Fatalf("answered by %v; want memory", from)
	}
}

// Expire keeps the entry for the fail-safe: the next read loads, and while
// the source fails it gets the expired value stale, where after a Delete
// it would get nothing.
func TestExpireKeepsTheFailSafeValue(t *testing.T) {
	w := newWorld(t)
	r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour, FailSafe: &hoard.FailSafe{Window: time.Hour}})
	src := &source{}
	src.set("1", "one", nil)
	ctx := context.Background()
	if _, err := r.aside.Get(ctx, "1", src); err != nil {
		t.Fatal(err)
	}
	if err := r.aside.Expire(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	src.set("", "", errors.New("db down"))
	var from hoard.Source
	v, err := r.aside.GetWith(ctx, "1", src, &hoard.CallOptions{Source: &from})
	if v != "one" || !errors.Is(err, hoard.ErrServedStale) || from != hoard.SourceStale {
		t.Fatalf("Get after Expire with the source down = %q, %v from %v; want the stale value", v, err, from)
	}
	if q := src.queries.Load(); q != 2 {
		t.Fatalf("%d queries; want 2: Expire made the next read load", q)
	}
	if err := r.aside.Delete(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.aside.Get(ctx, "1", src); errors.Is(err, hoard.ErrServedStale) || err == nil {
		t.Fatalf("Get after Delete with the source down = %v; want the source's error", err)
	}
}
