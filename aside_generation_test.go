package hoard_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// gatedSource answers its first load only when released, with the row as
// it was when the load began: a slow query that read the old row.
type gatedSource struct {
	row     atomic.Value // string
	started chan struct{}
	release chan struct{}
	loads   atomic.Int64
}

func newGatedSource(row string) *gatedSource {
	s := &gatedSource{started: make(chan struct{}), release: make(chan struct{})}
	s.row.Store(row)
	return s
}

func (s *gatedSource) Load(ctx context.Context, _ string) (string, error) {
	v := s.row.Load().(string)
	if s.loads.Add(1) == 1 {
		close(s.started)
		select {
		case <-s.release:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return v, nil
}

// A Get that begins after an invalidation returned never gets the value of
// a load that began before it: it starts its own load instead of joining.
func TestGetAfterInvalidationDoesNotJoinOlderLoad(t *testing.T) {
	for _, how := range []string{"Delete", "DeletePrefix", "InvalidateTags", "BumpNamespace", "WriteThrough.Put", "WriteBehind.Put"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			mem, err := memory.New[string](nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = mem.Close() }()
			inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: mem, TagClock: mem})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = inv.Close() }()
			a, err := hoard.NewAside(&hoard.AsideOptions[string]{
				Name: "rows", Memory: mem, Invalidator: inv, Namespace: "ns", TTL: time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			src := newGatedSource("old")
			loader := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
				hoard.SetTags(ctx, "row:"+id)
				return src.Load(ctx, id)
			})

			first := make(chan string, 1)
			go func() {
				v, _ := a.Get(ctx, "k", loader)
				first <- v
			}()
			<-src.started // the first load has read "old"

			src.row.Store("new") // the row changes, then is invalidated
			switch how {
			case "Delete":
				err = a.Delete(ctx, "k")
			case "DeletePrefix":
				_, err = a.DeletePrefix(ctx, "k")
			case "InvalidateTags":
				err = inv.InvalidateTags(ctx, "row:k")
			case "BumpNamespace":
				_, err = inv.BumpNamespace(ctx, "ns")
			case "WriteThrough.Put":
				var wt *hoard.WriteThrough[string]
				if wt, err = hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: a, Store: discardStore()}); err == nil {
					err = wt.Put(ctx, "k", "new")
				}
			case "WriteBehind.Put":
				var wb *hoard.WriteBehind[string]
				if wb, err = hoard.NewWriteBehind(&hoard.WriteBehindOptions[string]{Aside: a, Store: discardStore()}); err == nil {
					err = wb.Put(ctx, "k", "new")
					defer func() { _ = wb.Close(ctx) }()
				}
			}
			if err != nil {
				t.Fatal(err)
			}

			// An invalidation that names the key (or its namespace)
			// detaches the old load: joining it would wait for it, so
			// bound the wait. A tag invalidation cannot tell which loads
			// it concerns before they end: the later Get may wait for the
			// old load, then must check its value and load anew.
			if how == "InvalidateTags" {
				go func() {
					// Let the later Get join first (or not; either way it
					// must return the new row).
					time.Sleep(10 * time.Millisecond)
					close(src.release)
				}()
			}
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			later, err := a.Get(lctx, "k", loader)
			cancel()
			if err != nil || later != "new" {
				t.Fatalf("Get begun after %s returned = %q, %v; want the new row", how, later, err)
			}
			if how != "InvalidateTags" {
				close(src.release)
			}
			if v := <-first; v != "old" {
				t.Errorf("the Get begun before %s = %q; want the old row it read", how, v)
			}
			// A Put leaves the new row in the cache: the later Get hits.
			if n, want := src.loads.Load(), map[bool]int64{true: 1, false: 2}[strings.HasSuffix(how, ".Put")]; n != want {
				t.Errorf("%d loads; want %d", n, want)
			}
			if v, err := a.Get(ctx, "k", loader); err != nil || v != "new" {
				t.Errorf("after both, Get = %q, %v; want new (the old load's write-back refused)", v, err)
			}
		})
	}
}

// discardStore is a store that takes every write and keeps none.
func discardStore() hoard.Store[string] {
	return hoard.StoreFuncs[string]{
		SaveFunc:   func(context.Context, string, string, uint64) error { return nil },
		DeleteFunc: func(context.Context, string, uint64) error { return nil },
	}
}

// A tag invalidation whose bus message to this instance was lost reaches
// it within MaxStaleness: a Get begun after that must not get the value of
// a load that began before the invalidation, though this instance never
// heard of it. It may wait for that load, but then serves only what its
// write-back could store (checked against the tag clock), or loads anew.
func TestGetPastMaxStalenessDoesNotTakeAnUnheardOfOlderLoad(t *testing.T) {
	f := newFleet(t, 2, hoard.AsideOptions[string]{TTL: time.Hour})
	ctx := context.Background()
	reader, writer := f.instances[0], f.instances[1]
	src := newGatedSource("old")
	loader := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
		hoard.SetTags(ctx, "row:"+id)
		return src.Load(ctx, id)
	})
	first := make(chan string, 1)
	go func() { v, _ := reader.aside.Get(ctx, "k", loader); first <- v }()
	<-src.started // the first load has read "old"

	src.row.Store("new") // the row changes, then its tag is invalidated elsewhere
	f.network.LoseNextTo(reader.bus, 1)
	if err := writer.inv.InvalidateTags(ctx, "row:k"); err != nil {
		t.Fatal(err)
	}
	f.advance(2 * time.Second) // past MaxStaleness: the reader owes the invalidation now

	second := make(chan string, 1)
	go func() { v, _ := reader.aside.Get(ctx, "k", loader); second <- v }()
	hoard.WaitForLoadWaiters(t, reader.aside, "k", 2)
	close(src.release)
	<-first // begun before the invalidation: old or new
	if v := <-second; v != "new" {
		t.Fatalf("Get begun past MaxStaleness after the tag invalidation = %q; want new", v)
	}
}

// A Get that joins a load whose value has expired by the time it joins
// (the clock moved past the TTL while the load wrote it back) does not
// serve that value with a nil error: no entry is served past its expiry.
func TestGetDoesNotTakeAJoinedLoadsExpiredValue(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mem, err := memory.New(&memory.Options[string]{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	var a *hoard.Aside[string]
	var armed atomic.Bool
	var second chan string
	faulty := hoardtest.NewFaultyCache[string](mem, hoardtest.FaultOptions[string]{
		Inject: func(_ context.Context, c hoardtest.Call) hoardtest.Fault {
			if c.Method != "CompareAndSet" || !armed.CompareAndSwap(true, false) {
				return hoardtest.Fault{}
			}
			// The load has written its value back; before it returns,
			// the clock passes the value's TTL and another Get joins.
			return hoardtest.Fault{Then: func() {
				w.advance(2 * time.Minute)
				go func() {
					v, err := a.Get(ctx, "k", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "second", nil }))
					if err != nil {
						v = err.Error()
					}
					second <- v
				}()
				hoard.WaitForLoadWaiters(t, a, "k", 2)
			}}
		},
	})
	a, err = hoard.NewAside(&hoard.AsideOptions[string]{Name: "rows", Memory: faulty, Clock: w.clock, TTL: time.Minute, Jitter: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(ctx) })
	second = make(chan string, 1)
	armed.Store(true)
	if v, err := a.Get(ctx, "k", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "first", nil })); err != nil || v != "first" {
		t.Fatalf("first Get = %q, %v", v, err)
	}
	if v := <-second; v != "second" {
		t.Fatalf("Get joined after the first load's value expired = %q; want a load of its own (second)", v)
	}
}
