package compare

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// ZipfConfig shapes workload 6.
type ZipfConfig struct {
	Keys     int     // distinct keys; default 1,000,000
	Capacity int     // entries of the in-process tier; default 10,000
	Reads    int     // reads, warm-up included; default 2,000,000
	Warmup   int     // first reads left out of the ratio; default Reads/10
	S        float64 // Zipf exponent (math/rand/v2 needs s > 1); default 1.01
	Seed     uint64
}

func (c *ZipfConfig) defaults() {
	c.Keys = cmpOr(c.Keys, 1_000_000)
	c.Capacity = cmpOr(c.Capacity, 10_000)
	c.Reads = cmpOr(c.Reads, 2_000_000)
	c.Warmup = cmpOr(c.Warmup, c.Reads/10)
	c.S = cmpOr(c.S, 1.01)
	c.Seed = cmpOr(c.Seed, 9)
}

// OtterAgain is otter run a second time on the same sequence: a reference
// row of workload 6 that shows how much otter's hit ratio moves between two
// caches configured alike.
const OtterAgain Lib = "otter, again"

// ZipfResult is one library's hit ratio.
type ZipfResult struct {
	Lib      Lib
	Note     string
	HitRatio float64 // over the reads after the warm-up
	Elapsed  time.Duration
	Err      error
}

var zipfLibs = []struct {
	lib  Lib
	note string
}{
	{Hoard, "`Aside.Get`, memory tier of `MaxEntries` = capacity (otter's W-TinyLFU)"},
	{Otter, "`Get` with a `Loader`, `MaximumSize` = capacity"},
	{OtterAgain, "the same as `otter`, a second cache: otter's own spread from one cache to another"},
	{Sturdyc, "`GetOrFetch`, capacity, 10 shards, evicts 10% by recency when full"},
	{GoRedisCache, "`Once`, `NewTinyLFU(capacity, ttl)`, no Redis"},
	{LRU, "`lru.Cache` of capacity: the reference"},
}

// Zipf is workload 6: one goroutine reads keys drawn from a Zipf
// distribution through each library's in-process tier; a load is a miss.
// Every library reads the same sequence.
func Zipf(ctx context.Context, env *Env, cfg ZipfConfig) []ZipfResult {
	cfg.defaults()
	z := rand.NewZipf(rand.New(rand.NewPCG(cfg.Seed, cfg.Seed)), cfg.S, 1, uint64(cfg.Keys-1))
	seq := make([]uint32, cfg.Reads)
	for i := range seq {
		seq[i] = uint32(z.Uint64())
	}
	var out []ZipfResult
	for _, l := range zipfLibs {
		res := ZipfResult{Lib: l.lib, Note: l.note}
		start := time.Now()
		res.HitRatio, res.Err = zipfLib(ctx, env, &cfg, l.lib, seq)
		res.Elapsed = time.Since(start)
		out = append(out, res)
	}
	return out
}

func zipfLib(ctx context.Context, env *Env, cfg *ZipfConfig, lib Lib, seq []uint32) (float64, error) {
	src := newSource(0, false)
	var get func(id, key string) error
	if lib == LRU {
		c, err := lru.New[string, Product](cfg.Capacity)
		if err != nil {
			return 0, err
		}
		get = func(id, key string) error {
			if _, ok := c.Get(key); ok {
				return nil
			}
			p, err := src.load(ctx, id)
			if err == nil {
				c.Add(key, p)
			}
			return err
		}
	} else {
		st, err := newStack(lib, stackOpts{env: env, name: "zipf-" + slug(lib), memory: true, capacity: cfg.Capacity, src: src})
		if err != nil {
			return 0, err
		}
		defer st.close()
		get = func(id, key string) error {
			p, err := st.get(ctx, id, key)
			if err == nil && p.ID != id {
				err = fmt.Errorf("got %q for %q", p.ID, id)
			}
			return err
		}
	}
	prefix := env.Prefix + "zipf-" + slug(lib) + ":"
	var warm int64
	buf := make([]byte, 0, 16)
	for i, n := range seq {
		if i == cfg.Warmup {
			warm = src.calls.Load()
		}
		buf = strconv.AppendUint(append(buf[:0], "z-"...), uint64(n), 10)
		id := string(buf)
		if err := get(id, prefix+id); err != nil {
			return 0, fmt.Errorf("%s: %w", lib, err)
		}
	}
	measured := len(seq) - cfg.Warmup
	misses := src.calls.Load() - warm
	return 1 - float64(misses)/float64(measured), nil
}
