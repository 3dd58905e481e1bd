package hoard_test

import (
	"context"
	"fmt"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

func ExampleWriteThrough() {
	mem, _ := memory.New[string](nil)
	defer mem.Close()
	users, _ := hoard.NewAside(&hoard.AsideOptions[string]{Name: "users", Memory: mem})

	// The source of truth: a table that keeps the newest version of a row.
	rows := map[string]string{}
	versions := map[string]uint64{}
	db := hoard.StoreFuncs[string]{
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
	}
	writes, _ := hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: users, Store: db})

	ctx := context.Background()
	_ = writes.Put(ctx, "7", "Ada")
	name, _ := users.Get(ctx, "7", db) // a hit: the write went to the cache too
	fmt.Println(name)
	// Output:
	// UPSERT 7 Ada
	// Ada
}
