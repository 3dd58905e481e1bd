package hoardredis_test

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// A service with Tracking on: a write to one of its keys in Redis by any
// client (here a plain go-redis client, as redis-cli would) evicts the key
// from every instance's memory tier. It needs a real Redis 6 or later
// (miniredis has no CLIENT TRACKING), so the example is compiled, not run.
func ExampleServiceOptions_tracking() {
	ctx := context.Background()
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	svc, err := hoardredis.NewService(ctx, client, "shop", &hoardredis.ServiceOptions{Tracking: true})
	if err != nil {
		fmt.Println(err) // among the checks: CLIENT TRACKING allowed on every master
		return
	}
	defer svc.Close(ctx)
	users, err := hoardredis.NewAside(svc, "users", &hoard.AsideOptions[string]{TTL: time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	load := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "Ada", nil })
	v, _ := users.Get(ctx, "1", load) // cached in memory and in Redis as shop:users:1

	// Someone else deletes the key: the tracker reports it, every
	// instance's memory drops it, and the next Get reads Redis or loads.
	other := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	defer other.Close()
	_ = other.Del(ctx, "shop:users:1").Err()
	fmt.Println(v, svc.Tracker().Prefix())
}

// A Tracker on its own: the writes Redis reports under a prefix, as
// hoard.Invalidation events, for a memory tier of your own.
func ExampleNewTracker() {
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	tr, err := hoardredis.NewTracker(client, &hoardredis.TrackerOptions{Prefix: "shop:", Ignore: []string{"shop:lock:"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	defer tr.Close(ctx)
	unsubscribe := tr.Subscribe(func(events []hoard.Invalidation) {
		for _, ev := range events {
			fmt.Println(ev.Kind, ev.Value) // "key shop:users:1"; "all" after a lost connection
		}
	})
	defer unsubscribe()
	if err := tr.Ready(ctx); err != nil {
		fmt.Println(err)
	}
}

// A cache the Service does not make (here an Aside built by hand; an
// httpcache page cache takes the same AsideOptions) listens on
// svc.CacheBus(): the Service's bus, and with Tracking the Tracker's
// reports too, as the Service's own Asides do. Compiled, not run: Tracking
// needs a real Redis.
func ExampleService_CacheBus() {
	ctx := context.Background()
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	svc, err := hoardredis.NewService(ctx, client, "shop", &hoardredis.ServiceOptions{Tracking: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close(ctx)
	shared, err := hoardredis.New[string](client, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	mem, err := memory.New[string](nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mem.Close()
	pages, err := hoard.NewAside(&hoard.AsideOptions[string]{
		Name: "shop:pages", Memory: mem, Shared: shared, TTL: time.Minute, // keys under the tracked prefix shop:
		Bus:         svc.CacheBus(), // hoard's invalidations and Redis's reports of others' writes
		Invalidator: svc.Invalidator(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pages.Close(ctx)
	fmt.Println(pages.Key("home"))
}
