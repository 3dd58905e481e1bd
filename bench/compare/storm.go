package compare

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// StormConfig shapes workload 5.
type StormConfig struct {
	Instances int           // client stacks sharing one Redis; default 2
	Readers   int           // reader goroutines per instance; default 4
	TTL       time.Duration // of the hot key; default 1s (go-redis/cache turns a TTL under 1s into 1h)
	Delay     time.Duration // how long a recompute takes; default 50ms
	Duration  time.Duration // of each library's run, warm-up included; default 6 TTLs
	Warmup    time.Duration // start of each run left out; default 1 TTL
	Think     time.Duration // a reader's pause between reads; default 100µs
	// HitPhase is how long the same readers first read a key that does not
	// expire, through stacks of the same library with a TTL of an hour: the
	// hit latency the storm's is compared with. Default: 2 TTLs.
	HitPhase time.Duration
}

func (c *StormConfig) defaults() {
	c.Instances = cmpOr(c.Instances, 2)
	c.Readers = cmpOr(c.Readers, 4)
	c.TTL = cmpOr(c.TTL, time.Second)
	c.Delay = cmpOr(c.Delay, 50*time.Millisecond)
	c.Duration = cmpOr(c.Duration, 6*c.TTL)
	c.Warmup = cmpOr(c.Warmup, c.TTL)
	c.Think = cmpOr(c.Think, 100*time.Microsecond)
	c.HitPhase = cmpOr(c.HitPhase, 2*c.TTL)
}

// Sample is one read: when it began (since the run's start) and how long
// it took.
type Sample struct {
	At, Latency time.Duration
}

// StormResult is one library's expiry storm, after the warm-up.
type StormResult struct {
	Lib  Lib
	Note string
	// Reads after the warm-up; Misses among them: reads that waited for a
	// recompute (took at least Delay/2, and a recompute ended while they
	// waited).
	Reads, Misses int
	// Recomputes that began after the warm-up, and per TTL period.
	Recomputes int
	PerPeriod  float64
	// Latency quantiles of the reads after the warm-up.
	P50, P99, P999, Max time.Duration
	// HitP50 and HitP99 are the quantiles of the hit phase.
	HitP50, HitP99 time.Duration
	// Trace is the reads drawn in the chart: every slow one, and an even
	// share of the others.
	Trace []Sample
	Err   error
}

var stormLibs = []struct {
	lib  Lib
	note string
}{
	{Hoard, "`EarlyRefresh` (XFetch, β = 1) + redis `Locker`, memory + Redis tiers"},
	{Sturdyc, "`WithEarlyRefreshes` (70–80% of the TTL), Redis `DistributedStorage`"},
	{Otter, "refresh-after-write at 80% of the TTL (`RefreshWriting`), per process"},
	{GoRedisCache, "`Once`, TinyLFU + Redis, no early refresh (it has none)"},
	{Naive, "`GET`; on a miss load and `SET`"},
}

// Storm is workload 5: a hot key whose recompute takes Delay, read
// continuously by Instances × Readers goroutines for several TTLs.
func Storm(ctx context.Context, env *Env, cfg StormConfig) []StormResult {
	cfg.defaults()
	var out []StormResult
	for _, l := range stormLibs {
		res := StormResult{Lib: l.lib, Note: l.note}
		res.Err = stormLib(ctx, env, &cfg, &res)
		out = append(out, res)
	}
	return out
}

func stormLib(ctx context.Context, env *Env, cfg *StormConfig, res *StormResult) error {
	// The hit phase: the same library, readers and key, but a TTL of an hour.
	hits, _, err := readPhase(ctx, env, cfg, res.Lib, "stormhit-", time.Hour, cfg.HitPhase, newSource(cfg.Delay, false))
	if err != nil {
		return err
	}
	lats := make([]time.Duration, 0, len(hits))
	for _, s := range hits {
		lats = append(lats, s.Latency)
	}
	slices.Sort(lats)
	res.HitP50, res.HitP99 = quantile(lats, 0.5), quantile(lats, 0.99)

	src := newSource(cfg.Delay, true)
	all, t0, err := readPhase(ctx, env, cfg, res.Lib, "storm-", cfg.TTL, cfg.Duration, src)
	if err != nil {
		return err
	}
	res.analyse(cfg, t0, src.intervals(), all)
	return nil
}

// readPhase builds cfg.Instances stacks of lib, reads the hot key once,
// then has cfg.Readers goroutines per stack read it for d, and returns the
// reads, At counted from t0, when the readers started.
func readPhase(ctx context.Context, env *Env, cfg *StormConfig, lib Lib, name string, ttl, d time.Duration, src *source) (_ []Sample, t0 time.Time, _ error) {
	o := stackOpts{env: env, name: name + slug(lib), memory: true, shared: true, lock: true, early: true,
		ttl: ttl, capacity: 1000, src: src}
	var stacks []*stack
	defer func() { closeAll(stacks) }()
	for range cfg.Instances {
		st, err := newStack(lib, o)
		if err != nil {
			return nil, t0, err
		}
		stacks = append(stacks, st)
	}
	const id = "hot"
	if _, err := stacks[0].get(ctx, id, stacks[0].key(id)); err != nil {
		return nil, t0, err
	}
	t0 = time.Now()
	end := t0.Add(d)
	traces := make([][]Sample, cfg.Instances*cfg.Readers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i, st := range stacks {
		key := st.key(id)
		for r := range cfg.Readers {
			n := i*cfg.Readers + r
			wg.Go(func() {
				tr := make([]Sample, 0, 1<<14)
				defer func() { traces[n] = tr }()
				for {
					s := time.Now()
					if !s.Before(end) {
						return
					}
					_, err := st.get(ctx, id, key)
					tr = append(tr, Sample{At: s.Sub(t0), Latency: time.Since(s)})
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = fmt.Errorf("%s: %w", lib, err)
						}
						mu.Unlock()
						return
					}
					time.Sleep(cfg.Think)
				}
			})
		}
	}
	wg.Wait()
	if firstErr != nil {
		return nil, t0, firstErr
	}
	return slices.Concat(traces...), t0, nil
}

// analyse fills in the figures from the reads and the recomputes.
func (res *StormResult) analyse(cfg *StormConfig, t0 time.Time, runs []interval, all []Sample) {
	ends := make([]time.Duration, len(runs))
	for i, r := range runs {
		ends[i] = r.end.Sub(t0)
		if r.start.Sub(t0) >= cfg.Warmup {
			res.Recomputes++
		}
	}
	slices.Sort(ends)
	res.PerPeriod = float64(res.Recomputes) / (float64(cfg.Duration-cfg.Warmup) / float64(cfg.TTL))
	var lats []time.Duration
	for _, s := range all {
		if s.At < cfg.Warmup {
			continue
		}
		res.Reads++
		lats = append(lats, s.Latency)
		if s.Latency >= cfg.Delay/2 {
			// A read that waited for a recompute ends just after it.
			done := s.At + s.Latency
			i := sort.Search(len(ends), func(i int) bool { return ends[i] >= s.At })
			if i < len(ends) && ends[i] <= done+2*time.Millisecond {
				res.Misses++
			}
		}
	}
	slices.Sort(lats)
	res.P50, res.P99, res.P999 = quantile(lats, 0.5), quantile(lats, 0.99), quantile(lats, 0.999)
	if len(lats) > 0 {
		res.Max = lats[len(lats)-1]
	}
	res.Trace = thin(all, cfg.Delay/10, 20000)
}

// quantile of sorted xs.
func quantile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	return xs[min(len(xs)-1, int(q*float64(len(xs))))]
}

// thin keeps every sample slower than slow and an even share of the
// others, about limit in all.
func thin(all []Sample, slow time.Duration, limit int) []Sample {
	every := max(1, len(all)/limit+1)
	var out []Sample
	for i, s := range all {
		if s.Latency >= slow || i%every == 0 {
			out = append(out, s)
		}
	}
	return out
}
