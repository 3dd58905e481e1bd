package hoard_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// vtable is an in-memory Store that keeps the version rule and counts the
// writes it refused for being older than the row.
type vtable struct {
	mu      sync.Mutex
	rows    map[string]row // guarded by mu
	refused int            // guarded by mu
}

func newVTable() *vtable { return &vtable{rows: map[string]row{}} }

func (t *vtable) Load(_ context.Context, id string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.rows[id]
	if !ok || r.deleted {
		return "", hoard.ErrNotFound
	}
	return r.value, nil
}

func (t *vtable) Save(_ context.Context, id, v string, version uint64) error {
	t.apply(id, row{value: v, version: version})
	return nil
}

func (t *vtable) Delete(_ context.Context, id string, version uint64) error {
	t.apply(id, row{version: version, deleted: true})
	return nil
}

func (t *vtable) apply(id string, r row) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.rows[id]; ok && old.version >= r.version {
		t.refused++
		return
	}
	t.rows[id] = r
}

// state returns id's row and the number of writes refused so far.
func (t *vtable) state(id string) (row, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rows[id], t.refused
}

// ownVTable is a vtable that picks the versions itself, as
// stores/postgres does: above the row's, and at least the floor.
type ownVTable struct{ *vtable }

var _ hoard.VersioningStore[string] = ownVTable{}

func (o ownVTable) SaveNext(_ context.Context, id, v string, floor uint64) (uint64, error) {
	return o.next(id, row{value: v}, floor), nil
}

func (o ownVTable) DeleteNext(_ context.Context, id string, floor uint64) (uint64, error) {
	return o.next(id, row{deleted: true}, floor), nil
}

func (o ownVTable) next(id string, r row, floor uint64) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	r.version = max(o.rows[id].version+1, floor)
	o.rows[id] = r
	return r.version
}

// outageNode is one process: its own Redis client, memory tier and clock,
// an Aside with both tiers, and a write-through to the shared store with
// the default versioning.
type outageNode struct {
	aside *hoard.Aside[string]
	wt    *hoard.WriteThrough[string]
	clock *hoardtest.FakeClock
}

func newOutageNode(t *testing.T, addr, name string, store hoard.Store[string], clock *hoardtest.FakeClock, namespaced bool) outageNode {
	t.Helper()
	// No retries and short timeouts: a down Redis fails each call at once.
	client := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	shared, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := memory.New[string](&memory.Options[string]{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	o := &hoard.AsideOptions[string]{Name: name, Memory: mem, Shared: shared, TTL: time.Hour, Jitter: -1, Clock: clock}
	if namespaced {
		inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: shared, TagClock: shared, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inv.Close() })
		o.Invalidator, o.Namespace = inv, "ns"
	}
	a, err := hoard.NewAside(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: a, Store: store, InvalidateBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return outageNode{a, wt, clock}
}

// cacheFailedOnly fails the test unless err is nil or says that the cache
// part failed after the store had the write.
func cacheFailedOnly(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && (!errors.Is(err, hoard.ErrCacheFailed) || errors.Is(err, hoard.ErrStoreFailed)) {
		t.Fatalf("%s: %v; want nil or ErrCacheFailed, never ErrStoreFailed", what, err)
	}
}

// The item 5: with Redis down, WriteThrough.Put and Delete with
// the default versioning reach the store, and say that the cache part
// failed; the version rule holds across the outage. Two processes, B's
// clock 50 ms behind A's; the ids' counters were made an hour before the
// outage. Each write below is more than 50 ms after the one before, so
// each must be stored: none refused for its version, during the outage or
// after it, and the row's version rises with each write. After the
// outage, versions come from the Redis counters again, which have caught
// up with the clock.
func TestWriteThroughReachesTheStoreWithRedisDown(t *testing.T) {
	mr := miniredis.RunT(t)
	store := newVTable()
	now := time.Now()
	a := newOutageNode(t, mr.Addr(), "rows", store, hoardtest.NewFakeClock(now), false)
	b := newOutageNode(t, mr.Addr(), "rows", store, hoardtest.NewFakeClock(now.Add(-50*time.Millisecond)), false)
	ctx := context.Background()
	advance := func(d time.Duration) {
		a.clock.Advance(d)
		b.clock.Advance(d)
	}
	var lastVersion uint64
	wrote := func(what string, n outageNode, write func(context.Context) error, want row) {
		t.Helper()
		cacheFailedOnly(t, what, write(ctx))
		got, refused := store.state("1")
		if refused != 0 {
			t.Fatalf("%s: %d writes refused for their version; want 0", what, refused)
		}
		if got.value != want.value || got.deleted != want.deleted || got.version <= lastVersion {
			t.Fatalf("%s: the store holds %+v; want %+v at a version above %d", what, got, want, lastVersion)
		}
		lastVersion = got.version
		advance(100 * time.Millisecond)
	}
	put := func(n outageNode, v string) func(context.Context) error {
		return func(ctx context.Context) error { return n.wt.Put(ctx, "1", v) }
	}

	wrote("A's Put, Redis up", a, put(a, "a1"), row{value: "a1"})
	wrote("B's Put, Redis up", b, put(b, "b1"), row{value: "b1"})
	advance(time.Hour)

	mr.Close()
	for _, n := range []outageNode{a, b} {
		err := n.wt.Put(ctx, "1", "down")
		if !errors.Is(err, hoard.ErrCacheFailed) || errors.Is(err, hoard.ErrStoreFailed) {
			t.Fatalf("Put with Redis down: %v; want ErrCacheFailed, not ErrStoreFailed", err)
		}
		got, _ := store.state("1")
		if got.value != "down" || got.version <= lastVersion {
			t.Fatalf("the store holds %+v after a Put with Redis down; want it", got)
		}
		lastVersion = got.version
		advance(100 * time.Millisecond)
	}
	wrote("A's Put, Redis down", a, put(a, "a2"), row{value: "a2"})
	wrote("B's Put, Redis down", b, put(b, "b2"), row{value: "b2"})
	wrote("A's Delete, Redis down", a, func(ctx context.Context) error { return a.wt.Delete(ctx, "1") }, row{deleted: true})
	wrote("B's Put after the delete, Redis down", b, put(b, "b3"), row{value: "b3"})

	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	advance(2 * time.Second) // past the versioners' Backoff: they ask Redis again
	wrote("A's Put, Redis back", a, put(a, "a4"), row{value: "a4"})
	wrote("B's Put, Redis back", b, put(b, "b4"), row{value: "b4"})
	wrote("A's Put, Redis back", a, put(a, "a5"), row{value: "a5"})
	// The last version came from the id's counter in Redis, which passed
	// the versions taken from the clocks during the outage.
	counter, err := mr.Get(a.aside.Key("%version") + ":1")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := store.state("1"); strconv.FormatUint(got.version, 10) != counter {
		t.Fatalf("the store's version %d, the Redis counter %s: want the counter's", got.version, counter)
	}
}

// A namespace whose version cannot be read does not keep the write from
// the store either: the key cannot be named, so it is invalidated after
// the store has the write, and the error says the cache part failed.
func TestWriteThroughReachesTheStoreWithTheNamespaceUnreadable(t *testing.T) {
	mr := miniredis.RunT(t)
	store := newVTable()
	n := newOutageNode(t, mr.Addr(), "rows", store, hoardtest.NewFakeClock(time.Now()), true)
	mr.Close()
	ctx := context.Background()
	err := n.wt.Put(ctx, "1", "v")
	if !errors.Is(err, hoard.ErrCacheFailed) || errors.Is(err, hoard.ErrStoreFailed) {
		t.Fatalf("Put with the namespace unreadable: %v; want ErrCacheFailed, not ErrStoreFailed", err)
	}
	if got, _ := store.state("1"); got.value != "v" {
		t.Fatalf("the store holds %+v; want the write", got)
	}
}

// The trade-off, measured: during the outage, two writes of one id in two
// processes closer than their clocks' skew may be stored against their
// real order. B's clock is 50 ms behind A's and B writes 10 ms after A:
// with versions from the clocks, the store keeps A's write and refuses
// B's. A store that picks its own versions has no such window: the store
// orders the writes as it applies them, so B's later write is kept.
func TestWriteThroughOutageSkewWindow(t *testing.T) {
	for _, own := range []bool{false, true} {
		name := "versions from the clocks"
		if own {
			name = "versions from the store"
		}
		t.Run(name, func(t *testing.T) {
			mr := miniredis.RunT(t)
			table := newVTable()
			var store hoard.Store[string] = table
			if own {
				store = ownVTable{table}
			}
			now := time.Now()
			a := newOutageNode(t, mr.Addr(), "rows", store, hoardtest.NewFakeClock(now), false)
			b := newOutageNode(t, mr.Addr(), "rows", store, hoardtest.NewFakeClock(now.Add(-50*time.Millisecond)), false)
			ctx := context.Background()
			mr.Close()
			cacheFailedOnly(t, "A's Put", a.wt.Put(ctx, "1", "a"))
			a.clock.Advance(10 * time.Millisecond)
			b.clock.Advance(10 * time.Millisecond)
			cacheFailedOnly(t, "B's Put", b.wt.Put(ctx, "1", "b"))
			got, refused := table.state("1")
			switch {
			case own && (got.value != "b" || refused != 0):
				t.Fatalf("the store holds %+v, %d refused; want B's later write", got, refused)
			case !own && (got.value != "a" || refused != 1):
				t.Fatalf("the store holds %+v, %d refused; want A's write kept and B's refused (within the skew)", got, refused)
			}
		})
	}
}
