package hoardredis_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

func ExampleNewBus() {
	mr, _ := miniredis.Run() // any Redis: a server, Sentinel, or a Cluster
	defer mr.Close()
	ctx := context.Background()

	// Two instances of a service, each with its client and its bus.
	newInstance := func(id string) (*hoardredis.Bus, func()) {
		client := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
		bus, err := hoardredis.NewBus(client, &hoardredis.BusOptions{InstanceID: id})
		if err != nil {
			panic(err)
		}
		_ = bus.Ready(ctx) // subscribed: from now on nothing is missed unannounced
		return bus, func() { _ = bus.Close(ctx); _ = client.Close() }
	}
	a, closeA := newInstance("a")
	defer closeA()
	b, closeB := newInstance("b")
	defer closeB()

	// b evicts from its memory tier what a invalidates.
	evicted := make(chan []hoard.Invalidation, 1)
	b.Subscribe(func(events []hoard.Invalidation) { evicted <- events })

	_ = a.Publish(ctx,
		hoard.Invalidation{Kind: hoard.InvalidateKey, Value: "product:42"},
		hoard.Invalidation{Kind: hoard.InvalidateTag, Value: "category:7"},
	)
	for _, ev := range <-evicted {
		fmt.Println(ev.Kind, ev.Value)
	}
	// Output:
	// key product:42
	// tag category:7
}
