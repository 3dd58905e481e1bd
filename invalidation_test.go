package hoard_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/hoardtest"
)

// fleet is several instances of one service: each its own memory tier and
// Redis client, sharing one Redis, one bus network and the version store.
type fleet struct {
	*world
	network   hoardtest.BusNetwork
	instances []*fleetMember
}

type fleetMember struct {
	*rig
	bus *hoardtest.LocalBus
	inv *hoard.Invalidator
}

func newFleet(t *testing.T, n int, o hoard.AsideOptions[string]) *fleet {
	t.Helper()
	f := &fleet{world: newWorld(t)}
	for range n {
		bus := f.network.NewBus()
		versions, err := hoardredis.New[string](f.redis, &hoardredis.Options{Clock: f.clock})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: versions, TagClock: versions, Bus: bus, Clock: f.clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inv.Close() })
		oo := o
		oo.Bus, oo.Invalidator = bus, inv
		r := f.instance(t, oo)
		t.Cleanup(func() { _ = r.aside.Close(context.Background()) })
		f.instances = append(f.instances, &fleetMember{rig: r, bus: bus, inv: inv})
	}
	return f
}

// counting is a loader that returns value() and counts its calls.
type counting struct {
	calls atomic.Int64
	value atomic.Value
	tags  []string
}

func (c *counting) Load(ctx context.Context, _ string) (string, error) {
	c.calls.Add(1)
	if len(c.tags) > 0 {
		hoard.SetTags(ctx, c.tags...)
	}
	return c.value.Load().(string), nil
}

func TestNamespaceBump(t *testing.T) {
	f := newFleet(t, 3, hoard.AsideOptions[string]{Namespace: "catalogue", TTL: time.Hour})
	ctx := context.Background()
	src := &counting{}
	src.value.Store("old")
	for _, m := range f.instances {
		if v, _ := m.aside.Get(ctx, "1", src); v != "old" {
			t.Fatalf("Get = %q", v)
		}
	}
	oldKey := f.instances[0].aside.Key("1")
	src.value.Store("new")
	if _, err := f.instances[0].inv.BumpNamespace(ctx, "catalogue"); err != nil {
		t.Fatal(err)
	}
	if newKey := f.instances[0].aside.Key("1"); newKey == oldKey {
		t.Fatalf("the key %q did not change with the bump", newKey)
	}
	// After the bump returned (the bus delivered it), no instance serves
	// the old entry.
	for i, m := range f.instances {
		if v, _ := m.aside.Get(ctx, "1", src); v != "new" {
			t.Fatalf("instance %d: Get after the bump = %q; want new", i, v)
		}
	}
}

// An instance that missed the bus message learns of a bump within
// MaxStaleness.
func TestNamespaceBumpWithoutBus(t *testing.T) {
	f := newFleet(t, 2, hoard.AsideOptions[string]{Namespace: "catalogue", TTL: time.Hour, MemoryTTL: time.Hour})
	ctx := context.Background()
	src := &counting{}
	src.value.Store("old")
	b := f.instances[1]
	_, _ = b.aside.Get(ctx, "1", src)
	src.value.Store("new")
	// Bump through a third party that has no bus: B hears nothing.
	versions, _ := hoardredis.New[string](f.redis, &hoardredis.Options{Clock: f.clock})
	silent, _ := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: versions, TagClock: versions, Clock: f.clock})
	defer silent.Close()
	if _, err := silent.BumpNamespace(ctx, "catalogue"); err != nil {
		t.Fatal(err)
	}
	// The version is not read from Redis on every Get: until MaxStaleness
	// passes, B keeps the version it knows.
	if v, _ := b.aside.Get(ctx, "1", src); v != "old" {
		t.Fatalf("B read the namespace version again before MaxStaleness: got %q", v)
	}
	f.advance(time.Second + time.Millisecond)
	if v, _ := b.aside.Get(ctx, "1", src); v != "new" {
		t.Fatalf("B after MaxStaleness = %q; want new", v)
	}
}

func TestTagInvalidation(t *testing.T) {
	f := newFleet(t, 3, hoard.AsideOptions[string]{TTL: time.Hour, FailSafe: &hoard.FailSafe{Window: time.Hour}})
	ctx := context.Background()
	src := &counting{tags: []string{"product:42", "category:7"}}
	src.value.Store("old")
	for _, m := range f.instances {
		_, _ = m.aside.Get(ctx, "p42", src)
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d loads; want 1", n)
	}
	src.value.Store("new")
	if err := f.instances[1].inv.InvalidateTags(ctx, "category:7"); err != nil {
		t.Fatal(err)
	}
	for i, m := range f.instances {
		if v, _ := m.aside.Get(ctx, "p42", src); v != "new" {
			t.Fatalf("instance %d: Get after the tag invalidation = %q; want new", i, v)
		}
	}
	// An invalidated entry is never served, not even stale by the
	// fail-safe: with the source down, the error comes through.
	outage := errors.New("db down")
	if err := f.instances[0].inv.InvalidateTags(ctx, "product:42"); err != nil {
		t.Fatal(err)
	}
	failing := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "", outage })
	for i, m := range f.instances {
		if v, err := m.aside.Get(ctx, "p42", failing); !errors.Is(err, outage) || errors.Is(err, hoard.ErrServedStale) {
			t.Fatalf("instance %d with the source down after an invalidation = %q, %v; want the outage, nothing stale", i, v, err)
		}
	}
}

// An invalidation that lands while a load runs poisons the load, although
// the loader tags its value only at the end.
func TestTagInvalidationDuringLoad(t *testing.T) {
	f := newFleet(t, 2, hoard.AsideOptions[string]{TTL: time.Hour})
	ctx := context.Background()
	a, b := f.instances[0], f.instances[1]
	readOld, invalidated := make(chan struct{}), make(chan struct{})
	slow := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
		close(readOld)
		<-invalidated
		hoard.SetTags(ctx, "product:42")
		return "old", nil
	})
	done := make(chan struct{})
	go func() { _, _ = a.aside.Get(ctx, "p42", slow); close(done) }()
	<-readOld
	if err := b.inv.InvalidateTags(ctx, "product:42"); err != nil {
		t.Fatal(err)
	}
	close(invalidated)
	<-done
	src := &counting{tags: []string{"product:42"}}
	src.value.Store("new")
	for i, m := range f.instances {
		if v, _ := m.aside.Get(ctx, "p42", src); v != "new" {
			t.Fatalf("instance %d: %q; want the load that raced the invalidation not served", i, v)
		}
	}
}

// A Delete on one instance evicts the key from every instance's memory
// tier at once, through the bus.
func TestDeleteReachesEveryMemoryTier(t *testing.T) {
	f := newFleet(t, 3, hoard.AsideOptions[string]{TTL: time.Hour, MemoryTTL: time.Hour})
	ctx := context.Background()
	src := &counting{}
	src.value.Store("old")
	for _, m := range f.instances {
		_, _ = m.aside.Get(ctx, "1", src)
	}
	src.value.Store("new")
	if err := f.instances[0].aside.Delete(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	for i, m := range f.instances {
		if _, err := m.memory.Get(ctx, m.aside.Key("1")); !errors.Is(err, hoard.ErrNotFound) {
			t.Fatalf("instance %d still holds the key in memory: %v", i, err)
		}
		if v, _ := m.aside.Get(ctx, "1", src); v != "new" {
			t.Fatalf("instance %d: Get after Delete = %q; want new", i, v)
		}
	}
}

// A lost bus message makes the receiver flush its memory tier: no stale
// value survives the loss.
func TestLostMessageFlushesMemory(t *testing.T) {
	f := newFleet(t, 2, hoard.AsideOptions[string]{TTL: time.Hour, MemoryTTL: time.Hour})
	ctx := context.Background()
	a, b := f.instances[0], f.instances[1]
	src := &counting{}
	src.value.Store("old")
	_, _ = b.aside.Get(ctx, "1", src)
	_, _ = b.aside.Get(ctx, "2", src)
	src.value.Store("new")
	f.network.LoseNext(1)
	_ = a.aside.Delete(ctx, "1") // B never hears of it...
	_ = a.aside.Delete(ctx, "2") // ...until this message shows the loss
	for _, id := range []string{"1", "2"} {
		if v, _ := b.aside.Get(ctx, id, src); v != "new" {
			t.Fatalf("B serves %q for %s after a lost message; want new", v, id)
		}
	}
}

// Without the bus, a memory tier is never staler than MemoryTTL.
func TestMemoryTTLBoundsStaleness(t *testing.T) {
	w := newWorld(t)
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour, MemoryTTL: 5 * time.Second})
	b := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour, MemoryTTL: 5 * time.Second})
	ctx := context.Background()
	src := &counting{}
	src.value.Store("old")
	_, _ = b.aside.Get(ctx, "1", src)
	src.value.Store("new")
	_ = a.aside.Delete(ctx, "1")
	w.advance(6 * time.Second)
	if v, _ := b.aside.Get(ctx, "1", src); v != "new" {
		t.Fatalf("B after MemoryTTL = %q; want new", v)
	}
}

func TestDeletePrefixEverywhere(t *testing.T) {
	f := newFleet(t, 2, hoard.AsideOptions[string]{TTL: time.Hour, MemoryTTL: time.Hour})
	ctx := context.Background()
	src := &counting{}
	src.value.Store("old")
	ids := []string{"user:1", "user:2", "user:10", "team:1"}
	for _, m := range f.instances {
		for _, id := range ids {
			_, _ = m.aside.Get(ctx, id, src)
		}
	}
	src.value.Store("new")
	n, err := f.instances[0].aside.DeletePrefix(ctx, "user:")
	if err != nil || n != 3 {
		t.Fatalf("DeletePrefix = %d, %v; want 3", n, err)
	}
	for i, m := range f.instances {
		for _, id := range ids {
			want := "new"
			if id == "team:1" {
				want = "old"
			}
			if v, _ := m.aside.Get(ctx, id, src); v != want {
				t.Fatalf("instance %d: %s = %q; want %q", i, id, v, want)
			}
		}
	}
}

// A write-through Put on one instance reaches every other instance's memory
// tier through the bus, at once.
func TestWriteThroughReachesEveryMemoryTier(t *testing.T) {
	f := newFleet(t, 3, hoard.AsideOptions[string]{TTL: time.Hour, MemoryTTL: time.Hour})
	ctx := context.Background()
	db := &table{}
	_ = db.Save(ctx, "1", "old", 1)
	for _, m := range f.instances {
		if v, _ := m.aside.Get(ctx, "1", db); v != "old" {
			t.Fatalf("warm-up = %q", v)
		}
	}
	wt := newWriteThrough(t, f.instances[0].rig, db, hoard.WriteUpdate)
	if err := wt.Put(ctx, "1", "new"); err != nil {
		t.Fatal(err)
	}
	for i, m := range f.instances {
		if v, _ := m.aside.Get(ctx, "1", db); v != "new" {
			t.Fatalf("instance %d after a write-through on instance 0 = %q; want new", i, v)
		}
	}
}
