package hoard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// A cache wired as hoardredis.NewService wires one (a Redis locker, an
// invalidator on the same Redis) with Redis black-holed: a Get with
// nothing at hand pays the hard timeout once (its tier read; the rest of
// the Get skips Redis), and once the breaker is open it pays none. Before,
// the lock and the tag epoch read, outside the guard, held it until its
// ctx ended.
func TestHardTimeoutBoundsTheLockAndTheTagClock(t *testing.T) {
	const hard = 200 * time.Millisecond
	_, proxy, client := redistest.Proxied(t)
	shared, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	locker, err := hoardredis.NewLocker(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	breaker, err := hoard.NewCircuitBreaker(&hoard.BreakerOptions{Failures: 2, OpenFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = breaker.Close() })
	inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: shared, TagClock: shared, Breaker: breaker, HardTimeout: hard})
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
		Name: "guarded", Memory: mem, Shared: shared, Invalidator: inv, Breaker: breaker,
		Stampede: &hoard.Stampede{Locker: locker}, SharedBudget: &hoard.SharedBudget{HardTimeout: hard},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proxy.Heal()
		_ = a.Close(context.Background())
	})
	loader := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		return "v", nil
	})
	proxy.BlackHole()
	for i, id := range []string{"a", "b", "c"} {
		// The first two Gets each pay one hard timeout (their tier read),
		// which opens the breaker; the third none. Three leave room for a
		// busy machine, not for a second wait on Redis.
		ctx, cancel := context.WithTimeout(context.Background(), 3*hard)
		v, err := a.Get(ctx, id, loader)
		cancel()
		if v != "v" || err != nil {
			t.Fatalf("Get %d with Redis black-holed = %q, %v; want v from the loader", i, v, err)
		}
	}
	if s := breaker.State(); s == hoard.BreakerClosed {
		t.Fatalf("breaker %v after two Gets past the hard timeout", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hard)
	defer cancel()
	if v, err := a.Get(ctx, "d", loader); v != "v" || err != nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Get with the breaker open = %q, %v; want v at once", v, err)
	}
}
