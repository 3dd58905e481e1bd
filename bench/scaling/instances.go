package scaling

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/bench/roundtrips"
)

// InstancesConfig shapes the instances series: Instances processes of one
// application (each a Service on its own client, with the default Locker)
// share one Redis and, between them, a read load of Rate reads per second
// over Keys keys drawn from a Zipf distribution (s = 1.01); each has a
// memory tier of MemoryEntries; entries live TTL.
type InstancesConfig struct {
	Instances     []int
	Rate          int // reads per second, all instances together
	Keys          int
	MemoryEntries int
	TTL           time.Duration
	Warmup        time.Duration // run, not counted, before each measure
	Duration      time.Duration
}

func (c *InstancesConfig) defaults() {
	if len(c.Instances) == 0 {
		c.Instances = []int{1, 2, 4, 8}
	}
	c.Rate = cmpOr(c.Rate, 4000)
	c.Keys = cmpOr(c.Keys, 10_000)
	c.MemoryEntries = cmpOr(c.MemoryEntries, 1000)
	c.TTL = cmpOr(c.TTL, 2*time.Second)
	c.Warmup = cmpOr(c.Warmup, 2*time.Second)
	c.Duration = cmpOr(c.Duration, 6*time.Second)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// InstancesPoint is the measurement with one number of instances.
type InstancesPoint struct {
	Instances   int
	Reads       float64 // per second, achieved
	Loads       float64 // loader calls per second
	RoundTrips  float64 // per second, by the clients' count
	Commands    float64 // per second, by the server's (INFO commandstats), -1 when not the run's own
	MemoryShare float64 // share of the reads the memory tiers answered
}

// instancesRun measures every number of instances.
func instancesRun(ctx context.Context, env *Env, cfg InstancesConfig, progress func(string)) ([]InstancesPoint, error) {
	cfg.defaults()
	var out []InstancesPoint
	for _, n := range cfg.Instances {
		progress(fmt.Sprintf("scaling: %d instances", n))
		p, err := instancesAt(ctx, env, &cfg, n)
		if err != nil {
			return nil, fmt.Errorf("%d instances: %w", n, err)
		}
		out = append(out, *p)
	}
	return out, nil
}

func instancesAt(ctx context.Context, env *Env, cfg *InstancesConfig, n int) (*InstancesPoint, error) {
	var r [4]byte
	_, _ = rand.Read(r[:])
	app := "scale-" + hex.EncodeToString(r[:])
	var loads atomic.Int64
	loader := hoard.LoaderFunc[Product](func(_ context.Context, id string) (Product, error) {
		loads.Add(1)
		return makeProduct(id), nil
	})
	type inst struct {
		client  *goredis.Client
		counter *roundtrips.Counter
		svc     *hoardredis.Service
		a       *hoard.Aside[Product]
	}
	insts := make([]*inst, n)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, in := range insts {
			if in != nil {
				_ = in.svc.Close(cctx)
				_ = in.client.Close()
			}
		}
		_ = deleteUnder(cctx, env.Client(), app+":")
	}()
	for i := range insts {
		in := &inst{counter: roundtrips.NewCounter(nil), client: goredis.NewClient(&goredis.Options{Addr: env.Addr})}
		in.client.AddHook(in.counter)
		insts[i] = in
		var err error
		if in.svc, err = hoardredis.NewService(ctx, in.client, app, &hoardredis.ServiceOptions{MemoryMaxEntries: cfg.MemoryEntries}); err != nil {
			return nil, err
		}
		if in.a, err = hoardredis.NewAside(in.svc, "items", &hoard.AsideOptions[Product]{TTL: cfg.TTL}); err != nil {
			return nil, err
		}
	}
	ids := make([]string, cfg.Keys)
	for i := range ids {
		ids[i] = "k" + strconv.Itoa(i)
	}
	// Two readers per instance, each pacing its share of the rate.
	readers := 2 * n
	interval := time.Duration(float64(time.Second) * float64(readers) / float64(cfg.Rate))
	var reads atomic.Int64
	var firstErr error
	var errOnce sync.Once
	run := func(d time.Duration) {
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for w := range readers {
			a := insts[w%n].a
			wg.Go(func() {
				z := mrand.NewZipf(mrand.New(mrand.NewPCG(uint64(w), uint64(n))), 1.01, 1, uint64(cfg.Keys-1))
				next := time.Now()
				for next.Before(end) {
					if _, err := a.Get(ctx, ids[z.Uint64()], loader); err != nil {
						errOnce.Do(func() { firstErr = err })
					}
					reads.Add(1)
					next = next.Add(interval)
					if wait := time.Until(next); wait > 0 {
						time.Sleep(wait) // paces the read load
					}
				}
			})
		}
		wg.Wait()
	}
	run(cfg.Warmup)
	var before map[string]int
	var err error
	if env.Private {
		if before, err = roundtrips.CommandStats(ctx, env.Client()); err != nil {
			return nil, err
		}
	}
	reads.Store(0)
	loads.Store(0)
	hitsBefore := int64(0)
	for _, in := range insts {
		in.counter.Take()
		hitsBefore += in.a.Metrics().Snapshot().Count(hoard.EventHit, hoard.TierMemory)
	}
	start := time.Now()
	run(cfg.Duration)
	secs := time.Since(start).Seconds()
	if firstErr != nil {
		return nil, firstErr
	}
	p := &InstancesPoint{Instances: n, Reads: float64(reads.Load()) / secs, Loads: float64(loads.Load()) / secs, Commands: -1}
	trips, hits := 0, int64(0)
	for _, in := range insts {
		t, _ := in.counter.Take()
		trips += t
		hits += in.a.Metrics().Snapshot().Count(hoard.EventHit, hoard.TierMemory)
	}
	p.RoundTrips = float64(trips) / secs
	if r := reads.Load(); r > 0 {
		p.MemoryShare = float64(hits-hitsBefore) / float64(r)
	}
	if env.Private {
		after, err := roundtrips.CommandStats(ctx, env.Client())
		if err != nil {
			return nil, err
		}
		total := 0
		for k, v := range after {
			if k != "INFO" {
				total += v - before[k]
			}
		}
		p.Commands = float64(total) / secs
	}
	return p, nil
}
