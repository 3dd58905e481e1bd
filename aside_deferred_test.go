package hoard_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// Redis black-holed: a Delete's shared-tier delete runs past the hard
// timeout and is deferred, which opens the breaker; its bus message, for
// the same Redis, is then deferred at once too, the bus not tried. Before,
// the Delete still waited on the bus's publish until it failed: 5s here,
// about 2s on a Redis that is down (go-redis's dial retries).
func TestDeleteDefersTheBusWhileTheBreakerIsOpen(t *testing.T) {
	_, proxy, client := redistest.Proxied(t)
	ctx := context.Background()
	bus, err := hoardredis.NewBus(client, &hoardredis.BusOptions{Channel: "defer-bus", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proxy.Heal() // lets the bus close
		if err := bus.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	if err := bus.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	breaker, err := hoard.NewCircuitBreaker(&hoard.BreakerOptions{OpenFor: time.Hour}) // no recovery in this test
	if err != nil {
		t.Fatal(err)
	}
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	shared, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{
		Name: "defer", Memory: mem, Shared: shared, Bus: bus, Breaker: breaker, TTL: time.Hour,
		SharedBudget: &hoard.SharedBudget{HardTimeout: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(ctx) })
	loader := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "v", nil })
	if _, err := a.Get(ctx, "k", loader); err != nil {
		t.Fatal(err)
	}

	proxy.BlackHole()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = a.Delete(dctx, "k")
	if s := bus.Stats(); s.PublishErrors+s.Batches > 0 || dctx.Err() != nil {
		t.Fatalf("Delete with the breaker open tried the bus (%d publishes failed, %d sent), or waited out its ctx: %v",
			s.PublishErrors, s.Batches, err)
	}
	if !errors.Is(err, hoard.ErrDeferred) {
		t.Fatalf("Delete with Redis black-holed = %v; want ErrDeferred", err)
	}
	if n := breaker.Deferred(); n != 2 {
		t.Fatalf("%d changes deferred; want 2 (the shared-tier delete, the bus message)", n)
	}
	if err := breaker.Close(); err == nil {
		t.Fatal("the breaker closed with 2 changes not replayed, and no error")
	}
}
