package hoardredis_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// BenchmarkBusPropagation measures how long an invalidation takes from one
// instance's Publish to another instance's handler: bus A publishes a key
// event, bus B's handler signals its receipt, and the next round starts
// only then. Each bus has its own client, as separate instances would. It
// reports the median and 99th percentile of the rounds in µs (p50-µs,
// p99-µs). It needs a real server: target=redis runs on HOARD_REDIS_ADDR,
// target=cluster on HOARD_REDIS_CLUSTER_ADDRS (sharded pub/sub).
func BenchmarkBusPropagation(b *testing.B) {
	b.Run("target=redis", func(b *testing.B) {
		redistest.Real(b) // skips when unset
		addr := os.Getenv(redistest.EnvAddr)
		benchBusPropagation(b, func() goredis.UniversalClient {
			return goredis.NewClient(&goredis.Options{Addr: addr})
		})
	})
	b.Run("target=cluster", func(b *testing.B) {
		redistest.Cluster(b) // skips when unset
		addrs := strings.Split(os.Getenv(redistest.EnvClusterAddrs), ",")
		benchBusPropagation(b, func() goredis.UniversalClient {
			return goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
		})
	})
}

func benchBusPropagation(b *testing.B, newClient func() goredis.UniversalClient) {
	ctx := context.Background()
	channel := "hoard-bench:bus:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	newBus := func(id string) *hoardredis.Bus {
		client := newClient()
		bus, err := hoardredis.NewBus(client, &hoardredis.BusOptions{Channel: channel, InstanceID: id})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := bus.Close(ctx); err != nil {
				b.Error(err)
			}
			_ = client.Close()
		})
		if err := bus.Ready(ctx); err != nil {
			b.Fatal(err)
		}
		return bus
	}
	a, r := newBus("bench-a"), newBus("bench-b")
	received := make(chan time.Time, 1)
	r.Subscribe(func([]hoard.Invalidation) { received <- time.Now() })

	round := func(i int) time.Duration {
		start := time.Now()
		if err := a.Publish(ctx, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: "product:" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-received:
			return at.Sub(start)
		case <-time.After(10 * time.Second):
			b.Fatal("the event did not arrive within 10s")
			return 0
		}
	}
	for i := range 100 { // warm up: connections, pools
		round(i)
	}
	latencies := make([]time.Duration, 0, 1<<16)
	i := 0
	for b.Loop() {
		latencies = append(latencies, round(i))
		i++
	}
	slices.Sort(latencies)
	pct := func(p int) float64 {
		return float64(latencies[(len(latencies)-1)*p/100]) / float64(time.Microsecond)
	}
	b.ReportMetric(pct(50), "p50-µs")
	b.ReportMetric(pct(99), "p99-µs")
	if st := r.Stats(); st.Flushes != 0 || st.Gaps != 0 {
		b.Errorf("the receiving bus flushed during the benchmark: %+v", st)
	}
}
