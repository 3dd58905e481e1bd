package hoardredis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// Product is the value type of the README's snippets.
type Product struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	CategoryID string `json:"category"`
}

// productRepo is the README's repository: a table of products with the
// version rule of a hoard.Store (an older version never overwrites a newer
// one).
type productRepo struct {
	mu       sync.Mutex
	rows     map[string]Product
	versions map[string]uint64
}

func newProductRepo() *productRepo {
	return &productRepo{
		rows:     map[string]Product{"42": {ID: "42", Name: "kettle", CategoryID: "7"}, "43": {ID: "43", Name: "teapot", CategoryID: "7"}},
		versions: map[string]uint64{},
	}
}

func (r *productRepo) ProductByID(_ context.Context, id string) (Product, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.rows[id]
	if !ok {
		return Product{}, hoard.ErrNotFound
	}
	return p, nil
}

func (r *productRepo) ProductsByIDs(ctx context.Context, ids []string) (map[string]Product, error) {
	found := make(map[string]Product, len(ids))
	for _, id := range ids {
		if p, err := r.ProductByID(ctx, id); err == nil {
			found[id] = p
		}
	}
	return found, nil
}

func (r *productRepo) Load(ctx context.Context, id string) (Product, error) {
	return r.ProductByID(ctx, id)
}

func (r *productRepo) Save(_ context.Context, id string, p Product, version uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if version > r.versions[id] {
		r.rows[id], r.versions[id] = p, version
	}
	return nil
}

func (r *productRepo) Delete(_ context.Context, id string, version uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if version > r.versions[id] {
		delete(r.rows, id)
		r.versions[id] = version
	}
	return nil
}

// readme:begin pieces
// newProducts builds the products cache from its pieces: a memory tier, a
// Redis tier, a locker, then the Aside. Its caller closes the Aside, then
// the memory tier.
func newProducts(redisClient goredis.UniversalClient) (*hoard.Aside[Product], *memory.Cache[Product], error) {
	local, err := memory.New(&memory.Options[Product]{MaxEntries: 100_000, MaxBytes: 256 << 20})
	if err != nil {
		return nil, nil, err
	}
	shared, err := hoardredis.New[Product](redisClient, &hoardredis.Options{Codec: hoard.MsgPack})
	if err != nil {
		return nil, nil, errors.Join(err, local.Close())
	}
	locker, err := hoardredis.NewLocker(redisClient, nil)
	if err != nil {
		return nil, nil, errors.Join(err, local.Close())
	}
	products, err := hoard.NewAside(&hoard.AsideOptions[Product]{
		Name:        "products",       // key prefix and metrics name
		Memory:      local,            // read first
		Shared:      shared,           // then Redis, shared by every instance
		TTL:         10 * time.Minute, // jittered by 10% so keys expire apart
		NegativeTTL: time.Minute,      // a loader's ErrNotFound is cached too
		LoadTimeout: 2 * time.Second,
		FailSafe:    &hoard.FailSafe{Window: time.Hour}, // serve stale when the database fails
		Stampede:    &hoard.Stampede{Locker: locker},    // one load per key across all instances
	})
	if err != nil {
		return nil, nil, errors.Join(err, local.Close())
	}
	return products, local, nil
}

// readme:end

// The README's cache-aside built from its pieces, and its reads.
func Example_cacheAsideFromPieces() {
	mr, err := miniredis.Run()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mr.Close()
	redisClient := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer redisClient.Close()
	ctx, repo := context.Background(), newProductRepo()
	products, local, err := newProducts(redisClient)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer local.Close()
	defer products.Close(ctx)

	// readme:begin reads
	p, err := products.Get(ctx, "42", hoard.LoaderFunc[Product](repo.ProductByID))
	switch {
	case errors.Is(err, hoard.ErrNotFound): // 404, cached
	case errors.Is(err, hoard.ErrServedStale): // p is usable, only old
	case err != nil: // neither the source nor a stale copy answered
	}
	many, err := products.GetMany(ctx, []string{"42", "43", "44"}, hoard.BatchLoaderFunc[Product](repo.ProductsByIDs))
	fmt.Println(p.Name, len(many), err)
	fmt.Printf("hit rate %.2f\n", products.Metrics().Snapshot().HitRate())
	// readme:end
	// Output:
	// kettle 2 <nil>
	// hit rate 0.25
}

// The README's coherence snippet: a bus and an invalidator shared by the
// caches of an instance, tags, a namespace, and the write paths.
func Example_coherence() {
	mr, err := miniredis.Run()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mr.Close()
	redisClient := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer redisClient.Close()
	ctx, repo := context.Background(), newProductRepo()
	if err := coherence(ctx, redisClient, repo); err != nil {
		fmt.Println(err)
	}
	// Output:
	// teapot
	// loads 1
}

func coherence(ctx context.Context, redisClient goredis.UniversalClient, repo *productRepo) error {
	local, err := memory.New[Product](nil)
	if err != nil {
		return err
	}
	defer local.Close()
	shared, err := hoardredis.New[Product](redisClient, nil)
	if err != nil {
		return err
	}
	// readme:begin coherence
	bus, err := hoardredis.NewBus(redisClient, nil) // pub/sub, sharded on Cluster
	if err != nil {
		return err
	}
	defer bus.Close(ctx)
	inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: shared, TagClock: shared, Bus: bus})
	if err != nil {
		return err
	}
	defer inv.Close()
	products, err := hoard.NewAside(&hoard.AsideOptions[Product]{
		Name: "products", Memory: local, Shared: shared,
		Bus: bus, Invalidator: inv, Namespace: "catalogue",
		MemoryTTL: 30 * time.Second,                                                                    // the most a memory tier can lag, whatever happens to the bus
		TagsOf:    func(id string, p Product) []string { return []string{"category:" + p.CategoryID} }, // every write path
	})
	if err != nil {
		return err
	}
	defer products.Close(ctx)

	loader := hoard.LoaderFunc[Product](func(ctx context.Context, id string) (Product, error) {
		p, err := repo.ProductByID(ctx, id)
		hoard.SetTags(ctx, "product:"+id)
		return p, err
	})
	if _, err := products.Get(ctx, "42", loader); err != nil {
		return err
	}
	if err := products.Delete(ctx, "42"); err != nil { // both tiers here, every memory tier via the bus
		return err
	}
	if err := inv.InvalidateTags(ctx, "category:7"); err != nil { // every entry tagged, everywhere, in O(1)
		return err
	}
	if _, err := inv.BumpNamespace(ctx, "catalogue"); err != nil { // every key of the namespace, in O(1)
		return err
	}
	if _, err := products.DeletePrefix(ctx, "2024-"); err != nil { // SCAN on Redis: O(n), prefer the two above
		return err
	}

	writes, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[Product]{Aside: products, Store: repo})
	if err != nil {
		return err
	}
	if err := writes.Put(ctx, "43", Product{ID: "43", Name: "teapot", CategoryID: "7"}); err != nil {
		return err // the store first, then the cache, race-safe
	}

	queue, err := hoardredis.NewStreamQueue[Product](redisClient, &hoardredis.StreamQueueOptions{Name: "products"})
	if err != nil {
		return err
	}
	defer queue.Close(ctx)
	behind, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[Product]{Aside: products, Store: repo, Queue: queue})
	if err != nil {
		return err
	}
	defer behind.Close(ctx) // drains
	if err := behind.Put(ctx, "44", Product{ID: "44", Name: "cup", CategoryID: "8"}); err != nil {
		return err // the cache now, the store in batches; survives a crash
	}
	// readme:end
	p, err := products.Get(ctx, "43", loader)
	if err != nil {
		return err
	}
	fmt.Println(p.Name) // put by the write-through: no load
	fmt.Println("loads", products.Metrics().Snapshot().Total(hoard.EventLoad))
	return nil
}
