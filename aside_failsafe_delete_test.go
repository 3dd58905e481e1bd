package hoard_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// A Delete that lands between a failing load's reads of the two tiers (the
// memory tier read before it, the shared tier after) must not be undone by
// the fail-safe: the stale value read from memory is no value of the shared
// tier, where the Delete's token now holds. Once the Delete has returned,
// no read serves the deleted value.
func TestFailSafeDoesNotUndoADeleteBetweenItsReads(t *testing.T) {
	for _, read := range []string{"Get", "GetMany"} {
		t.Run(read, func(t *testing.T) { testFailSafeAfterDelete(t, read) })
	}
}

func testFailSafeAfterDelete(t *testing.T, read string) {
	w := newWorld(t)
	ctx := context.Background()
	mem, err := memory.New(&memory.Options[string]{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	redisTier, err := hoardredis.New[string](w.redis, &hoardredis.Options{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	var a *hoard.Aside[string]
	var armed atomic.Bool
	shared := hoardtest.NewFaultyCache[string](redisTier, hoardtest.FaultOptions[string]{
		Inject: func(ctx context.Context, c hoardtest.Call) hoardtest.Fault {
			if (c.Method == "GetWithToken" || c.Method == "GetManyWithTokens") && armed.CompareAndSwap(true, false) {
				if err := a.Delete(ctx, "1"); err != nil {
					t.Error(err)
				}
			}
			return hoardtest.Fault{}
		},
	})
	a, err = hoard.NewAside(&hoard.AsideOptions[string]{Name: "rows", Memory: mem, Shared: shared, Clock: w.clock,
		TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour}, Jitter: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(ctx) })
	if v, err := a.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "old", nil })); err != nil || v != "old" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	w.advance(2 * time.Minute) // stale in both tiers, within the fail-safe window

	get := func(value string, err error) (string, error) {
		if read == "Get" {
			return a.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return value, err }))
		}
		got, gerr := a.GetMany(ctx, []string{"1"}, hoard.BatchLoaderFunc[string](func(context.Context, []string) (map[string]string, error) {
			if err != nil {
				return nil, err
			}
			return map[string]string{"1": value}, nil
		}))
		return got["1"], gerr
	}
	armed.Store(true)
	if v, err := get("", errors.New("source down")); !errors.Is(err, hoard.ErrServedStale) || v != "old" { // begun before the Delete
		t.Fatalf("%s with the source down = %q, %v; want old, stale", read, v, err)
	}
	if armed.Load() {
		t.Fatal("the load never read the shared tier with a token")
	}
	if v, err := get("new", nil); err != nil || v != "new" {
		t.Fatalf("%s after the Delete returned = %q, %v; want new", read, v, err)
	}
}
