package hoard_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// downCounter is a Counter and TagClock that fails while down is set, as
// Redis does when it is unreachable.
type downCounter struct {
	*memory.Cache[string]
	down atomic.Bool
}

var errRedisDown = errors.New("redis: connection refused")

func (d *downCounter) IncrBy(ctx context.Context, key string, delta int64) (int64, error) {
	if d.down.Load() {
		return 0, errRedisDown
	}
	return d.Cache.IncrBy(ctx, key, delta)
}

// When the namespace's version cannot be read (Redis down), Get still
// protects the source: it answers from the memory tier under the last
// version this instance knew, shares one load among concurrent readers,
// and serves stale values through the fail-safe.
func TestUnreadableNamespaceVersionStillProtectsTheSource(t *testing.T) {
	setup := func(t *testing.T) (*hoard.Aside[string], *downCounter, *hoardtest.FakeClock) {
		clock := hoardtest.NewFakeClock(time.Now())
		mem, err := memory.New[string](&memory.Options[string]{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mem.Close() })
		versions, err := memory.New[string](nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = versions.Close() })
		counter := &downCounter{Cache: versions}
		inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: counter, TagClock: counter, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inv.Close() })
		a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "rows", Memory: mem, Invalidator: inv, Namespace: "ns",
			TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour}, Jitter: -1, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		return a, counter, clock
	}
	ctx := context.Background()

	t.Run("known version", func(t *testing.T) {
		a, counter, clock := setup(t)
		var loads atomic.Int64
		if _, err := a.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { loads.Add(1); return "v1", nil })); err != nil {
			t.Fatal(err)
		}
		counter.down.Store(true)
		clock.Advance(2 * time.Second) // the local copy of the version is past MaxStaleness
		fail := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { loads.Add(1); return "", errRedisDown })
		if v, err := a.Get(ctx, "1", fail); err != nil || v != "v1" {
			t.Fatalf("fresh Get with the version unreadable = %q, %v; want v1 from memory", v, err)
		}
		clock.Advance(2 * time.Minute) // stale, within the fail-safe window
		if v, err := a.Get(ctx, "1", fail); v != "v1" || !errors.Is(err, hoard.ErrServedStale) {
			t.Fatalf("stale Get with the version unreadable and the source down = %q, %v; want stale v1", v, err)
		}
		if n := loads.Load(); n != 2 {
			t.Fatalf("%d loads; want 2 (the first, and one failing)", n)
		}
	})

	t.Run("no version known", func(t *testing.T) {
		a, counter, _ := setup(t)
		counter.down.Store(true)
		var loads atomic.Int64
		started, release := make(chan struct{}), make(chan struct{})
		loader := hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
			if loads.Add(1) == 1 {
				close(started)
			}
			<-release
			return "v1", nil
		})
		var wg sync.WaitGroup
		get := func() {
			wg.Go(func() {
				if v, err := a.Get(ctx, "1", loader); err != nil || v != "v1" {
					t.Errorf("Get = %q, %v", v, err)
				}
			})
		}
		get()
		<-started
		for range 49 {
			get()
		}
		// A reader that wrongly loads on its own does so at once; give
		// them the time to, then let the one load finish.
		deadline := time.Now().Add(200 * time.Millisecond)
		for loads.Load() == 1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		close(release)
		wg.Wait()
		if n := loads.Load(); n != 1 {
			t.Fatalf("%d loads for 50 concurrent Gets with the version unreadable; want 1", n)
		}
	})
}
