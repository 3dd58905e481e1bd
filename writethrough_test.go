package hoard_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// table is an in-memory Store that keeps the version rule: a write older
// than the stored version is ignored.
type table struct {
	mu    sync.Mutex
	rows  map[string]row
	fail  error
	loads atomic.Int64
}

type row struct {
	value   string
	version uint64
	deleted bool
}

func (t *table) Load(_ context.Context, id string) (string, error) {
	t.loads.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.rows[id]
	if !ok || r.deleted {
		return "", hoard.ErrNotFound
	}
	return r.value, nil
}

func (t *table) Save(_ context.Context, id, v string, version uint64) error {
	return t.apply(id, row{value: v, version: version})
}

func (t *table) Delete(_ context.Context, id string, version uint64) error {
	return t.apply(id, row{version: version, deleted: true})
}

func (t *table) apply(id string, r row) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fail != nil {
		return t.fail
	}
	if t.rows == nil {
		t.rows = map[string]row{}
	}
	if old, ok := t.rows[id]; ok && old.version >= r.version {
		return nil
	}
	t.rows[id] = r
	return nil
}

func (t *table) value(id string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.rows[id]
	return r.value, ok && !r.deleted
}

func newWriteThrough(t *testing.T, r *rig, store hoard.Store[string], mode hoard.WriteMode) *hoard.WriteThrough[string] {
	t.Helper()
	wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: r.aside, Store: store, Mode: mode, InvalidateBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return wt
}

func TestWriteThroughUpdatesBothTiers(t *testing.T) {
	w := newWorld(t)
	r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute})
	db := &table{}
	wt := newWriteThrough(t, r, db, hoard.WriteUpdate)
	ctx := context.Background()
	if err := wt.Put(ctx, "1", "v1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.value("1"); v != "v1" {
		t.Fatalf("store holds %q", v)
	}
	for name, c := range map[string]hoard.Cache[string]{"memory": r.memory, "redis": r.shared} {
		if e, err := c.Get(ctx, r.aside.Key("1")); err != nil || e.Value != "v1" {
			t.Errorf("%s tier = %q, %v; want v1", name, e.Value, err)
		}
	}
	if v, err := r.aside.Get(ctx, "1", db); v != "v1" || err != nil || db.loads.Load() != 0 {
		t.Fatalf("Get after Put = %q, %v with %d loads; want a hit", v, err, db.loads.Load())
	}
	if err := wt.Delete(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.aside.Get(ctx, "1", db); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Get after Delete: %v; want ErrNotFound", err)
	}
}

func TestWriteThroughInvalidateMode(t *testing.T) {
	w := newWorld(t)
	r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute})
	db := &table{}
	wt := newWriteThrough(t, r, db, hoard.WriteInvalidate)
	ctx := context.Background()
	_ = wt.Put(ctx, "1", "v1")
	if _, err := r.aside.Get(ctx, "1", db); err != nil {
		t.Fatal(err)
	}
	if err := wt.Put(ctx, "1", "v2"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.memory.Get(ctx, r.aside.Key("1")); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("memory tier after an invalidating Put: %v", err)
	}
	if v, _ := r.aside.Get(ctx, "1", db); v != "v2" {
		t.Fatalf("Get = %q; want v2 loaded", v)
	}
}

// A failed store write leaves the cache as it was.
func TestWriteThroughStoreFailure(t *testing.T) {
	w := newWorld(t)
	r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute})
	db := &table{}
	wt := newWriteThrough(t, r, db, hoard.WriteUpdate)
	ctx := context.Background()
	_ = wt.Put(ctx, "1", "v1")
	db.mu.Lock()
	db.fail = errors.New("disk full")
	db.mu.Unlock()
	err := wt.Put(ctx, "1", "v2")
	if !errors.Is(err, hoard.ErrStoreFailed) || errors.Is(err, hoard.ErrCacheFailed) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Put with a failing store: %v; want ErrStoreFailed with the cause", err)
	}
	if e, _ := r.shared.Get(ctx, r.aside.Key("1")); e.Value != "v1" {
		t.Fatalf("cache holds %q after a failed store write; want v1 untouched", e.Value)
	}
}

// failingCache fails compare-and-sets (and, when told, deletes) on demand.
type failingCache struct {
	hoard.Cache[string]
	cas     hoard.CompareAndSetter[string]
	failCAS atomic.Bool
	failDel atomic.Bool
}

func (f *failingCache) GetWithToken(ctx context.Context, key string) (hoard.Entry[string], hoard.Token, error) {
	return f.cas.GetWithToken(ctx, key)
}

func (f *failingCache) CompareAndSet(ctx context.Context, key string, tok hoard.Token, e hoard.Entry[string]) error {
	if f.failCAS.Load() {
		return fmt.Errorf("%w: injected", hoard.ErrUnavailable)
	}
	return f.cas.CompareAndSet(ctx, key, tok, e)
}

func (f *failingCache) Delete(ctx context.Context, keys ...string) error {
	if f.failDel.Load() {
		return fmt.Errorf("%w: injected", hoard.ErrUnavailable)
	}
	return f.Cache.Delete(ctx, keys...)
}

// A cache that fails after the store succeeded gets the key invalidated,
// and the error says which half failed.
func TestWriteThroughCacheFailure(t *testing.T) {
	w := newWorld(t)
	base := w.instance(t, hoard.AsideOptions[string]{})
	flaky := &failingCache{Cache: base.shared, cas: base.shared}
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "products", Shared: flaky, Memory: base.memory, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	db := &table{}
	wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: a, Store: db, InvalidateBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = wt.Put(ctx, "1", "v1")

	flaky.failCAS.Store(true)
	err = wt.Put(ctx, "1", "v2")
	if !errors.Is(err, hoard.ErrCacheFailed) || !strings.Contains(err.Error(), "invalidated") {
		t.Fatalf("Put with a failing cache update: %v; want ErrCacheFailed saying the key was invalidated", err)
	}
	if v, _ := db.value("1"); v != "v2" {
		t.Fatalf("store holds %q; want v2", v)
	}
	if v, _ := a.Get(ctx, "1", db); v != "v2" {
		t.Fatalf("Get after the failed update = %q; want v2 loaded, not the stale v1", v)
	}

	flaky.failDel.Store(true)
	err = wt.Put(ctx, "1", "v3")
	if !errors.Is(err, hoard.ErrCacheFailed) || !strings.Contains(err.Error(), "until its TTL") {
		t.Fatalf("Put with cache update and invalidation failing: %v; want it said", err)
	}
}

// The stale-set race with a writer: a cache-aside load reads v1 from the
// store; a write-through stores v2; the load must not put v1 back.
func TestWriteThroughBeatsRacingLoad(t *testing.T) {
	w := newWorld(t)
	r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour})
	db := &table{}
	wt := newWriteThrough(t, r, db, hoard.WriteUpdate)
	ctx := context.Background()
	_ = db.Save(ctx, "1", "v1", 1)
	readV1, writerDone := make(chan struct{}), make(chan struct{})
	slow := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
		v, err := db.Load(ctx, id)
		close(readV1)
		<-writerDone
		return v, err
	})
	got := make(chan string)
	go func() { v, _ := r.aside.Get(ctx, "1", slow); got <- v }()
	<-readV1
	if err := wt.Put(ctx, "1", "v2"); err != nil {
		t.Fatal(err)
	}
	close(writerDone)
	<-got
	for name, c := range map[string]hoard.Cache[string]{"memory": r.memory, "redis": r.shared} {
		if e, err := c.Get(ctx, r.aside.Key("1")); err == nil && e.Value != "v2" {
			t.Errorf("%s tier holds %q after the write-through; want v2 or nothing", name, e.Value)
		}
	}
}

// Writers in several instances race on one id; after they stop, every
// instance reads what the store holds.
func TestWriteThroughRacingWritersStayCoherent(t *testing.T) {
	for run := range 20 {
		w := newWorld(t)
		db := &table{}
		var instances []*rig
		var writers []*hoard.WriteThrough[string]
		for range 3 {
			r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour})
			instances = append(instances, r)
			writers = append(writers, newWriteThrough(t, r, db, hoard.WriteUpdate))
		}
		ctx := context.Background()
		var wg sync.WaitGroup
		for i, wt := range writers {
			for j := range 5 {
				wg.Go(func() {
					if err := wt.Put(ctx, "1", fmt.Sprintf("w%d-%d", i, j)); err != nil {
						t.Error(err)
					}
				})
			}
		}
		wg.Wait()
		want, _ := db.value("1")
		// Other instances' memory tiers learn of writes through the
		// invalidation bus (TestWriteThroughReachesEveryMemoryTier); these
		// instances have none, so only the shared tier is checked.
		if e, err := instances[0].shared.Get(ctx, instances[0].aside.Key("1")); err == nil && e.Value != want {
			t.Fatalf("run %d: Redis holds %q, the store %q", run, e.Value, want)
		}
	}
}
