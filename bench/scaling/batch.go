package scaling

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// Product is the value of the batch, entries and instances series: about
// 200 bytes as JSON, as in bench/compare.
type Product struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	PriceCents  int64    `json:"price_cents"`
	Stock       int32    `json:"stock"`
	Tags        []string `json:"tags"`
	Description string   `json:"description"`
}

var description = strings.Repeat("a sturdy kettle for every kitchen; ", 3)[:100]

func makeProduct(id string) Product {
	return Product{ID: id, Name: "product " + id, PriceCents: 1999, Stock: 42, Tags: []string{"kitchen", "kettle"}, Description: description}
}

var loadProducts = hoard.BatchLoaderFunc[Product](func(_ context.Context, ids []string) (map[string]Product, error) {
	out := make(map[string]Product, len(ids))
	for _, id := range ids {
		out[id] = makeProduct(id)
	}
	return out, nil
})

var neverProducts = hoard.BatchLoaderFunc[Product](func(context.Context, []string) (map[string]Product, error) {
	return nil, errMissed
})

// The series of the batch-size measurement.
const (
	BMemory = "hoard: GetMany, memory tier"
	BOtter  = "otter BulkGet"
	BRedis  = "hoard: GetMany, Redis"
	BMGet   = "MGET + json.Unmarshal each"
)

// BatchPoint is the measurement at one batch size.
type BatchPoint struct {
	Size int
	NS   map[string]Sample // per batch
}

// batches measures GetMany at every size, from one pre-filled set of the
// largest size's ids.
func batches(ctx context.Context, env *Env, sizes []int, rounds int, benchtime time.Duration) ([]BatchPoint, error) {
	n := 0
	for _, s := range sizes {
		n = max(n, s)
	}
	prefix := env.Prefix + "b:"
	client := env.Client()
	ids, keys := make([]string, n), make([]string, n)
	for i := range ids {
		ids[i] = "p" + strconv.Itoa(i)
		keys[i] = prefix + "raw:" + ids[i]
	}
	mem, err := memory.New(&memory.Options[Product]{MaxEntries: 2 * n})
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	memAside, err := hoard.NewAside(&hoard.AsideOptions[Product]{Name: prefix + "mem", Memory: mem, TTL: time.Hour})
	if err != nil {
		return nil, err
	}
	rc, err := hoardredis.New[Product](client, nil)
	if err != nil {
		return nil, err
	}
	redisAside, err := hoard.NewAside(&hoard.AsideOptions[Product]{Name: prefix + "redis", Shared: rc, TTL: time.Hour})
	if err != nil {
		return nil, err
	}
	oc := otter.Must(&otter.Options[string, Product]{MaximumSize: 2 * n, ExpiryCalculator: otter.ExpiryWriting[string, Product](time.Hour)})
	defer oc.StopAllGoroutines()
	for lo := 0; lo < n; lo += 1000 {
		hi := min(lo+1000, n)
		if _, err := memAside.GetMany(ctx, ids[lo:hi], loadProducts); err != nil {
			return nil, err
		}
		if _, err := redisAside.GetMany(ctx, ids[lo:hi], loadProducts); err != nil {
			return nil, err
		}
		pipe := client.Pipeline()
		for i := lo; i < hi; i++ {
			b, _ := json.Marshal(makeProduct(ids[i]))
			pipe.Set(ctx, keys[i], b, time.Hour)
			oc.Set(keys[i], makeProduct(ids[i]))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
	}
	var out []BatchPoint
	for _, size := range sizes {
		bi, bk := ids[:size], keys[:size]
		benches := []bench{
			{BMemory, func(b *testing.B) error {
				return loop(b, func() error { return count(size)(memAside.GetMany(ctx, bi, neverProducts)) })
			}},
			{BOtter, func(b *testing.B) error {
				return loop(b, func() error {
					m, err := oc.BulkGet(ctx, bk, otter.BulkLoaderFunc[string, Product](func(context.Context, []string) (map[string]Product, error) {
						return nil, errMissed
					}))
					return count(size)(m, err)
				})
			}},
			{BRedis, func(b *testing.B) error {
				return loop(b, func() error { return count(size)(redisAside.GetMany(ctx, bi, neverProducts)) })
			}},
			{BMGet, func(b *testing.B) error {
				return loop(b, func() error {
					vals, err := client.MGet(ctx, bk...).Result()
					if err != nil {
						return err
					}
					for _, v := range vals {
						s, ok := v.(string)
						if !ok {
							return errMissed
						}
						var p Product
						if err := json.Unmarshal([]byte(s), &p); err != nil {
							return err
						}
					}
					return nil
				})
			}},
		}
		samples, err := measure(rounds, benchtime, benches...)
		if err != nil {
			return nil, fmt.Errorf("batch of %d: %w", size, err)
		}
		p := BatchPoint{Size: size, NS: map[string]Sample{}}
		for i, bn := range benches {
			p.NS[bn.name] = samples[i]
		}
		out = append(out, p)
	}
	return out, nil
}

// count checks that a batch read got size values.
func count(size int) func(map[string]Product, error) error {
	return func(m map[string]Product, err error) error {
		if err == nil && len(m) != size {
			return fmt.Errorf("%d of %d values: %w", len(m), size, errMissed)
		}
		return err
	}
}
