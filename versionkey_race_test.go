package hoard_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// pausedReads is a Counter and TagClock whose next read, once armed,
// answers only when released: a read of the old version or stamp that
// lands after a newer one was stored.
type pausedReads struct {
	*memory.Cache[string]
	mu      sync.Mutex
	armed   bool
	reached chan struct{}
	release chan struct{}
}

func (p *pausedReads) arm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed, p.reached, p.release = true, make(chan struct{}), make(chan struct{})
}

// pause holds a read that has its answer, if armed.
func (p *pausedReads) pause() {
	p.mu.Lock()
	armed := p.armed
	p.armed = false
	p.mu.Unlock()
	if armed {
		close(p.reached)
		<-p.release
	}
}

func (p *pausedReads) IncrBy(ctx context.Context, key string, delta int64) (int64, error) {
	n, err := p.Cache.IncrBy(ctx, key, delta)
	if delta == 0 {
		p.pause()
	}
	return n, err
}

func (p *pausedReads) TagEpochs(ctx context.Context, tags []string) ([]int64, error) {
	e, err := p.Cache.TagEpochs(ctx, tags)
	p.pause()
	return e, err
}

// A read that fetched a namespace version or a tag stamp before a newer
// one was stored here, or announced on the bus, must not put the old one
// back in the local copy: this instance would serve what the bump or tag
// invalidation made unreachable, for up to MaxStaleness.
func TestLocalVersionCopiesNeverGoBackwards(t *testing.T) {
	for _, kind := range []string{"namespace", "tag"} {
		for _, where := range []string{"here", "on the bus"} {
			t.Run(kind+" invalidated "+where, func(t *testing.T) {
				ctx := context.Background()
				clock := hoardtest.NewFakeClock(time.Now())
				versions, err := memory.New[string](&memory.Options[string]{Clock: clock})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = versions.Close() })
				store := &pausedReads{Cache: versions}
				var network hoardtest.BusNetwork
				instance := func() (*hoard.Aside[string], *hoard.Invalidator) {
					return versionedInstance(t, &network, store, clock, kind == "namespace")
				}
				reader, readerInv := instance()
				_, otherInv := instance()
				var row atomic.Value
				row.Store("old")
				loader := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
					hoard.SetTags(ctx, "t")
					return row.Load().(string), nil
				})
				if v, err := reader.Get(ctx, "1", loader); err != nil || v != "old" {
					t.Fatalf("Get = %q, %v", v, err)
				}
				clock.Advance(2 * time.Second) // past MaxStaleness: the next read asks the store

				store.arm()
				first := make(chan string)
				go func() { v, _ := reader.Get(ctx, "1", loader); first <- v }()
				<-store.reached // that read has the old version or stamp
				row.Store("new")
				inv := readerInv
				if where == "on the bus" {
					inv = otherInv
				}
				if kind == "namespace" {
					_, err = inv.BumpNamespace(ctx, "ns")
				} else {
					err = inv.InvalidateTags(ctx, "t")
				}
				if err != nil {
					t.Fatal(err)
				}
				close(store.release)
				<-first // begun before the invalidation: old or new
				if v, err := reader.Get(ctx, "1", loader); err != nil || v != "new" {
					t.Fatalf("Get after the %s invalidation returned = %q, %v; want new", kind, v, err)
				}
			})
		}
	}
}

// pausedWrites is a Counter and TagClock whose next bump or tag
// invalidation, once armed, answers only when released.
type pausedWrites struct{ pausedReads }

func (p *pausedWrites) IncrBy(ctx context.Context, key string, delta int64) (int64, error) {
	n, err := p.Cache.IncrBy(ctx, key, delta)
	if delta != 0 {
		p.pause()
	}
	return n, err
}

func (p *pausedWrites) TagEpochs(ctx context.Context, tags []string) ([]int64, error) {
	return p.Cache.TagEpochs(ctx, tags)
}

func (p *pausedWrites) InvalidateTags(ctx context.Context, tags ...string) (int64, error) {
	e, err := p.Cache.InvalidateTags(ctx, tags...)
	p.pause()
	return e, err
}

// Of two concurrent bumps (or tag invalidations) on two instances, the
// one whose answer came first but whose message from the other arrived
// before it kept its version must not keep the older version: it would
// serve what the second made unreachable, for up to MaxStaleness.
func TestConcurrentInvalidationsKeepTheNewest(t *testing.T) {
	for _, kind := range []string{"namespace", "tag"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			clock := hoardtest.NewFakeClock(time.Now())
			versions, err := memory.New[string](&memory.Options[string]{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = versions.Close() })
			store := &pausedWrites{pausedReads{Cache: versions}}
			var network hoardtest.BusNetwork
			instance := func() (*hoard.Aside[string], *hoard.Invalidator) {
				return versionedInstance(t, &network, store, clock, kind == "namespace")
			}
			reader, first := instance()
			_, second := instance()
			var row atomic.Value
			row.Store("old")
			loader := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
				hoard.SetTags(ctx, "t")
				return row.Load().(string), nil
			})
			invalidate := func(inv *hoard.Invalidator) error {
				if kind == "namespace" {
					_, err := inv.BumpNamespace(ctx, "ns")
					return err
				}
				return inv.InvalidateTags(ctx, "t")
			}
			if v, err := reader.Get(ctx, "1", loader); err != nil || v != "old" {
				t.Fatalf("Get = %q, %v", v, err)
			}

			store.arm()
			done := make(chan error)
			go func() { done <- invalidate(first) }()
			<-store.reached // the first has its version, not yet kept
			row.Store("mid")
			clock.Advance(2 * time.Second) // past MaxStaleness: the reader asks the store
			if v, err := reader.Get(ctx, "1", loader); err != nil || v != "mid" {
				t.Fatalf("Get after the first invalidation took its version = %q, %v; want mid", v, err)
			}
			row.Store("new")
			if err := invalidate(second); err != nil { // heard by the first's instance at once
				t.Fatal(err)
			}
			close(store.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if v, err := reader.Get(ctx, "1", loader); err != nil || v != "new" {
				t.Fatalf("Get after both invalidations returned = %q, %v; want new", v, err)
			}
		})
	}
}

// hookedCounter is a Counter and TagClock that runs hooks around its calls:
// beforeWrite just before a bump or tag invalidation, afterRead once a
// read has its answer. Each runs once, when set.
type hookedCounter struct {
	*memory.Cache[string]
	beforeWrite, afterRead atomic.Pointer[func()]
}

func runOnce(p *atomic.Pointer[func()]) {
	if f := p.Swap(nil); f != nil {
		(*f)()
	}
}

func (h *hookedCounter) IncrBy(ctx context.Context, key string, delta int64) (int64, error) {
	if delta != 0 {
		runOnce(&h.beforeWrite)
	}
	n, err := h.Cache.IncrBy(ctx, key, delta)
	if delta == 0 {
		runOnce(&h.afterRead)
	}
	return n, err
}

func (h *hookedCounter) InvalidateTags(ctx context.Context, tags ...string) (int64, error) {
	runOnce(&h.beforeWrite)
	return h.Cache.InvalidateTags(ctx, tags...)
}

func (h *hookedCounter) TagEpochs(ctx context.Context, tags []string) ([]int64, error) {
	e, err := h.Cache.TagEpochs(ctx, tags)
	runOnce(&h.afterRead)
	return e, err
}

// A bump (or tag invalidation) during which the bus delivered something
// unrelated, and a read of the old version begun after that delivery and
// answered before the bump landed: the read must not store the old
// version, nor may the bumping instance then use it.
func TestReadOlderThanABumpIsNotKeptAfterIt(t *testing.T) {
	for _, kind := range []string{"namespace", "tag"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			clock := hoardtest.NewFakeClock(time.Now())
			versions, err := memory.New[string](&memory.Options[string]{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = versions.Close() })
			store := &hookedCounter{Cache: versions}
			var network hoardtest.BusNetwork
			instance := func() (*hoard.Aside[string], *hoard.Invalidator) {
				return versionedInstance(t, &network, store, clock, kind == "namespace")
			}
			a, inv := instance()
			other, _ := instance()
			var row atomic.Value
			row.Store("old")
			loader := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
				hoard.SetTags(ctx, "t")
				return row.Load().(string), nil
			})
			if v, err := a.Get(ctx, "1", loader); err != nil || v != "old" {
				t.Fatalf("Get = %q, %v", v, err)
			}
			clock.Advance(2 * time.Second) // past MaxStaleness: reads ask the store

			bumpReady, bumpGo := make(chan struct{}), make(chan struct{})
			before := func() { close(bumpReady); <-bumpGo }
			store.beforeWrite.Store(&before)
			bumped := make(chan error)
			go func() {
				if kind == "namespace" {
					_, err := inv.BumpNamespace(ctx, "ns")
					bumped <- err
				} else {
					bumped <- inv.InvalidateTags(ctx, "t")
				}
			}()
			<-bumpReady
			if err := other.Delete(ctx, "unrelated"); err != nil { // heard by a's instance now
				t.Fatal(err)
			}
			readDone, readGo := make(chan struct{}), make(chan struct{})
			after := func() { close(readDone); <-readGo }
			store.afterRead.Store(&after)
			first := make(chan string)
			go func() { v, _ := a.Get(ctx, "1", loader); first <- v }()
			<-readDone // that read has the old version or stamp
			row.Store("new")
			close(bumpGo)
			if err := <-bumped; err != nil {
				t.Fatal(err)
			}
			close(readGo)
			<-first // begun before the bump returned: old or new
			if v, err := a.Get(ctx, "1", loader); err != nil || v != "new" {
				t.Fatalf("Get after the %s invalidation returned = %q, %v; want new", kind, v, err)
			}
		})
	}
}

// versionedInstance is one instance of the version-copy tests: an Aside
// over a memory tier, with an Invalidator on store and a bus on network,
// its keys under the namespace "ns" when namespaced.
func versionedInstance(t *testing.T, network *hoardtest.BusNetwork, store interface {
	hoard.Counter
	hoard.TagClock
}, clock *hoardtest.FakeClock, namespaced bool) (*hoard.Aside[string], *hoard.Invalidator) {
	t.Helper()
	bus := network.NewBus()
	inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: store, TagClock: store, Bus: bus, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inv.Close() })
	mem, err := memory.New[string](&memory.Options[string]{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	o := hoard.AsideOptions[string]{Name: "rows", Memory: mem, Invalidator: inv, Bus: bus, Clock: clock, TTL: time.Hour}
	if namespaced {
		o.Namespace = "ns"
	}
	a, err := hoard.NewAside(&o)
	if err != nil {
		t.Fatal(err)
	}
	return a, inv
}
