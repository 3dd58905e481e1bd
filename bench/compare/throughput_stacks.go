package compare

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/maypok86/otter/v2"
	"github.com/viccon/sturdyc"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// errTPMiss is what the throughput workload's loader returns: a read that
// loads is a miss, which a pre-filled cache should never have.
var errTPMiss = errors.New("compare: a read of the throughput workload missed")

const tpTTL = time.Hour

// throughputStack builds lib's in-process cache of capacity entries for
// the throughput workload, with its read and its write.
func throughputStack(env *Env, lib Lib, name string, capacity int) (*tpOps, error) {
	switch lib {
	case Hoard:
		return hoardTPStack(env, name, capacity)
	case HoardTier:
		mem, err := memory.New(&memory.Options[Product]{MaxEntries: capacity})
		if err != nil {
			return nil, err
		}
		return &tpOps{
			get: func(ctx context.Context, _, key string) (bool, error) {
				_, err := mem.Get(ctx, key)
				if errors.Is(err, hoard.ErrNotFound) {
					return false, nil
				}
				return err == nil, err
			},
			set: func(ctx context.Context, _, key string, p Product) error {
				now := time.Now()
				return mem.Set(ctx, key, hoard.Entry[Product]{Value: p, WrittenAt: now, ExpiresAt: now.Add(tpTTL)})
			},
			close: func() { _ = mem.Close() },
		}, nil
	case Otter:
		c := otter.Must(&otter.Options[string, Product]{MaximumSize: capacity, ExpiryCalculator: otter.ExpiryWriting[string, Product](tpTTL)})
		return &tpOps{
			get: func(_ context.Context, _, key string) (bool, error) {
				_, ok := c.GetIfPresent(key)
				return ok, nil
			},
			set: func(_ context.Context, _, key string, p Product) error {
				c.Set(key, p)
				return nil
			},
			close: func() { c.StopAllGoroutines() },
		}, nil
	case Sturdyc:
		c := sturdyc.New[Product](capacity, 10, tpTTL, 10)
		return &tpOps{
			get: func(_ context.Context, _, key string) (bool, error) {
				_, ok := c.Get(key)
				return ok, nil
			},
			set: func(_ context.Context, _, key string, p Product) error {
				c.Set(key, p)
				return nil
			},
			close: func() {},
		}, nil
	case GoRedisCache:
		c := gocache.New(&gocache.Options{LocalCache: gocache.NewTinyLFU(capacity, tpTTL)})
		return &tpOps{
			get: func(ctx context.Context, _, key string) (bool, error) {
				var p Product
				err := c.Get(ctx, key, &p)
				if errors.Is(err, gocache.ErrCacheMiss) {
					return false, nil
				}
				return err == nil, err
			},
			set: func(ctx context.Context, _, key string, p Product) error {
				return c.Set(&gocache.Item{Ctx: ctx, Key: key, Value: p, TTL: tpTTL})
			},
			close: func() {},
		}, nil
	}
	return nil, fmt.Errorf("compare: no throughput stack for %q", lib)
}

// hoardTPStack is hoard's Aside on a memory tier, written through.
func hoardTPStack(env *Env, name string, capacity int) (*tpOps, error) {
	mem, err := memory.New(&memory.Options[Product]{MaxEntries: capacity, MaxCounters: capacity})
	if err != nil {
		return nil, err
	}
	a, err := hoard.NewAside(&hoard.AsideOptions[Product]{Name: env.Prefix + name, Memory: mem, TTL: tpTTL})
	if err != nil {
		_ = mem.Close()
		return nil, err
	}
	// The store is a map in memory: its cost is small beside a real
	// database's. A write that loses a race to another write of its key
	// invalidates the key (see hoard.WriteThrough), and the next read
	// loads it from here: a miss.
	var rows sync.Map
	var loads atomic.Int64
	store := hoard.StoreFuncs[Product]{
		LoadFunc: func(_ context.Context, id string) (Product, error) {
			loads.Add(1)
			if p, ok := rows.Load(id); ok {
				return p.(Product), nil
			}
			return Product{}, errTPMiss
		},
		SaveFunc: func(_ context.Context, id string, p Product, _ uint64) error {
			rows.Store(id, p)
			return nil
		},
		DeleteFunc: func(_ context.Context, id string, _ uint64) error {
			rows.Delete(id)
			return nil
		},
	}
	wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[Product]{Aside: a, Store: store})
	if err != nil {
		_ = mem.Close()
		return nil, err
	}
	loader := hoard.LoaderFunc[Product](store.Load)
	return &tpOps{
		get: func(ctx context.Context, id, _ string) (bool, error) {
			_, err := a.Get(ctx, id, loader)
			if errors.Is(err, errTPMiss) {
				return false, nil
			}
			return err == nil, err
		},
		set:   func(ctx context.Context, id, _ string, p Product) error { return wt.Put(ctx, id, p) },
		loads: loads.Load,
		close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = a.Close(ctx)
			_ = mem.Close()
		},
	}, nil
}
