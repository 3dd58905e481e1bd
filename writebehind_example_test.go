package hoard_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	hoardredis "github.com/hoard-cache/hoard/backends/redis"
)

// wbUsersTable is a table that keeps the newest version of each row, as a
// Store must: an UPSERT ... WHERE version < new version.
func wbUsersTable() hoard.StoreFuncs[string] {
	rows := map[string]string{}
	versions := map[string]uint64{}
	return hoard.StoreFuncs[string]{
		LoadFunc: func(_ context.Context, id string) (string, error) {
			fmt.Println("SELECT", id)
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

func ExampleWriteBehind() {
	mem, _ := memory.New[string](nil)
	defer mem.Close()
	users, _ := hoard.NewAside(hoard.AsideOptions[string]{Name: "users", Memory: mem})
	db := wbUsersTable()
	// The default queue is in memory: fast, and lost with the process.
	writes, err := hoard.NewWriteBehind(hoard.WriteBehindOptions[string]{
		Aside:         users,
		Store:         db,
		FlushInterval: time.Hour, // batches wait for company until Flush or Close
	})
	if err != nil {
		panic(err)
	}

	ctx := context.Background()
	_ = writes.Put(ctx, "7", "Ada")
	_ = writes.Put(ctx, "7", "Ada Lovelace")
	_ = writes.Put(ctx, "8", "Grace")
	_ = writes.Delete(ctx, "8")
	name, _ := users.Get(ctx, "7", db) // a hit: the cache has the write already
	fmt.Println(name)
	_, err = users.Get(ctx, "8", db)
	fmt.Println(errors.Is(err, hoard.ErrNotFound))

	// Close drains the queue: one store call per id, with its newest write.
	if err := writes.Close(ctx); err != nil {
		panic(err)
	}
	s := writes.Stats().Snapshot()
	fmt.Println("stored:", s.Stored, "coalesced:", s.Coalesced)
	// Output:
	// Ada Lovelace
	// true
	// UPSERT 7 Ada Lovelace
	// DELETE 8
	// stored: 2 coalesced: 2
}

func ExampleStreamQueue() {
	mr := miniredis.NewMiniRedis() // a real Redis in production
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	defer client.Close()

	shared, _ := hoardredis.New[string](client, nil)
	orders, _ := hoard.NewAside(hoard.AsideOptions[string]{Name: "orders", Shared: shared})
	// A durable queue: a write is in Redis when Put returns, and if this
	// process dies, another one with the same Name stores its writes.
	queue, err := hoard.NewStreamQueue[string](client, hoard.StreamQueueOptions{Name: "orders"})
	if err != nil {
		panic(err)
	}
	writes, err := hoard.NewWriteBehind(hoard.WriteBehindOptions[string]{
		Aside:         orders,
		Store:         wbUsersTable(),
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
