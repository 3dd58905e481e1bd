package hoard_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// wbSlowStore is a BatchStore whose every call costs about 1ms, as a round
// trip to a database does, whatever it writes. It keeps the newest version
// of each row and counts calls and rows.
type wbSlowStore struct {
	calls, rows atomic.Int64
	mu          sync.Mutex
	versions    map[string]uint64
}

func (s *wbSlowStore) apply(ws ...hoard.Write[string]) {
	time.Sleep(time.Millisecond)
	s.calls.Add(1)
	s.rows.Add(int64(len(ws)))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range ws {
		s.versions[w.ID] = max(s.versions[w.ID], w.Version)
	}
}

func (s *wbSlowStore) Load(context.Context, string) (string, error) { return "", hoard.ErrNotFound }
func (s *wbSlowStore) Save(_ context.Context, id, v string, version uint64) error {
	s.apply(hoard.Write[string]{ID: id, Value: v, Version: version})
	return nil
}
func (s *wbSlowStore) Delete(_ context.Context, id string, version uint64) error {
	s.apply(hoard.Write[string]{ID: id, Version: version, Delete: true})
	return nil
}
func (s *wbSlowStore) WriteMany(_ context.Context, ws []hoard.Write[string]) error {
	s.apply(ws...)
	return nil
}

var wbBenchKeys = func() []string {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	return keys
}()

func wbReport(b *testing.B, s *wbSlowStore) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	b.ReportMetric(float64(s.calls.Load())*10_000/float64(b.N), "store-calls/10k-writes")
	b.ReportMetric(float64(s.rows.Load())*10_000/float64(b.N), "rows/10k-writes")
}

// BenchmarkWriteBehindPut: b.N Puts over 1,000 keys into a write-behind on
// a 1ms store, then a Flush, all timed: the throughput of writes that all
// reach the store, not only of the enqueueing. Keys come in turn (no key
// twice within 1,000 writes, so batches coalesce nothing) or at random
// (uniform: a batch may hold a key twice and store it once).
func BenchmarkWriteBehindPut(b *testing.B) {
	for _, keys := range []string{"cyclic", "random"} {
		for _, batch := range []int{100, 1000} {
			b.Run(fmt.Sprintf("keys=%s/batch=%d", keys, batch), func(b *testing.B) {
				benchWriteBehind(b, keys == "random", batch)
			})
		}
	}
}

func benchWriteBehind(b *testing.B, random bool, batch int) {
	mem, err := memory.New[string](nil)
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "bench", Memory: mem})
	if err != nil {
		b.Fatal(err)
	}
	store := &wbSlowStore{versions: map[string]uint64{}}
	wb, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[string]{Aside: a, Store: store, BatchSize: batch, Logger: wbDiscard})
	if err != nil {
		b.Fatal(err)
	}
	order := make([]int, b.N)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range order {
		order[i] = i % len(wbBenchKeys)
		if random {
			order[i] = rng.IntN(len(wbBenchKeys))
		}
	}
	ctx := context.Background()
	b.ResetTimer()
	for _, k := range order {
		if err := wb.Put(ctx, wbBenchKeys[k], "v"); err != nil {
			b.Fatal(err)
		}
	}
	if err := wb.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	wbReport(b, store)
	if err := wb.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriteThroughBaselinePut is the simplest synchronous
// write-through, for comparison: per Put, a version, store.Save (1ms) and a
// cache Set. It is a baseline, not hoard's WriteThrough.
func BenchmarkWriteThroughBaselinePut(b *testing.B) {
	mem, err := memory.New[string](nil)
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "bench", Memory: mem})
	if err != nil {
		b.Fatal(err)
	}
	store := &wbSlowStore{versions: map[string]uint64{}}
	versions := hoard.CounterVersioner{Counter: mem}
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		id := wbBenchKeys[i%len(wbBenchKeys)]
		version, err := versions.NextVersion(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if err := store.Save(ctx, id, "v", version); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		if err := mem.Set(ctx, a.Key(id), hoard.Entry[string]{Value: "v", WrittenAt: now, ExpiresAt: now.Add(5 * time.Minute)}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	wbReport(b, store)
}
