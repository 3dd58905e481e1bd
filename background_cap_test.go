package hoard_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// A refresh storm (10,000 hot keys, each read near its expiry while every
// refresh hangs) runs at most MaxBackground refreshes at once; the others
// are skipped and counted, not queued, and once the source answers the
// goroutines return to what they were.
func TestBackgroundWorkStaysUnderItsCap(t *testing.T) {
	const keys, limit = 10_000, 8
	clock := hoardtest.NewFakeClock(time.Now())
	mem, err := memory.New(&memory.Options[string]{MaxEntries: 2 * keys, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{
		Name: "storm", Memory: mem, TTL: time.Minute, Jitter: -1, Clock: clock, MaxBackground: limit,
		EarlyRefresh: &hoard.EarlyRefresh{Draws: -1},
		Rand:         func() float64 { return 0.999999 }, // every draw refreshes
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var hang sync.WaitGroup
	hang.Add(1)
	var running, most atomic.Int64
	blocking := atomic.Bool{}
	start := clock.Now()
	loader := hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
		if !blocking.Load() {
			clock.Advance(time.Second) // each load takes a second: XFetch's delta
		} else {
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			hang.Wait()
		}
		return "v", nil
	})
	ids := make([]string, keys)
	for i := range ids {
		ids[i] = string(rune('a'+i%26)) + "-" + time.Duration(i).String()
		if _, err := a.Get(ctx, ids[i], loader); err != nil {
			t.Fatal(err)
		}
		clock.Set(start) // every key written at start+1s, fresh until start+61s
	}
	baseline := runtime.NumGoroutine()
	clock.Advance(55 * time.Second) // 6s before expiry, within XFetch's reach of a 1s load
	blocking.Store(true)
	for _, id := range ids {
		if v, err := a.Get(ctx, id, loader); v != "v" || err != nil {
			t.Fatalf("Get(%q) during the storm = %q, %v", id, v, err)
		}
	}
	if n := most.Load(); n > limit {
		t.Fatalf("%d refreshes ran at once; the cap is %d", n, limit)
	}
	if n := a.Metrics().Snapshot().Total(hoard.EventDropped); n < keys-limit {
		t.Fatalf("%d refreshes skipped and counted; want at least %d", n, keys-limit)
	}
	hang.Done()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after the storm; %d before", runtime.NumGoroutine(), baseline)
		}
		time.Sleep(time.Millisecond)
	}
}
