package changefeed_test

import (
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/stores/postgres/changefeed"
)

type user struct{ Name string }

// A feed that deletes a changed row of "users" from the users cache. In a
// service the cache is hoardredis.NewAside(svc, "users", ...), whose Delete
// reaches Redis and, through the bus, every instance's memory; FlushAll
// bumps its namespace with svc.Invalidator(). Every instance runs the feed
// (go feed.Run(ctx)); one consumes the slot at a time.
func Example() {
	mem, err := memory.New(&memory.Options[user]{MaxEntries: 1000})
	if err != nil {
		fmt.Println(err)
		return
	}
	users, err := hoard.NewAside(&hoard.AsideOptions[user]{Name: "users", Memory: mem, TTL: time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	feed, err := changefeed.New(changefeed.Options{
		ConnString: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		Slot:       "users_cache",
		Tables: []changefeed.Table{{
			Name: "public.users",
			IDs:  func(r changefeed.Row) []string { return []string{r["id"]} }, // the primary key
		}},
		Sink: changefeed.SinkFuncs{
			Delete: users.Delete,
			// One process here; with Redis, bump the namespace instead.
			FlushAll: mem.Clear,
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("feed ready:", feed.Stats().Active)
	if err := mem.Close(); err != nil {
		fmt.Println(err)
	}
	// Output: feed ready: false
}
