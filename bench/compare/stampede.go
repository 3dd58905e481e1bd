package compare

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// StampedeConfig shapes workload 4.
type StampedeConfig struct {
	Instances  int           // client stacks, as processes would hold them; default 4
	Goroutines int           // readers per instance; default 250
	Rounds     int           // stampedes per library, each on a key of its own; default 5
	Delay      time.Duration // how long a load takes; default 50ms
}

func (c *StampedeConfig) defaults() {
	c.Instances = cmpOr(c.Instances, 4)
	c.Goroutines = cmpOr(c.Goroutines, 250)
	c.Rounds = cmpOr(c.Rounds, 5)
	c.Delay = cmpOr(c.Delay, 50*time.Millisecond)
}

// StampedeResult is one library's stampedes.
type StampedeResult struct {
	Lib   Lib
	Note  string
	Loads []int64 // loader calls of each round, across all instances
	// Slowest is the longest a reader waited, over all rounds.
	Slowest time.Duration
	Err     error
}

// MeanLoads is the mean of Loads.
func (r *StampedeResult) MeanLoads() float64 {
	if len(r.Loads) == 0 {
		return 0
	}
	var s int64
	for _, n := range r.Loads {
		s += n
	}
	return float64(s) / float64(len(r.Loads))
}

// stampedeLibs are the libraries of workload 4, with how each is set up.
var stampedeLibs = []struct {
	lib  Lib
	note string
}{
	{Hoard, "memory + Redis tiers, redis `Locker` (one load across processes)"},
	{HoardNoLock, "memory + Redis tiers, no `Locker`: one load per process"},
	{GoRedisCache, "`Once` (singleflight per process), TinyLFU + Redis"},
	{Sturdyc, "`GetOrFetch` (in-flight tracking per process), Redis `DistributedStorage`"},
	{Otter, "`Get` with a `Loader` (per process; no shared tier)"},
	{Naive, "`GET`; on a miss load and `SET`"},
}

// Stampede is workload 4: Instances stacks of each library (own clients,
// own in-process tier, one Redis) × Goroutines readers released at once on
// one key that no tier holds (an expired key), counting loader calls. A
// first round, not counted, warms the connection pools.
func Stampede(ctx context.Context, env *Env, cfg StampedeConfig) []StampedeResult {
	cfg.defaults()
	var out []StampedeResult
	for _, l := range stampedeLibs {
		res := StampedeResult{Lib: l.lib, Note: l.note}
		res.Err = stampedeLib(ctx, env, &cfg, &res)
		out = append(out, res)
	}
	return out
}

func stampedeLib(ctx context.Context, env *Env, cfg *StampedeConfig, res *StampedeResult) error {
	src := newSource(cfg.Delay, false)
	o := stackOpts{env: env, name: "stampede-" + slug(res.Lib), memory: true, shared: true, lock: true, ttl: time.Minute, src: src}
	var stacks []*stack
	defer func() { closeAll(stacks) }()
	for range cfg.Instances {
		st, err := newStack(res.Lib, o)
		if err != nil {
			return err
		}
		stacks = append(stacks, st)
	}
	// Round -1 warms the clients' connection pools (a pool dials as its
	// readers need connections); it is not counted.
	for round := -1; round < cfg.Rounds; round++ {
		id := "s-" + strconv.Itoa(round)
		before := src.calls.Load()
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		var slowest time.Duration
		for _, st := range stacks {
			key := st.key(id)
			for range cfg.Goroutines {
				wg.Go(func() {
					<-start
					t := time.Now()
					p, err := st.get(ctx, id, key)
					d := time.Since(t)
					if err == nil && p.ID != id {
						err = fmt.Errorf("%s: got %q for %q", res.Lib, p.ID, id)
					}
					mu.Lock()
					slowest = max(slowest, d)
					if err != nil && firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				})
			}
		}
		time.Sleep(10 * time.Millisecond) // let the readers reach the gate
		close(start)
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		if round >= 0 {
			res.Loads = append(res.Loads, src.calls.Load()-before)
			res.Slowest = max(res.Slowest, slowest)
		}
	}
	return nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// minMax returns the least and greatest of xs.
func minMax(xs []int64) (int64, int64) {
	if len(xs) == 0 {
		return 0, 0
	}
	return slices.Min(xs), slices.Max(xs)
}
