package hoardredis_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// ordersTable is a table that keeps the newest version of each row, as a
// Store must: an UPSERT ... WHERE version < new version.
func ordersTable() hoard.StoreFuncs[string] {
	rows := map[string]string{}
	versions := map[string]uint64{}
	return hoard.StoreFuncs[string]{
		LoadFunc: func(_ context.Context, id string) (string, error) {
			if v, ok := rows[id]; ok {
				return v, nil
			}
			return "", hoard.ErrNotFound
		},
		SaveFunc: func(_ context.Context, id, v string, version uint64) error {
			if version > versions[id] {
				rows[id], versions[id] = v, version
				fmt.Println("UPSERT", id, v)
			}
			return nil
		},
		DeleteFunc: func(_ context.Context, id string, version uint64) error {
			if version > versions[id] {
				delete(rows, id)
				versions[id] = version // the tombstone keeps older saves out
				fmt.Println("DELETE", id)
			}
			return nil
		},
	}
}

func ExampleStreamQueue() {
	mr := miniredis.NewMiniRedis() // a real Redis in production
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	defer client.Close()

	shared, err := hoardredis.New[string](client, nil)
	if err != nil {
		panic(err)
	}
	orders, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "orders", Shared: shared})
	if err != nil {
		panic(err)
	}
	// A durable queue: a write is in Redis when Put returns, and if this
	// process dies, another one with the same Name stores its writes.
	queue, err := hoardredis.NewStreamQueue[string](client, &hoardredis.StreamQueueOptions{Name: "orders"})
	if err != nil {
		panic(err)
	}
	writes, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[string]{
		Aside:         orders,
		Store:         ordersTable(),
		Queue:         queue,
		FlushInterval: time.Hour,
	})
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	_ = writes.Put(ctx, "1001", "paid")
	_ = writes.Put(ctx, "1002", "shipped")
	n, _ := client.XLen(ctx, queue.Stream()).Result()
	fmt.Println("in the stream:", n)

	// Flush waits until the store has everything enqueued so far; the
	// stream is trimmed below what was acknowledged.
	if err := writes.Flush(ctx); err != nil {
		panic(err)
	}
	n, _ = client.XLen(ctx, queue.Stream()).Result()
	fmt.Println("in the stream:", n)
	_ = writes.Close(ctx)
	// Output:
	// in the stream: 2
	// UPSERT 1001 paid
	// UPSERT 1002 shipped
	// in the stream: 0
}
