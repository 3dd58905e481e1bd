package hoard_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// Versions come from a counter in Redis while it answers, and from the
// process's clock when it does not: the writes go on, and their versions
// still increase.
func ExampleNewHybridVersioner() {
	mr, _ := miniredis.Run() // a Redis
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), MaxRetries: -1, DialerRetries: 1})
	defer client.Close()
	redisTier, _ := hoardredis.New[string](client, nil)
	versions, _ := hoard.NewHybridVersioner(&hoard.HybridVersionerOptions{Counter: redisTier, Prefix: "shop:ver:"})

	ctx := context.Background()
	up, _ := versions.NextVersion(ctx, "product:7")
	mr.Close() // Redis goes down
	down, err := versions.NextVersion(ctx, "product:7")
	fmt.Println(down > up, err, versions.Fallbacks())
	// Output: true <nil> 1
}

// productTable is a table that picks the versions of its writes, as
// stores/postgres does in its upsert: above the row's, and at least the
// floor the writer gives.
type productTable struct {
	mu       sync.Mutex
	rows     map[string]string
	versions map[string]uint64
}

func (t *productTable) Load(_ context.Context, id string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.rows[id]; ok {
		return v, nil
	}
	return "", hoard.ErrNotFound
}

func (t *productTable) Save(_ context.Context, id, v string, version uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if version > t.versions[id] { // the version rule, for writers that bring their own
		t.rows[id], t.versions[id] = v, version
	}
	return nil
}

func (t *productTable) Delete(_ context.Context, id string, version uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if version > t.versions[id] {
		delete(t.rows, id)
		t.versions[id] = version // a tombstone
	}
	return nil
}

func (t *productTable) SaveNext(_ context.Context, id, v string, floor uint64) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	version := max(t.versions[id]+1, floor)
	t.rows[id], t.versions[id] = v, version
	return version, nil
}

func (t *productTable) DeleteNext(_ context.Context, id string, floor uint64) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	version := max(t.versions[id]+1, floor)
	delete(t.rows, id)
	t.versions[id] = version
	return version, nil
}

// A store that picks the versions itself needs no cache to be written:
// WriteThrough uses its versions when it is given no Versioner, and a
// Redis outage only costs the cache update.
func ExampleVersioningStore() {
	mr, _ := miniredis.Run()
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), MaxRetries: -1, DialerRetries: 1})
	defer client.Close()
	redisTier, _ := hoardredis.New[string](client, nil)
	products, _ := hoard.NewAside(&hoard.AsideOptions[string]{Name: "products", Shared: redisTier})
	table := &productTable{rows: map[string]string{}, versions: map[string]uint64{}}
	var _ hoard.VersioningStore[string] = table
	writes, _ := hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: products, Store: table})

	mr.Close() // Redis goes down: the row is still written
	err := writes.Put(context.Background(), "7", "teapot")
	name, _ := table.Load(context.Background(), "7")
	fmt.Println(name, errors.Is(err, hoard.ErrCacheFailed), errors.Is(err, hoard.ErrStoreFailed))
	// Output: teapot true false
}
