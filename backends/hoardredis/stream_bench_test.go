package hoardredis_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// BenchmarkWriteBehindStreamPut is the root package's
// BenchmarkWriteBehindPut (cyclic keys over 1,000 ids, batches of 100, a
// store whose every call costs 1ms, b.N Puts and a Flush all timed) with
// the durable queue: each Put is one more round trip, the enqueue script,
// on Redis at $HOARD_REDIS_ADDR (miniredis when unset). One caller waits
// for each round trip; 16 callers overlap them.
func BenchmarkWriteBehindStreamPut(b *testing.B) {
	for _, callers := range []int{1, 16} {
		b.Run(fmt.Sprint("callers=", callers), func(b *testing.B) { benchStreamPut(b, callers) })
	}
}

func benchStreamPut(b *testing.B, callers int) {
	var client goredis.UniversalClient
	name := fmt.Sprintf("bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	if os.Getenv(redistest.EnvAddr) != "" {
		client = redistest.Real(b)
	} else {
		_, client = redistest.Miniredis(b)
	}
	defer client.Del(context.Background(), "hoard:wb:{"+name+"}", "hoard:wb:{"+name+"}:depth")
	mem, err := memory.New[string](nil)
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "bench", Memory: mem})
	if err != nil {
		b.Fatal(err)
	}
	q, err := hoardredis.NewStreamQueue[string](client, &hoardredis.StreamQueueOptions{Name: name, Block: 10 * time.Millisecond, PollInterval: 5 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	store := newStreamDB()
	store.delay = time.Millisecond
	wb, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[string]{Aside: a, Store: store, Queue: q, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	ctx := context.Background()
	var next atomic.Int64
	put := func() {
		i := next.Add(1)
		if err := wb.Put(ctx, keys[int(i)%len(keys)], "v"); err != nil {
			b.Error(err)
		}
	}
	b.ResetTimer()
	if callers == 1 {
		for range b.N {
			put()
		}
	} else {
		b.SetParallelism(max(callers/runtime.GOMAXPROCS(0), 1))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				put()
			}
		})
	}
	if err := wb.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	b.ReportMetric(float64(store.calls.Load())*10_000/float64(b.N), "store-calls/10k-writes")
	b.ReportMetric(float64(store.rows.Load())*10_000/float64(b.N), "rows/10k-writes")
	if err := wb.Close(ctx); err != nil {
		b.Fatal(err)
	}
}
