package hoard_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// budgetRig is one instance whose Redis sits behind a proxy the test can
// black-hole.
type budgetRig struct {
	proxy  *redistest.Proxy
	clock  *hoardtest.FakeClock
	aside  *hoard.Aside[string]
	loads  atomic.Int64
	loader hoard.Loader[string]
}

func newBudgetRig(t *testing.T, budget *hoard.SharedBudget) *budgetRig {
	t.Helper()
	_, proxy, client := redistest.Proxied(t)
	r := &budgetRig{proxy: proxy, clock: hoardtest.NewFakeClock(time.Now())}
	mem, err := memory.New(&memory.Options[string]{Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	shared, err := hoardredis.New[string](client, &hoardredis.Options{Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	r.aside, err = hoard.NewAside(&hoard.AsideOptions[string]{
		Name: "budget", Memory: mem, Shared: shared, TTL: time.Minute, Jitter: -1, Clock: r.clock,
		FailSafe: &hoard.FailSafe{Window: time.Hour}, SharedBudget: budget,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.proxy.Heal() // lets the background refreshes finish
		if err := r.aside.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	r.loader = hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
		r.loads.Add(1)
		return "v", nil
	})
	return r
}

// With Redis black-holed and a stale copy in memory, Get answers at the
// soft timeout with the stale value and ErrServedStale, every time, rather
// than waiting out its deadline: the hard timeout (2s here) is never
// what it waits for. Before the budget, every such Get waited for its ctx
// and failed.
func TestSoftTimeoutServesStaleOverABlackHoledRedis(t *testing.T) {
	r := newBudgetRig(t, &hoard.SharedBudget{SoftTimeout: 20 * time.Millisecond, HardTimeout: 2 * time.Second})
	ctx := context.Background()
	if _, err := r.aside.Get(ctx, "k", r.loader); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(2 * time.Minute) // past the TTL, within the fail-safe window
	r.proxy.BlackHole()
	for i := range 3 {
		gctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		v, err := r.aside.Get(gctx, "k", r.loader)
		cancel()
		if v != "v" || !errors.Is(err, hoard.ErrServedStale) {
			t.Fatalf("Get %d with Redis black-holed = %q, %v; want the stale value and ErrServedStale", i, v, err)
		}
	}
	if n := r.aside.Metrics().Snapshot().Total(hoard.EventStaleServe); n != 3 {
		t.Fatalf("%d stale serves counted; want 3", n)
	}
}

// With nothing at hand, a shared-tier read past the hard timeout makes the
// rest of the Get skip Redis: the loader gets the time left, and one Get
// pays the hard timeout once, not once per shared-tier call.
func TestHardTimeoutLeavesTheLoaderItsTime(t *testing.T) {
	hard := 200 * time.Millisecond
	r := newBudgetRig(t, &hoard.SharedBudget{HardTimeout: hard})
	r.proxy.BlackHole()
	calls := 0
	loader := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
		calls++
		if err := ctx.Err(); err != nil {
			return "", err
		}
		return "v", nil
	})
	// A deadline of one hard timeout and a half: enough for one read past
	// it and the load, not for the three shared-tier calls of a miss.
	ctx, cancel := context.WithTimeout(context.Background(), hard*3/2)
	defer cancel()
	v, err := r.aside.Get(ctx, "k", loader)
	if v != "v" || err != nil || calls != 1 {
		t.Fatalf("Get with Redis black-holed = %q, %v after %d loads; want v from one load", v, err, calls)
	}
}

// Redis down while an instance deletes a key and invalidates a tag: both
// calls say the change was deferred, and once Redis is back and the
// breaker has replayed them, Redis holds neither the deleted value nor a
// valid copy of the tagged one, so no instance serves the old values.
// Before, the calls failed, Redis kept the old values until their TTL, and
// every memory tier refilled from them.
func TestChangesDuringAnOutageAreReplayed(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	ctx := context.Background()
	breaker, err := hoard.NewCircuitBreaker(&hoard.BreakerOptions{Failures: 1, OpenFor: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer breaker.Close()
	rows := map[string]string{"k": "v1", "tagged": "t1"}
	var version atomic.Int64
	loader := hoard.LoaderFunc[string](func(lctx context.Context, id string) (string, error) {
		if id == "tagged" {
			hoard.SetTags(lctx, "t")
		}
		return rows[id] + "@" + string(rune('0'+version.Load())), nil
	})
	instance := func(b *hoard.CircuitBreaker) (*hoard.Aside[string], *hoard.Invalidator) {
		client := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
		t.Cleanup(func() { _ = client.Close() })
		mem, err := memory.New[string](nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mem.Close() })
		shared, err := hoardredis.New[string](client, nil)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: shared, TagClock: shared, Breaker: b})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inv.Close() })
		a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "outage", Memory: mem, Shared: shared, Invalidator: inv, Breaker: b, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close(ctx) })
		return a, inv
	}
	a, inv := instance(breaker)
	for _, id := range []string{"k", "tagged"} {
		if _, err := a.Get(ctx, id, loader); err != nil {
			t.Fatal(err)
		}
	}
	version.Store(1) // the rows change
	mr.Close()
	if err := a.Delete(ctx, "k"); !errors.Is(err, hoard.ErrDeferred) {
		t.Fatalf("Delete with Redis down = %v; want ErrDeferred", err)
	}
	if err := inv.InvalidateTags(ctx, "t"); !errors.Is(err, hoard.ErrDeferred) {
		t.Fatalf("InvalidateTags with Redis down = %v; want ErrDeferred", err)
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the breaker to replay and close", func() bool {
		return breaker.State() == hoard.BreakerClosed && breaker.Deferred() == 0
	})
	other, _ := instance(nil) // an instance whose memory holds nothing yet
	for id, want := range map[string]string{"k": "v1@1", "tagged": "t1@1"} {
		if v, err := other.Get(ctx, id, loader); v != want || err != nil {
			t.Errorf("after recovery, Get(%q) = %q, %v; want %q", id, v, err, want)
		}
	}
	if n := breaker.Metrics().Snapshot().Total(hoard.EventReplayed); n < 2 {
		t.Errorf("%d changes replayed; want at least 2", n)
	}
}

// waitUntil polls cond until it holds, failing after a generous deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
