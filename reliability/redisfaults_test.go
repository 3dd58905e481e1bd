package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// Scenario 1: Redis down, slow, resetting connections or swallowing them
// (a black hole) while loads run through a two-tier Aside with a
// fail-safe. Every Get answers within its ctx deadline with the right value
// (memory tier, Redis, the loader, or stale within the fail-safe) or a
// clear hoard error; nothing hangs; no goroutine is left; and once Redis is
// back, caching to Redis resumes on its own.
func TestRedisFaultsAside(t *testing.T) {
	srv := startRedis(t)
	faults := []struct {
		name   string
		inject func(p *faultProxy)
	}{
		{"down", func(p *faultProxy) { p.Down() }},
		{"slow", func(p *faultProxy) {
			p.Toxic("latency", "downstream", map[string]any{"latency": 250, "jitter": 100})
		}},
		{"reset", func(p *faultProxy) { p.Toxic("reset_peer", "upstream", map[string]any{"timeout": 0}) }},
		{"blackhole", func(p *faultProxy) { p.Toxic("timeout", "upstream", map[string]any{"timeout": 0}) }},
		{"trickle", func(p *faultProxy) {
			p.Toxic("bandwidth", "downstream", map[string]any{"rate": 2})
		}},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			// Registered first, so it runs after every other clean-up.
			opts := append([]goleak.Option{goleak.IgnoreCurrent()}, leakOptions...)
			t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
			redisFaultRun(t, srv, f.inject)
		})
	}
}

// The bounds of one fault run.
const (
	faultKeys     = 40
	faultWorkers  = 8
	faultDeadline = 400 * time.Millisecond
	// faultSlack is what a Get may take past its deadline: scheduling on a
	// loaded 2-core CI machine under -race, not a wait of hoard's.
	faultSlack = 600 * time.Millisecond
	faultPhase = 1500 * time.Millisecond
)

func redisFaultRun(t *testing.T, srv *redisServer, inject func(p *faultProxy)) {
	ctx := context.Background()
	proxy := newFaultProxy(t, srv.Addr())
	client := newClient(t, proxy.Addr(), "s1")
	admin := srv.Client(t)
	name := fmt.Sprintf("s1-%d", time.Now().UnixNano())
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	aside, err := hoard.NewAside(&hoard.AsideOptions[string]{
		Name: name, Memory: mem, Shared: shared,
		TTL: 300 * time.Millisecond, MemoryTTL: 100 * time.Millisecond, FailSafe: &hoard.FailSafe{Window: time.Minute, Throttle: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = aside.Close(ctx)
		_ = mem.Close()
		_ = client.Close()
	}()
	src := newMemStore[string]()
	for i := range faultKeys {
		src.Put(fmt.Sprint(i), fmt.Sprintf("v%d", i))
	}
	for i := range faultKeys { // warm both tiers
		if v, err := aside.Get(ctx, fmt.Sprint(i), src); err != nil || v != fmt.Sprintf("v%d", i) {
			t.Fatalf("warm-up Get(%d) = %q, %v", i, v, err)
		}
	}

	inject(proxy)
	var out tally
	var wg sync.WaitGroup
	stop := time.Now().Add(faultPhase)
	// The source fails half of the time, so both the loader and the
	// fail-safe answer.
	wg.Go(func() {
		for time.Now().Before(stop) {
			src.fail.Store(!src.fail.Load())
			time.Sleep(150 * time.Millisecond)
		}
		src.fail.Store(false)
	})
	for w := range faultWorkers {
		wg.Go(func() {
			for n := w; time.Now().Before(stop); n++ {
				id := fmt.Sprint(n % faultKeys)
				checkedGet(t, aside, src, id, &out)
			}
		})
	}
	waitOrDump(t, &wg, faultPhase+faultDeadline+faultSlack+5*time.Second)
	t.Logf("under the fault: %v", &out)
	if out.get("wrong") > 0 || out.get("unclear") > 0 || out.get("late") > 0 {
		t.Fatalf("under the fault: %v", &out)
	}
	if out.get("value") == 0 {
		t.Errorf("no Get had a value under the fault: %v", &out)
	}

	proxy.Heal()
	proxy.Up()
	// Caching resumes by itself: a new key's load reaches Redis, and a
	// read that misses memory is a Redis hit.
	before := aside.Metrics().Snapshot().Count(hoard.EventHit, hoard.TierShared)
	n := 0
	eventually(t, 15*time.Second, "a loaded value reaches Redis and is read back from it", func() bool {
		n++
		id := fmt.Sprintf("after-%d", n)
		src.Put(id, "fresh-"+id)
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if v, err := aside.Get(cctx, id, src); err != nil || v != "fresh-"+id {
			return false
		}
		if admin.Exists(cctx, aside.Key(id)).Val() != 1 {
			return false
		}
		_ = mem.Clear(cctx)
		v, err := aside.Get(cctx, id, src)
		return err == nil && v == "fresh-"+id &&
			aside.Metrics().Snapshot().Count(hoard.EventHit, hoard.TierShared) > before
	})
	t.Logf("caching to Redis resumed after %d attempt(s)", n)
}

// checkedGet does one Get under faultDeadline and tallies its outcome:
// value (fresh, right), stale (ErrServedStale with the right value),
// error (a clear hoard error), or a failure: wrong, unclear, late.
func checkedGet(t *testing.T, aside *hoard.Aside[string], src *memStore[string], id string, out *tally) {
	ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
	defer cancel()
	start := time.Now()
	v, err := aside.Get(ctx, id, src)
	took := time.Since(start)
	want, _, _ := src.Row(id)
	out.add("gets", 1)
	switch {
	case took > faultDeadline+faultSlack:
		out.add("late", 1)
		t.Errorf("Get(%s) took %v, past its %v deadline: %q, %v", id, took, faultDeadline, v, err)
	case err == nil && v == want:
		out.add("value", 1)
	case errors.Is(err, hoard.ErrServedStale) && v == want:
		out.add("stale", 1)
	case err == nil || errors.Is(err, hoard.ErrServedStale):
		out.add("wrong", 1)
		t.Errorf("Get(%s) = %q, %v; want %q", id, v, err, want)
	case clearHoardError(err):
		out.add("error", 1)
		if out.get("error") <= 2 {
			t.Logf("a clear error: %v", err)
		}
	default:
		out.add("unclear", 1)
		t.Errorf("Get(%s) failed with an error that is not a hoard sentinel: %v", id, err)
	}
}

// waitOrDump waits for wg, or fails the test with every goroutine's stack
// after d: something hangs.
func waitOrDump(t *testing.T, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("the load did not finish within %v: something hangs\n%s", d, goroutines())
	}
}
