package compare

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ThroughputConfig shapes the throughput workload (issue 15, item 3): the
// way Caffeine's GetPutBenchmark and otter's throughput benchmark measure
// it. A stream of Stream keys is drawn from a Zipf distribution over
// Distinct keys (ranks scrambled by a hash, so the hot keys are not
// neighbours); every distinct key is put in the cache first, whose
// capacity holds them all, so every read hits. Each goroutine walks the
// stream from its own random offset for Duration; in a mix with writes,
// every WriteEvery-th operation of a goroutine is a write (of the key it
// would have read) and the others are reads.
type ThroughputConfig struct {
	Stream     int           // keys in the stream, a power of two; default 1 << 16
	Distinct   int           // distinct keys; default Stream / 3
	S          float64       // Zipf exponent (math/rand/v2 needs s > 1); default 1.01
	Goroutines []int         // default 1, 2, 4, 8
	Duration   time.Duration // of each measurement; default 1s
	Rounds     int           // each cell is measured this often, every library in turn; default 3
	Seed       uint64
}

func (c *ThroughputConfig) defaults() {
	c.Stream = cmpOr(c.Stream, 1<<16)
	c.Distinct = cmpOr(c.Distinct, c.Stream/3)
	c.S = cmpOr(c.S, 1.01)
	if len(c.Goroutines) == 0 {
		c.Goroutines = []int{1, 2, 4, 8}
	}
	c.Duration = cmpOr(c.Duration, time.Second)
	c.Rounds = cmpOr(c.Rounds, 3)
	c.Seed = cmpOr(c.Seed, 15)
}

// Mix is a share of reads: 100 for reads only, 75 for 75% reads and 25%
// writes.
type Mix int

// The mixes measured.
var throughputMixes = []Mix{100, 75}

// HoardTier is hoard's in-process tier alone (memory.Cache Get and Set),
// a reference row of the throughput workload: what hoard's patterns add
// over their storage.
const HoardTier Lib = "hoard memory tier"

var throughputLibs = []struct {
	lib  Lib
	note string
}{
	{Hoard, "reads `Aside.Get` (memory tier only); writes `WriteThrough.Put` (store: a `sync.Map`; version from the memory tier's counter; compare-and-set into the tier; a write that loses a race to another invalidates the key, and the next read loads it: a miss)"},
	{HoardTier, "reads `memory.Cache.Get`, writes `Set`: the storage under the Aside, for reference"},
	{Otter, "`GetIfPresent`, `Set`; expire after write"},
	{Sturdyc, "`Get`, `Set`; 10 shards"},
	{GoRedisCache, "`Get`, `Set` on its TinyLFU local cache (no Redis): encodes on Set, decodes on Get (MsgPack + s2)"},
}

// ThroughputResult is one library's ops/s in one cell.
type ThroughputResult struct {
	Lib        Lib
	Mix        Mix
	Goroutines int
	OpsPerSec  []float64 // one per round
	Misses     int64     // reads that did not hit: none are due
	Err        error
}

// Median is the median of the rounds' ops/s.
func (r *ThroughputResult) Median() float64 {
	if len(r.OpsPerSec) == 0 {
		return 0
	}
	xs := slices.Clone(r.OpsPerSec)
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// Throughput runs the workload for every library, mix and goroutine count,
// in Rounds rounds, each library in turn within a cell.
func Throughput(ctx context.Context, env *Env, cfg ThroughputConfig, progress func(string)) []ThroughputResult {
	cfg.defaults()
	if progress == nil {
		progress = func(string) {}
	}
	stream, distinct := zipfStream(&cfg)
	var out []ThroughputResult
	for _, mix := range throughputMixes {
		for _, g := range cfg.Goroutines {
			progress(fmt.Sprintf("throughput: reads %d%%, %d goroutine%s", mix, g, plural(g)))
			cell := make([]ThroughputResult, len(throughputLibs))
			for i, l := range throughputLibs {
				cell[i] = ThroughputResult{Lib: l.lib, Mix: mix, Goroutines: g}
			}
			for range cfg.Rounds {
				for i, l := range throughputLibs {
					r := &cell[i]
					if r.Err != nil {
						continue
					}
					ops, misses, err := throughputRun(ctx, env, &cfg, l.lib, mix, g, stream, distinct)
					r.Misses += misses
					if err != nil {
						r.Err = err
						continue
					}
					r.OpsPerSec = append(r.OpsPerSec, ops)
				}
			}
			out = append(out, cell...)
		}
	}
	return out
}

// zipfStream returns the stream of key numbers and the distinct ones.
func zipfStream(cfg *ThroughputConfig) (stream []uint32, distinct []uint32) {
	z := rand.NewZipf(rand.New(rand.NewPCG(cfg.Seed, cfg.Seed)), cfg.S, 1, uint64(cfg.Distinct-1))
	stream = make([]uint32, cfg.Stream)
	seen := make(map[uint32]bool)
	for i := range stream {
		stream[i] = scramble(uint32(z.Uint64()))
		if !seen[stream[i]] {
			seen[stream[i]] = true
			distinct = append(distinct, stream[i])
		}
	}
	return stream, distinct
}

// scramble spreads the Zipf ranks over the key space, as YCSB's
// ScrambledZipfian does.
func scramble(rank uint32) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte{byte(rank), byte(rank >> 8), byte(rank >> 16), byte(rank >> 24)})
	return h.Sum32()
}

// tpOps are one library's read and write of the throughput workload.
type tpOps struct {
	get func(ctx context.Context, id, key string) (bool, error)
	set func(ctx context.Context, id, key string, p Product) error
	// loads counts the reads that loaded, when reads load on a miss
	// rather than report it; nil otherwise.
	loads func() int64
	close func()
}

// throughputRun fills a fresh cache of lib with the distinct keys, then
// runs g goroutines over the stream for cfg.Duration and returns the ops/s
// and the reads that missed.
func throughputRun(ctx context.Context, env *Env, cfg *ThroughputConfig, lib Lib, mix Mix, g int, stream, distinct []uint32) (float64, int64, error) {
	name := "tp-" + slug(lib)
	ops, err := throughputStack(env, lib, name, 2*cfg.Stream)
	if err != nil {
		return 0, 0, err
	}
	defer ops.close()
	prefix := env.Prefix + name + ":"
	ids := make(map[uint32]string, len(distinct))
	idOf := func(n uint32) string { return "k-" + strconv.FormatUint(uint64(n), 10) }
	for _, n := range distinct {
		id := idOf(n)
		ids[n] = id
		if err := ops.set(ctx, id, prefix+id, makeProduct(id)); err != nil {
			return 0, 0, fmt.Errorf("%s: filling: %w", lib, err)
		}
	}
	// The stream's ids and keys, built before the clock starts.
	sIDs, sKeys := make([]string, len(stream)), make([]string, len(stream))
	values := make([]Product, len(stream))
	for i, n := range stream {
		sIDs[i], sKeys[i], values[i] = ids[n], prefix+ids[n], makeProduct(ids[n])
	}
	for i := range sIDs { // every read must hit before the measure begins
		if hit, err := ops.get(ctx, sIDs[i], sKeys[i]); err != nil || !hit {
			return 0, 0, fmt.Errorf("%s: key %q not cached after the fill (%v)", lib, sIDs[i], err)
		}
	}
	runtime.GC()
	var loadsBefore int64
	if ops.loads != nil {
		loadsBefore = ops.loads()
	}
	mask := len(stream) - 1
	var total, misses atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range g {
		wg.Go(func() {
			i := int(rand.Uint32()) & mask
			var n, missed int64
			writeEvery := 0
			if mix < 100 {
				writeEvery = 100 / (100 - int(mix))
			}
			<-start
			for !stop.Load() {
				for range 64 { // check the stop flag every 64 ops
					j := i & mask
					var err error
					if writeEvery > 0 && (n+int64(w))%int64(writeEvery) == 0 {
						err = ops.set(ctx, sIDs[j], sKeys[j], values[j])
					} else {
						var hit bool
						hit, err = ops.get(ctx, sIDs[j], sKeys[j])
						if !hit {
							missed++
						}
					}
					if err != nil {
						errOnce.Do(func() { firstErr = err })
					}
					i++
					n++
				}
			}
			total.Add(n)
			misses.Add(missed)
		})
	}
	began := time.Now()
	close(start)
	time.Sleep(cfg.Duration)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(began)
	if ops.loads != nil {
		misses.Add(ops.loads() - loadsBefore)
	}
	if firstErr != nil {
		return 0, misses.Load(), fmt.Errorf("%s: %w", lib, firstErr)
	}
	return float64(total.Load()) / elapsed.Seconds(), misses.Load(), nil
}

// ShortThroughput is a run of seconds, for CI: every library, mix and
// goroutine count, briefly.
func ShortThroughput() ThroughputConfig {
	return ThroughputConfig{Stream: 1 << 12, Goroutines: []int{1, 2}, Duration: 20 * time.Millisecond, Rounds: 1}
}
