package hoard_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// BenchmarkAsideGetHit compares a cache-aside Get answered by the memory
// tier with a raw Get of the memory backend it wraps (same key, same
// value), and with GetIfPresent on otter set up as a user would (expire
// after write), by one goroutine and in parallel. Target (issue 15): aside
// at most 1.3x otter with one goroutine, 1.5x in parallel, 0 allocs/op.
func BenchmarkAsideGetHit(b *testing.B) {
	const n = 1024
	mem, err := memory.New[Product](&memory.Options[Product]{MaxEntries: 10 * n})
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	a, err := hoard.NewAside(&hoard.AsideOptions[Product]{Name: "products", Memory: mem})
	if err != nil {
		b.Fatal(err)
	}
	oc := otter.Must(&otter.Options[string, Product]{MaximumSize: 10 * n, ExpiryCalculator: otter.ExpiryWriting[string, Product](time.Hour)})
	defer oc.StopAllGoroutines()
	ctx := context.Background()
	ids := make([]string, n)
	keys := make([]string, n)
	load := hoard.LoaderFunc[Product](func(_ context.Context, id string) (Product, error) {
		return Product{ID: id, Name: "name-" + id}, nil
	})
	for i := range ids {
		ids[i] = fmt.Sprint(i)
		keys[i] = a.Key(ids[i])
		v, err := a.Get(ctx, ids[i], load)
		if err != nil {
			b.Fatal(err)
		}
		oc.Set(keys[i], v)
	}
	impls := []struct {
		name string
		get  func(i int) error
	}{
		{"aside", func(i int) error { _, err := a.Get(ctx, ids[i], load); return err }},
		{"memory", func(i int) error { _, err := mem.Get(ctx, keys[i]); return err }},
		{"otter", func(i int) error {
			if _, ok := oc.GetIfPresent(keys[i]); !ok {
				return errors.New("otter missed")
			}
			return nil
		}},
	}
	for _, mode := range []string{"serial", "parallel"} {
		for _, impl := range impls {
			b.Run("mode="+mode+"/impl="+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				if mode == "parallel" {
					var start atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						i := int(start.Add(97))
						for pb.Next() {
							if err := impl.get(i % n); err != nil {
								b.Error(err)
								return
							}
							i++
						}
					})
					return
				}
				i := 0
				for b.Loop() {
					if err := impl.get(i % n); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkAsideGetMany compares one GetMany of 100 ids with 100 Gets,
// both answered by the shared tier (real Redis; no memory tier), with the
// default JSON codec and with MsgPack: decoding is paid per id either way,
// so the codec bounds the speed-up. Target: GetMany at least 15x faster.
func BenchmarkAsideGetMany(b *testing.B) {
	client := redistest.Real(b)
	for _, codec := range []hoard.Codec{hoard.JSON, hoard.MsgPack} {
		shared, err := hoardredis.New[Product](client, &hoardredis.Options{Codec: codec})
		if err != nil {
			b.Fatal(err)
		}
		a, err := hoard.NewAside(&hoard.AsideOptions[Product]{Name: uniqueName("bench-many"), Shared: shared})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		ids := make([]string, 100)
		load := hoard.BatchLoaderFunc[Product](func(_ context.Context, ids []string) (map[string]Product, error) {
			out := make(map[string]Product, len(ids))
			for _, id := range ids {
				out[id] = Product{ID: id, Name: "name-" + id}
			}
			return out, nil
		})
		for i := range ids {
			ids[i] = fmt.Sprint(i)
		}
		if _, err := a.GetMany(ctx, ids, load); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = a.Delete(context.Background(), ids...) })
		single := hoard.LoaderFunc[Product](func(context.Context, string) (Product, error) {
			b.Fatal("a Get missed")
			return Product{}, nil
		})
		b.Run("impl=getmany/codec="+codec.Name(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got, err := a.GetMany(ctx, ids, load); err != nil || len(got) != len(ids) {
					b.Fatal(len(got), err)
				}
			}
		})
		b.Run("impl=gets/codec="+codec.Name(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, id := range ids {
					if _, err := a.Get(ctx, id, single); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkStampede has 4 instances × 250 goroutines read one missing key
// whose load takes 20ms, and reports loads per stampede: a naive
// cache-aside (get; on a miss load and set), hoard without a locker (one
// load per instance) and hoard with the distributed lock (one load).
func BenchmarkStampede(b *testing.B) {
	open := sharedRedis(b)
	slow := func(context.Context) (string, error) {
		time.Sleep(20 * time.Millisecond)
		return "value", nil
	}
	for _, mode := range []string{"naive", "local", "distributed"} {
		b.Run("mode="+mode, func(b *testing.B) {
			name := uniqueName("stampede-bench")
			var instances []*hoard.Aside[string]
			var naive []*goredis.Client
			for range 4 {
				client := open()
				naive = append(naive, client)
				instances = append(instances, stampedeInstance(b, client, name, mode == "distributed", hoard.AsideOptions[string]{}))
			}
			total := int64(0)
			round := 0
			for b.Loop() {
				round++
				key := fmt.Sprintf("%s:naive:%d", name, round)
				if mode == "naive" {
					total += naiveStampede(b, naive, key, 250, slow)
					continue
				}
				for _, a := range instances {
					_ = a.Delete(context.Background(), "hot")
				}
				total += stampede(b, instances, 250, slow)
			}
			b.ReportMetric(float64(total)/float64(round), "loads/stampede")
		})
	}
}

// naiveStampede is the cache-aside a user writes without a library: GET;
// on a miss, load and SET. It returns how many loads ran.
func naiveStampede(tb testing.TB, clients []*goredis.Client, key string, perInstance int, load func(context.Context) (string, error)) int64 {
	var loads atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range clients {
		for range perInstance {
			wg.Go(func() {
				<-start
				ctx := context.Background()
				if _, err := c.Get(ctx, key).Result(); err == nil {
					return
				}
				loads.Add(1)
				v, _ := load(ctx)
				c.Set(ctx, key, v, time.Minute)
			})
		}
	}
	close(start)
	wg.Wait()
	clients[0].Del(context.Background(), key)
	return loads.Load()
}
