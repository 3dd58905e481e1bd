package hoard_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// SharedBudget.SoftTimeout serves a stale memory copy only within the
// fail-safe window (its doc: "a memory entry past its freshness, within
// the fail-safe window"; README: "a stale copy in memory (within
// FailSafe.Window)"). Without a fail-safe there is no window: a Get whose
// memory copy passed MemoryTTL waits for the slow shared tier, which
// holds the value fresh. Found by the combination test (long run, seed
// 1796593827390248489). Fails until Aside.get checks for a fail-safe
// window before it puts the soft budget on the shared read.
func TestSoftBudgetServesNothingStaleWithoutFailSafe(t *testing.T) {
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
	var slow atomic.Bool
	shared := hoardtest.NewFaultyCache[string](redisTier, hoardtest.FaultOptions[string]{
		Inject: func(context.Context, hoardtest.Call) hoardtest.Fault {
			if slow.Load() {
				return hoardtest.Fault{Delay: 50 * time.Millisecond}
			}
			return hoardtest.Fault{}
		},
	})
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "rows", Memory: mem, Shared: shared, Clock: w.clock,
		TTL: time.Hour, MemoryTTL: time.Minute, Jitter: -1, SharedBudget: &hoard.SharedBudget{SoftTimeout: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(ctx) })
	load := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "one", nil })
	if _, err := a.Get(ctx, "1", load); err != nil {
		t.Fatal(err)
	}
	w.advance(2 * time.Minute) // past MemoryTTL; fresh in the shared tier
	slow.Store(true)
	if v, err := a.Get(ctx, "1", load); err != nil || v != "one" {
		t.Fatalf("Get with the shared tier slow and no fail-safe = %q, %v; want \"one\" with a nil error (no fail-safe window, nothing served stale)", v, err)
	}
}
