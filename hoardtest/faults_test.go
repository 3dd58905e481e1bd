package hoardtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// The faulty wrapper keeps exactly the inner cache's abilities, fails the
// calls its injector says, makes a write that fails "after" take effect,
// reports what was written, and runs Then between the call and its answer.
func TestFaultyCache(t *testing.T) {
	ctx := context.Background()
	clock := hoardtest.NewFakeClock(time.Unix(1_000_000, 0))
	inner, err := memory.New(&memory.Options[string]{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	var fault hoardtest.Fault
	var wrote []string
	var thenRan bool
	c := hoardtest.NewFaultyCache[string](inner, hoardtest.FaultOptions[string]{
		Inject: func(context.Context, hoardtest.Call) hoardtest.Fault { return fault },
		Write: func(_ context.Context, c hoardtest.Call, key string, e hoard.Entry[string]) func(error) {
			return func(err error) {
				if err == nil {
					wrote = append(wrote, c.Method+" "+key+"="+e.Value)
				}
			}
		},
	})
	for name, ok := range map[string]bool{
		"Clearer":          is[hoard.Clearer](c),
		"IDKeyGetter":      is[hoard.IDKeyGetter[string]](c),
		"CompareAndSetter": is[hoard.CompareAndSetter[string]](c),
		"Counter":          is[hoard.Counter](c),
		"TagClock":         is[hoard.TagClock](c),
	} {
		if !ok {
			t.Errorf("the wrapper of a memory cache is no %s", name)
		}
	}
	e := hoard.Entry[string]{Value: "v1", ExpiresAt: clock.Now().Add(time.Minute)}
	if err := c.Set(ctx, "k", e); err != nil {
		t.Fatal(err)
	}

	fault = hoardtest.Fault{Err: hoardtest.ErrInjected}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, hoard.ErrUnavailable) || !hoardtest.IsInjected(err) {
		t.Fatalf("Get with a fault = %v, want an injected ErrUnavailable", err)
	}
	e.Value = "v2"
	if err := c.Set(ctx, "k", e); !hoardtest.IsInjected(err) {
		t.Fatalf("Set with a fault = %v", err)
	}
	fault = hoardtest.Fault{Err: hoardtest.ErrInjected, After: true, Then: func() { thenRan = true }}
	e.Value = "v3"
	if err := c.Set(ctx, "k", e); !hoardtest.IsInjected(err) {
		t.Fatalf("Set failing after = %v", err)
	}
	fault = hoardtest.Fault{}
	got, err := c.Get(ctx, "k")
	if err != nil || got.Value != "v3" {
		t.Fatalf("Get = %q, %v; want v3: a write failing after the call takes effect", got.Value, err)
	}
	if !thenRan {
		t.Error("Then did not run")
	}
	if want := []string{"Set k=v1", "Set k=v3"}; len(wrote) != 2 || wrote[0] != want[0] || wrote[1] != want[1] {
		t.Errorf("Write saw %q stored, want %q", wrote, want)
	}
}

func is[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// Faults fails every call while down and the given share otherwise, with
// the same choices for the same seed.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	call := hoardtest.Call{Method: "Get", Op: hoardtest.OpRead}
	f := hoardtest.NewFaults(7)
	if got := f.Inject(ctx, call); got.Err != nil {
		t.Fatalf("a new Faults injected %v", got.Err)
	}
	f.SetDown(true)
	if got := f.Inject(ctx, call); !hoardtest.IsInjected(got.Err) {
		t.Fatalf("down: %v", got.Err)
	}
	f.Only(hoardtest.OpLock)
	if got := f.Inject(ctx, call); got.Err != nil {
		t.Fatalf("down for locks only, a read got %v", got.Err)
	}
	run := func(seed uint64) (n int) {
		f := hoardtest.NewFaults(seed)
		f.SetErrorRate(0.3, 0)
		for range 1000 {
			if f.Inject(ctx, call).Err != nil {
				n++
			}
		}
		return n
	}
	if a, b := run(1), run(1); a != b || a < 200 || a > 400 {
		t.Fatalf("30%% of 1000 calls with seed 1: %d then %d", a, b)
	}
}

// A network that lost a delivery to a bus says so until the bus was
// told, by its next delivery or by Heal.
func TestBusNetworkLoss(t *testing.T) {
	ctx := context.Background()
	var n hoardtest.BusNetwork
	a, b := n.NewBus(), n.NewBus()
	var got [][]hoard.Invalidation
	unsubscribe := b.Subscribe(func(evs []hoard.Invalidation) { got = append(got, evs) })
	defer unsubscribe()
	key := hoard.Invalidation{Kind: hoard.InvalidateKey, Value: "k"}

	n.LoseNextTo(b, 1)
	if err := a.Publish(ctx, key); err != nil {
		t.Fatal(err)
	}
	pending, mark := b.Lost()
	if !pending || b.Recovered(mark) || len(got) != 0 {
		t.Fatalf("after a loss: pending %v, recovered %v, delivered %v", pending, b.Recovered(mark), got)
	}
	n.Heal()
	if !b.Recovered(mark) || len(got) != 1 || got[0][0].Kind != hoard.InvalidateAll {
		t.Fatalf("after Heal: recovered %v, delivered %v; want one InvalidateAll", b.Recovered(mark), got)
	}
	if pending, _ := b.Lost(); pending {
		t.Fatal("still pending after Heal")
	}
	if err := a.Publish(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := n.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1][0] != key {
		t.Fatalf("delivered %v", got)
	}
}
