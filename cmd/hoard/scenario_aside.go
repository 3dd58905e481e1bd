package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard"
)

// readersPerInstance is how many goroutines read on each instance.
const readersPerInstance = 8

// zipfS is the skew of the cache-aside workload: a few products are read
// far more often than the rest, as in most catalogues.
const zipfS = 1.1

type asideData struct {
	Reads          int64   `json:"reads"`
	QueriesNoCache int64   `json:"db_queries_without_cache"`
	Queries        int64   `json:"db_queries"`
	HitRateMemory  float64 `json:"hit_rate_memory"`
	HitRateRedis   float64 `json:"hit_rate_redis"`
	P50            string  `json:"read_p50"`
	P99            string  `json:"read_p99"`
}

// runCacheAside reads products, Zipf-distributed, on every instance.
func runCacheAside(ctx context.Context, e *env, p progress) (*result, error) {
	f, err := e.newFleet(fleetOptions{
		name:       "products",
		maxEntries: e.cfg.products / 10, // the memory tier holds the hottest tenth
		aside:      hoard.AsideOptions[Product]{TTL: 10 * time.Minute},
	})
	defer func() { _ = f.Close() }()
	if err != nil {
		return nil, err
	}
	loader := hoard.LoaderFunc[Product](e.db.Product)
	queries0 := e.db.queries.Load()
	var reads atomic.Int64
	stop := p.start("cache-aside (Zipf reads)", func() string {
		return fmt.Sprintf("reads %s  db queries %s", fmtInt(reads.Load()), fmtInt(e.db.queries.Load()-queries0))
	})
	ctx, cancel := context.WithTimeout(ctx, e.cfg.duration)
	defer cancel()
	var (
		mu    sync.Mutex
		lat   latencies
		errs  atomic.Int64
		wg    sync.WaitGroup
		first atomic.Value
	)
	for i, a := range f.asides {
		for g := range readersPerInstance {
			wg.Go(func() {
				var mine latencies
				r := rand.New(rand.NewPCG(uint64(i), uint64(g)))
				z := rand.NewZipf(r, zipfS, 1, uint64(e.cfg.products-1))
				for ctx.Err() == nil {
					id := strconv.FormatUint(z.Uint64(), 10)
					began := time.Now()
					_, err := a.Get(ctx, id, loader)
					if ctx.Err() != nil {
						break // a read cut short by the end of the run
					}
					mine.observe(time.Since(began))
					reads.Add(1)
					if err != nil {
						errs.Add(1)
						first.CompareAndSwap(nil, err)
					}
				}
				mu.Lock()
				lat.merge(&mine)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	stop()
	if n := errs.Load(); n > 0 {
		return nil, fmt.Errorf("%d reads failed, the first: %v", n, first.Load())
	}
	n := reads.Load()
	d := asideData{
		Reads:          n,
		QueriesNoCache: n,
		Queries:        f.count(hoard.EventLoad, hoard.TierNone),
		P50:            fmtDuration(lat.quantile(0.5)),
		P99:            fmtDuration(lat.quantile(0.99)),
	}
	if n > 0 {
		d.HitRateMemory = float64(f.count(hoard.EventHit, hoard.TierMemory)) / float64(n)
		d.HitRateRedis = float64(f.count(hoard.EventHit, hoard.TierShared)) / float64(n)
	}
	r := &result{
		Title: fmt.Sprintf("1. cache-aside: Zipf (s=%.1f) reads of %s products, %d instances × %d readers, %v",
			zipfS, fmtInt(int64(e.cfg.products)), len(f.asides), readersPerInstance, e.cfg.duration),
		Data:   d,
		header: []string{"", "reads", "DB queries", "memory hits", "Redis hits", "p50 read", "p99 read"},
	}
	r.row("without cache", d.Reads, d.QueriesNoCache, "-", "-", "-", "-")
	r.row("hoard", d.Reads, d.Queries, d.HitRateMemory, d.HitRateRedis, d.P50, d.P99)
	return r, nil
}
