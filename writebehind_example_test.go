package hoard_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
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
	users, _ := hoard.NewAside(&hoard.AsideOptions[string]{Name: "users", Memory: mem})
	db := wbUsersTable()
	// The default queue is in memory: fast, and lost with the process.
	writes, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[string]{
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
