package hoard_test

import (
	"context"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// product is the value type after a deploy changed it.
type product struct {
	Name  string
	Price int
}

// An entry in Redis that no longer decodes (the value type changed in a
// deploy) is replaced by the next load's write-back, not loaded again on
// every Get for the whole Redis TTL.
func TestUndecodableRedisEntryIsRepaired(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	before, err := hoardredis.New[string](w.redis, &hoardredis.Options{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	shared, err := hoardredis.New[product](w.redis, &hoardredis.Options{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	a, err := hoard.NewAside(&hoard.AsideOptions[product]{Name: "products", Shared: shared, Clock: w.clock, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := w.clock.Now()
	if err := before.Set(ctx, a.Key("1"), hoard.Entry[string]{Value: "kettle", WrittenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	loads := 0
	loader := hoard.LoaderFunc[product](func(context.Context, string) (product, error) {
		loads++
		return product{Name: "kettle", Price: 30}, nil
	})
	for range 3 {
		if v, err := a.Get(ctx, "1", loader); err != nil || v.Price != 30 {
			t.Fatalf("Get = %+v, %v", v, err)
		}
	}
	if loads != 1 {
		t.Fatalf("%d loads for 3 Gets over an undecodable entry; want 1 (the write-back repairs it)", loads)
	}
}
