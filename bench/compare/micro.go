package compare

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DefaultMicroKeys is how many keys the micro workloads read, in turn.
const DefaultMicroKeys = 1024

// batchSize is how many keys a batch read asks for.
const batchSize = 100

// Case is one row of a micro workload: a Go benchmark function for one
// library, or a row saying why the library has none.
type Case struct {
	Lib  Lib
	Note string // how the library is used, or why it is not measured
	// Bench is the benchmark; nil when the library cannot run the workload.
	Bench func(b *testing.B)
	// Err is the first error a read of the benchmark returned (a miss where
	// a hit was due counts as one): Run reports it rather than a figure.
	Err func() error
}

// Micro is a micro workload's cases, built on stacks that are warm (every
// key read once), and how to close them.
type Micro struct {
	Name  string
	Cases []Case
	Close func()
	// Findings are what the warm-up saw that the tables should say.
	Findings []string
}

// errFlag keeps a benchmark's first error.
type errFlag struct {
	once sync.Once
	err  atomic.Pointer[error]
}

func (f *errFlag) set(err error) {
	f.once.Do(func() { f.err.Store(&err) })
}

func (f *errFlag) get() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// warmStacks builds the stacks of libs with o (each under its own key
// name), reads every id once through get, and returns them; the source of
// each stack must see no further load: see checkNoLoads.
func warmStacks(env *Env, n int, libs []Lib, o stackOpts, name string, batch bool) ([]*stack, []*source, []string, error) {
	var stacks []*stack
	var findings []string
	var srcs []*source
	ctx := context.Background()
	for _, lib := range libs {
		o := o
		o.src = newSource(0, false)
		o.name = name + "-" + slug(lib)
		if lib == RawBytes || lib == RawPipeline {
			o.name = name + "-" + slug(RawRedis) // they read what the naive path wrote
		}
		st, err := newStack(lib, o)
		if err != nil {
			closeAll(stacks)
			return nil, nil, nil, err
		}
		stacks, srcs = append(stacks, st), append(srcs, o.src)
		ids, keys := ids(st.prefix, n)
		if batch && st.getMany != nil && lib != Naive && lib != RawRedis && lib != RawPipeline {
			// Pass over the keys in batches until a pass loads nothing: a
			// library that drops some of a batch's write-backs needs more
			// than one.
			for pass := 1; pass <= 5; pass++ {
				before, keysBefore := o.src.calls.Load(), o.src.keys.Load()
				for i := 0; i < len(ids); i += batchSize {
					j := min(i+batchSize, len(ids))
					if _, err := st.getMany(ctx, ids[i:j], keys[i:j]); err != nil {
						closeAll(stacks)
						return nil, nil, nil, fmt.Errorf("%s: warming: %w", lib, err)
					}
				}
				if pass > 1 && o.src.calls.Load() > before {
					findings = append(findings, fmt.Sprintf("%s: pass %d over the %d keys, in batches of %d, loaded %d of them again: "+
						"the batch reads before it had loaded them but not cached them all", lib, pass, len(ids), batchSize, o.src.keys.Load()-keysBefore))
				}
				if pass > 1 && o.src.calls.Load() == before {
					break
				}
			}
			continue
		}
		for i := range ids {
			if _, err := st.get(ctx, ids[i], keys[i]); err != nil {
				closeAll(stacks)
				return nil, nil, nil, fmt.Errorf("%s: warming: %w", lib, err)
			}
		}
	}
	// Writes to Redis by sturdyc's distributed storage and hoard's memory
	// tier settle in the background: let them.
	time.Sleep(50 * time.Millisecond)
	for _, s := range srcs {
		s.calls.Store(0)
	}
	return stacks, srcs, findings, nil
}

func closeAll(stacks []*stack) {
	for _, s := range stacks {
		s.close()
	}
}

func slug(l Lib) string {
	b := []byte(l)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b)
}

// readBench reads the stack's keys in turn, one at a time or from
// GOMAXPROCS goroutines (b.RunParallel); a load counts as an error.
func readBench(st *stack, src *source, n int, parallel bool, flag *errFlag) func(b *testing.B) {
	ids, keys := ids(st.prefix, n)
	return func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		before := src.calls.Load()
		if parallel {
			var start atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(start.Add(97))
				for pb.Next() {
					j := i % n
					if _, err := st.get(ctx, ids[j], keys[j]); err != nil {
						flag.set(err)
					}
					i++
				}
			})
		} else {
			i := 0
			for b.Loop() {
				j := i % n
				if _, err := st.get(ctx, ids[j], keys[j]); err != nil {
					flag.set(err)
				}
				i++
			}
		}
		if n := src.calls.Load() - before; n > 0 {
			flag.set(fmt.Errorf("%s: %d loads in a hit benchmark", st.lib, n))
		}
	}
}

// batchBench reads batches of batchSize keys in turn.
func batchBench(st *stack, src *source, n int, flag *errFlag, many func(ctx context.Context, ids, keys []string) (int, error)) func(b *testing.B) {
	ids, keys := ids(st.prefix, n)
	return func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		before := src.calls.Load()
		i := 0
		for b.Loop() {
			lo := (i * batchSize) % (n - batchSize + 1)
			n, err := many(ctx, ids[lo:lo+batchSize], keys[lo:lo+batchSize])
			if err == nil && n != batchSize {
				err = fmt.Errorf("%s: %d of %d keys", st.lib, n, batchSize)
			}
			if err != nil {
				flag.set(err)
			}
			i++
		}
		if n := src.calls.Load() - before; n > 0 {
			flag.set(fmt.Errorf("%s: %d loads in a hit benchmark", st.lib, n))
		}
	}
}

// singles reads ids one by one with get: the batch of a library that has
// no batch read.
func singles(st *stack) func(ctx context.Context, ids, keys []string) (int, error) {
	return func(ctx context.Context, ids, keys []string) (int, error) {
		for i := range ids {
			if _, err := st.get(ctx, ids[i], keys[i]); err != nil {
				return i, err
			}
		}
		return len(ids), nil
	}
}

// MemoryHit is workload 1: a hit from the in-process tier, by one
// goroutine (parallel false) or by GOMAXPROCS goroutines.
func MemoryHit(env *Env, n int, parallel bool) (*Micro, error) {
	libs := []Lib{Hoard, GoRedisCache, Sturdyc, Otter, OtterPresent, OtterCoarse}
	stacks, srcs, _, err := warmStacks(env, n, libs, stackOpts{env: env, memory: true, shared: true}, "hit", false)
	if err != nil {
		return nil, err
	}
	notes := map[Lib]string{
		Hoard:        "`Aside.Get`, memory tier (otter) + Redis tier",
		GoRedisCache: "`Once`, TinyLFU local cache + Redis; decodes (MsgPack, s2) on every hit",
		Sturdyc:      "`GetOrFetch` (a fetch closure per call)",
		Otter:        "`Get` with a `Loader`, expire-after-write",
		OtterPresent: "`GetIfPresent`: the floor, no loader",
		OtterCoarse:  "`GetIfPresent` on otter's `CoarseClock` (1ms): the floor with the clock reads hoard's memory tier makes",
	}
	m := &Micro{Name: "memory-hit", Close: func() { closeAll(stacks) }}
	for i, st := range stacks {
		flag := &errFlag{}
		m.Cases = append(m.Cases, Case{Lib: st.lib, Note: notes[st.lib], Bench: readBench(st, srcs[i], n, parallel, flag), Err: flag.get})
	}
	m.Cases = append(m.Cases,
		Case{Lib: RawRedis, Note: "no in-process tier"},
		Case{Lib: Naive, Note: "no in-process tier"})
	return m, nil
}

// RedisHit is workload 2: a hit from Redis with the in-process tier off.
func RedisHit(env *Env, n int) (*Micro, error) {
	libs := []Lib{Hoard, GoRedisCache, RawRedis, RawBytes}
	stacks, srcs, _, err := warmStacks(env, n, libs, stackOpts{env: env, shared: true}, "rhit", false)
	if err != nil {
		return nil, err
	}
	notes := map[Lib]string{
		Hoard:        "`Aside.Get`, Redis tier only (JSON in hoard's envelope)",
		GoRedisCache: "`Once`, no local cache (MsgPack, s2)",
		RawRedis:     "`GET` + `json.Unmarshal`: the naive cache-aside's hit",
		RawBytes:     "`GET` of the same key, not decoded: the round-trip floor",
	}
	m := &Micro{Name: "redis-hit", Close: func() { closeAll(stacks) }}
	for i, st := range stacks {
		flag := &errFlag{}
		m.Cases = append(m.Cases, Case{Lib: st.lib, Note: notes[st.lib], Bench: readBench(st, srcs[i], n, false, flag), Err: flag.get})
	}
	m.Cases = append(m.Cases,
		Case{Lib: Sturdyc, Note: "n/a: its in-process tier cannot be turned off (Redis is a DistributedStorage behind it)"},
		Case{Lib: Otter, Note: "n/a: in-process only"},
		Case{Lib: Naive, Note: "its hit is the `raw go-redis` row"})
	return m, nil
}

// BatchMemory is workload 3a: 100 keys at once, all in the in-process tier.
func BatchMemory(env *Env, n int) (*Micro, error) {
	libs := []Lib{Hoard, Sturdyc, Otter, GoRedisCache}
	stacks, srcs, findings, err := warmStacks(env, n, libs, stackOpts{env: env, memory: true}, "bmem", true)
	if err != nil {
		return nil, err
	}
	notes := map[Lib]string{
		Hoard:        "`Aside.GetMany`, memory tier only",
		Sturdyc:      "`GetOrFetchBatch`",
		Otter:        "`BulkGet` with a `BulkLoader`",
		GoRedisCache: "no batch API: 100 × `Once` (TinyLFU local cache)",
	}
	m := batchMicro("batch-memory", n, stacks, srcs, notes)
	m.Findings = findings
	return m, nil
}

// BatchRedis is workload 3b: 100 keys at once from Redis, in-process tier off.
func BatchRedis(env *Env, n int) (*Micro, error) {
	libs := []Lib{Hoard, RawRedis, RawPipeline, GoRedisCache, Naive}
	stacks, srcs, findings, err := warmStacks(env, n, libs, stackOpts{env: env, shared: true}, "bredis", true)
	if err != nil {
		return nil, err
	}
	notes := map[Lib]string{
		Hoard:        "`Aside.GetMany`, Redis tier only (pipelined `MGET`)",
		RawRedis:     "`MGET` + 100 × `json.Unmarshal`",
		RawPipeline:  "a pipeline of 100 `GET`s + 100 × `json.Unmarshal`",
		GoRedisCache: "no batch API: 100 × `Once`, one round trip each",
		Naive:        "100 × (`GET` + `json.Unmarshal`)",
	}
	m := batchMicro("batch-redis", n, stacks, srcs, notes)
	m.Findings = findings
	m.Cases = append(m.Cases, Case{Lib: Sturdyc, Note: "n/a: its in-process tier cannot be turned off"}, Case{Lib: Otter, Note: "n/a: in-process only"})
	return m, nil
}

func batchMicro(name string, n int, stacks []*stack, srcs []*source, notes map[Lib]string) *Micro {
	m := &Micro{Name: name, Close: func() { closeAll(stacks) }}
	for i, st := range stacks {
		flag := &errFlag{}
		many := st.getMany
		if many == nil || st.lib == Naive {
			many = singles(st)
		}
		m.Cases = append(m.Cases, Case{Lib: st.lib, Note: notes[st.lib], Bench: batchBench(st, srcs[i], n, flag, many), Err: flag.get})
	}
	return m
}

// errNoBench says a case has no benchmark.
var errNoBench = errors.New("compare: the library cannot run this workload")
