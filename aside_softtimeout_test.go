package hoard_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// Past the soft timeout the reader gets the stale value at once; the load
// finishes in the background and writes back, and Close waits for it.
func TestAsideSoftTimeout(t *testing.T) {
	w := newWorld(t)
	a := w.instance(t, hoard.AsideOptions[string]{
		TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour, SoftTimeout: 20 * time.Millisecond},
	})
	ctx := context.Background()
	fast := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "v1", nil })
	if _, err := a.aside.Get(ctx, "1", fast); err != nil {
		t.Fatal(err)
	}
	w.advance(2 * time.Minute) // stale, within the fail-safe window

	release := make(chan struct{})
	slowCalls := 0
	slow := hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
		slowCalls++ // only ever one at a time: the background load is deduplicated
		<-release
		return "v2", nil
	})
	start := time.Now()
	v, err := a.aside.Get(ctx, "1", slow)
	if v != "v1" || !errors.Is(err, hoard.ErrServedStale) {
		t.Fatalf("Get past the soft timeout = %q, %v; want stale v1 with ErrServedStale", v, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Get took %v with a 20ms soft timeout", took)
	}
	// While the background load runs, readers get the stale value at once
	// and start no second load.
	for range 5 {
		if v, err := a.aside.Get(ctx, "1", slow); v != "v1" || !errors.Is(err, hoard.ErrServedStale) {
			t.Fatalf("Get during the background load = %q, %v", v, err)
		}
	}
	close(release)
	closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.aside.Close(closeCtx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if slowCalls != 1 {
		t.Errorf("the slow loader ran %d times; want 1", slowCalls)
	}
	// The background load wrote v2 back.
	if v, err := a.aside.Get(ctx, "1", fast); v != "v2" || err != nil {
		t.Fatalf("Get after the background load = %q, %v; want v2", v, err)
	}
}

// A load that beats the soft timeout is returned as usual.
func TestAsideSoftTimeoutFastLoad(t *testing.T) {
	w := newWorld(t)
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour, SoftTimeout: 5 * time.Second}})
	ctx := context.Background()
	n := 0
	loader := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { n++; return "v" + string(rune('0'+n)), nil })
	if _, err := a.aside.Get(ctx, "1", loader); err != nil {
		t.Fatal(err)
	}
	w.advance(2 * time.Minute)
	if v, err := a.aside.Get(ctx, "1", loader); v != "v2" || err != nil {
		t.Fatalf("Get = %q, %v; want the fresh v2", v, err)
	}
	if err := a.aside.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// Close gives up when ctx ends before the background loads do.
func TestAsideCloseHonoursCtx(t *testing.T) {
	w := newWorld(t)
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour, SoftTimeout: time.Millisecond}})
	ctx := context.Background()
	_, _ = a.aside.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "v1", nil }))
	w.advance(2 * time.Minute)
	release := make(chan struct{})
	_, _ = a.aside.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
		<-release
		return "v2", nil
	}))
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := a.aside.Close(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with a load still running: %v; want DeadlineExceeded", err)
	}
	close(release)
	if err := a.aside.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// With a Locker, the process whose load runs past the soft timeout keeps
// the key's lock until the load ends: the other processes serve the stale
// value after their own soft timeout, and none starts a second load.
func TestSoftTimeoutKeepsTheLockWhileTheLoadRuns(t *testing.T) {
	w := newWorld(t)
	opts := func() hoard.AsideOptions[string] {
		locker, err := hoardredis.NewLocker(w.redis, &hoardredis.LockerOptions{Prefix: "lock:"})
		if err != nil {
			t.Fatal(err)
		}
		return hoard.AsideOptions[string]{TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour, SoftTimeout: 10 * time.Millisecond}, Stampede: &hoard.Stampede{Locker: locker}}
	}
	procs := []*rig{w.instance(t, opts()), w.instance(t, opts()), w.instance(t, opts())}
	ctx := context.Background()
	if _, err := procs[0].aside.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "v1", nil })); err != nil {
		t.Fatal(err)
	}
	w.advance(2 * time.Minute) // stale everywhere, within the fail-safe window

	release := make(chan struct{})
	var running, most, calls atomic.Int64
	slow := hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
		calls.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		return "v2", nil
	})
	for i, p := range procs {
		if v, err := p.aside.Get(ctx, "1", slow); v != "v1" || !errors.Is(err, hoard.ErrServedStale) {
			t.Fatalf("process %d: Get = %q, %v; want stale v1", i, v, err)
		}
	}
	close(release)
	for _, p := range procs {
		if err := p.aside.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 1 || most.Load() != 1 {
		t.Fatalf("%d loads, %d at once, across 3 processes; want 1", calls.Load(), most.Load())
	}
}
