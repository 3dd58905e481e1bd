package hoard_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// readCountingTier counts the shared tier's calls (reads and
// compare-and-set write-backs) that reach Redis.
type readCountingTier struct {
	*hoardredis.Cache[string]
	reads atomic.Int64
}

func (c *readCountingTier) Get(ctx context.Context, key string) (hoard.Entry[string], error) {
	c.reads.Add(1)
	return c.Cache.Get(ctx, key)
}

func (c *readCountingTier) GetManyWithTokens(ctx context.Context, keys []string, each func(i int, e *hoard.Entry[string], tok hoard.Token, ok bool)) error {
	c.reads.Add(1)
	return c.Cache.GetManyWithTokens(ctx, keys, each)
}

func (c *readCountingTier) CompareAndSetMany(ctx context.Context, writes []hoard.TokenWrite[string]) error {
	c.reads.Add(1)
	return c.Cache.CompareAndSetMany(ctx, writes)
}

func (c *readCountingTier) CompareAndSet(ctx context.Context, key string, tok hoard.Token, e hoard.Entry[string]) error {
	c.reads.Add(1)
	return c.Cache.CompareAndSet(ctx, key, tok, e)
}

func (c *readCountingTier) GetWithToken(ctx context.Context, key string) (hoard.Entry[string], hoard.Token, error) {
	c.reads.Add(1)
	return c.Cache.GetWithToken(ctx, key)
}

// A namespaced Get whose read of the namespace's version ran past the
// shared tier's hard timeout does not wait on Redis again for the entry:
// the rest of that Get skips the tier, as it does after an entry read past
// the timeout. (It paid the hard timeout twice: once for the version,
// once for the entry.)
func TestNamespacedGetPaysTheHardTimeoutOnce(t *testing.T) {
	a, shared, clock, proxy := newNamespacedGuardedAside(t)
	loader := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) { return "v-" + id, ctx.Err() })
	ctx := context.Background()
	if _, err := a.Get(ctx, "known", loader); err != nil { // learns the version
		t.Fatal(err)
	}
	clock.Advance(time.Hour) // the local copy of the version is past MaxStaleness
	proxy.BlackHole()
	before := shared.reads.Load()
	v, err := a.Get(ctx, "new", loader)
	if v != "v-new" || err != nil {
		t.Fatalf("Get with Redis black-holed = %q, %v; want v-new from the loader", v, err)
	}
	if n := shared.reads.Load() - before; n != 0 {
		t.Fatalf("the Get called the shared tier %d times after its namespace read ran past the hard timeout; want 0", n)
	}
}

// The same for GetMany: neither its batch read nor its write-back waits on
// Redis once the namespace's read ran past the hard timeout.
func TestNamespacedGetManyPaysTheHardTimeoutOnce(t *testing.T) {
	a, shared, clock, proxy := newNamespacedGuardedAside(t)
	loader := hoard.BatchLoaderFunc[string](func(ctx context.Context, ids []string) (map[string]string, error) {
		out := make(map[string]string, len(ids))
		for _, id := range ids {
			out[id] = "v-" + id
		}
		return out, ctx.Err()
	})
	ctx := context.Background()
	if _, err := a.GetMany(ctx, []string{"known"}, loader); err != nil { // learns the version
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	proxy.BlackHole()
	before := shared.reads.Load()
	got, err := a.GetMany(ctx, []string{"x", "y"}, loader)
	if err != nil || got["x"] != "v-x" || got["y"] != "v-y" {
		t.Fatalf("GetMany with Redis black-holed = %v, %v; want both from the loader", got, err)
	}
	if n := shared.reads.Load() - before; n != 0 {
		t.Fatalf("the GetMany called the shared tier %d times after its namespace read ran past the hard timeout; want 0", n)
	}
}

// newNamespacedGuardedAside is an Aside with a namespace, a memory tier
// and a shared tier on miniredis behind a proxy that can black-hole it,
// with a 100 ms hard timeout and a breaker that stays closed (so only a
// read's skip mark keeps it from waiting again); the Invalidator's clock
// is fake, to expire its local copy of the version at will.
func newNamespacedGuardedAside(t *testing.T) (*hoard.Aside[string], *readCountingTier, *hoardtest.FakeClock, *redistest.Proxy) {
	const hard = 100 * time.Millisecond
	_, proxy, client := redistest.Proxied(t)
	inner, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	shared := &readCountingTier{Cache: inner}
	breaker, err := hoard.NewCircuitBreaker(&hoard.BreakerOptions{Failures: 1000, OpenFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = breaker.Close() })
	clock := hoardtest.NewFakeClock(time.Now())
	inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: inner, TagClock: inner, Breaker: breaker, HardTimeout: hard, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inv.Close() })
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{
		Name: "guarded", Memory: mem, Shared: shared, Invalidator: inv, Namespace: "ns", Breaker: breaker,
		SharedBudget: &hoard.SharedBudget{HardTimeout: hard},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proxy.Heal()
		_ = a.Close(context.Background())
	})
	return a, shared, clock, proxy
}

// A Get that found nothing and whose loader failed, after its shared-tier
// read ran past the hard timeout, says where its time went: the error
// names the loader's error and the hard timeout, and matches
// ErrUnavailable (a reliability run saw `load "cold-1": source down` after
// 5 s, with no word of the shared tier).
func TestLoadErrorAfterAHardTimeoutNamesIt(t *testing.T) {
	a, _, _, proxy := newNamespacedGuardedAside(t)
	ctx := context.Background()
	ok := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "v", nil })
	if _, err := a.Get(ctx, "known", ok); err != nil { // learns the version
		t.Fatal(err)
	}
	proxy.BlackHole()
	errDown := errors.New("source down")
	_, err := a.Get(ctx, "cold", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "", errDown }))
	if !errors.Is(err, errDown) || !errors.Is(err, hoard.ErrUnavailable) || !strings.Contains(err.Error(), "hard timeout") {
		t.Fatalf("Get with Redis black-holed and the source down: %v; want the source's error, naming the shared tier's hard timeout, matching ErrUnavailable", err)
	}
	if _, err := a.Get(ctx, "cold2", ok); err != nil {
		t.Fatalf("a Get whose load succeeds after the hard timeout: %v; want no error", err)
	}
}
