package hoard_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// calls counts the calls a faulty wrapper saw, by method.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) inject(_ context.Context, call hoardtest.Call) hoardtest.Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[call.Method]++
	return hoardtest.Fault{}
}

// take returns the counts so far and starts again from zero.
func (c *calls) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	return n
}

// counted is an Aside whose shared tier (also its invalidator's counter
// and tag clock) counts the calls made to it.
func counted(t *testing.T, w *world, inject hoardtest.Injector, bus hoard.Bus, o hoard.AsideOptions[string]) (*hoard.Aside[string], *hoard.Invalidator) {
	t.Helper()
	mem, err := memory.New(&memory.Options[string]{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	redisTier, err := hoardredis.New[string](w.redis, &hoardredis.Options{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	shared := hoardtest.NewFaultyCache[string](redisTier, hoardtest.FaultOptions[string]{Inject: inject})
	inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: shared.(hoard.Counter), TagClock: shared.(hoard.TagClock), Bus: bus, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inv.Close() })
	o.Name, o.Memory, o.Shared, o.Invalidator, o.Clock = "rows", mem, shared, inv, w.clock
	if bus != nil {
		o.Bus = bus
	}
	a, err := hoard.NewAside(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a, inv
}

// A miss asks Redis twice: one read, one compare-and-set write (issue 15:
// it read the key twice and the tag epoch once more). The tag epoch is read
// once per MaxStaleness, and again after a tag invalidation heard of on the
// bus; one made here gives the epoch itself.
func TestAsideMissRoundTrips(t *testing.T) {
	w := newWorld(t)
	c := &calls{}
	var network hoardtest.BusNetwork
	a, inv := counted(t, w, c.inject, network.NewBus(), hoard.AsideOptions[string]{TTL: time.Hour})
	_, other := counted(t, w, nil, network.NewBus(), hoard.AsideOptions[string]{TTL: time.Hour})
	ctx := context.Background()
	src := &source{rows: map[string]string{"1": "one", "2": "two", "3": "three", "4": "four", "5": "five"}}
	get := func(id string) map[string]int {
		t.Helper()
		c.take()
		if v, err := a.Get(ctx, id, src); err != nil || v != src.rows[id] {
			t.Fatalf("Get(%q) = %q, %v", id, v, err)
		}
		return c.take()
	}
	// The first load reads the tag epoch.
	if n := get("1"); n["GetWithToken"]+n["Get"] != 1 || n["CompareAndSet"] != 1 || n["Epoch"] != 1 || len(n) != 3 {
		t.Errorf("first miss: %v; want one read, one CompareAndSet, one Epoch", n)
	}
	if n := get("2"); n["GetWithToken"]+n["Get"] != 1 || n["CompareAndSet"] != 1 || len(n) != 2 {
		t.Errorf("second miss: %v; want one read and one CompareAndSet", n)
	}
	if err := a.Delete(ctx, "4"); err != nil { // no tag change: the epoch stays
		t.Fatal(err)
	}
	if err := inv.InvalidateTags(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	c.take()
	if n := get("3"); n["Epoch"] != 0 {
		t.Errorf("miss after a tag invalidation made here: %v; want no epoch read", n)
	}
	if err := other.InvalidateTags(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if n := get("5"); n["Epoch"] != 1 {
		t.Errorf("miss after a tag invalidation heard of: %v; want the epoch read again", n)
	}
	w.advance(2 * time.Second) // past MaxStaleness
	if n := get("4"); n["Epoch"] != 1 {
		t.Errorf("miss past MaxStaleness: %v; want the epoch read again", n)
	}
	if n := get("4"); len(n) != 0 {
		t.Errorf("hit: %v; want no call", n)
	}
}

// The double-check is kept: a Get whose read missed before another Get's
// load of the same key ended reads the tiers again, and does not load the
// key a second time.
func TestAsideMissRereadsAfterALoadLanded(t *testing.T) {
	w := newWorld(t)
	src := &source{rows: map[string]string{"1": "one"}}
	var a *hoard.Aside[string]
	var armed atomic.Bool
	ctx := context.Background()
	inject := func(_ context.Context, call hoardtest.Call) hoardtest.Fault {
		if call.Method != "GetWithToken" && call.Method != "Get" || !armed.CompareAndSwap(true, false) {
			return hoardtest.Fault{}
		}
		// The first Get's read has missed; before it goes on, another Get
		// of the key loads it and writes it back.
		return hoardtest.Fault{Then: func() {
			if v, err := a.Get(ctx, "1", src); err != nil || v != "one" {
				t.Errorf("the other Get = %q, %v", v, err)
			}
		}}
	}
	a, _ = counted(t, w, inject, nil, hoard.AsideOptions[string]{TTL: time.Hour})
	armed.Store(true)
	if v, err := a.Get(ctx, "1", src); err != nil || v != "one" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if armed.Load() {
		t.Fatal("the read was never interfered with")
	}
	if q := src.queries.Load(); q != 1 {
		t.Errorf("%d loads; want 1: the Get that read before the other's load ended must read again", q)
	}
}
