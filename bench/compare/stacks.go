package compare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/maypok86/otter/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/viccon/sturdyc"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// Lib names a library, or one way of using one, as the tables show it.
type Lib string

// The libraries.
const (
	Hoard        Lib = "hoard"
	HoardNoLock  Lib = "hoard, no Locker"
	GoRedisCache Lib = "go-redis/cache"
	Sturdyc      Lib = "sturdyc"
	Otter        Lib = "otter"
	OtterPresent Lib = "otter GetIfPresent"
	OtterCoarse  Lib = "otter GetIfPresent, CoarseClock"
	RawRedis     Lib = "raw go-redis"
	RawBytes     Lib = "raw go-redis, bytes only"
	RawPipeline  Lib = "raw go-redis pipeline"
	Naive        Lib = "naive cache-aside"
	LRU          Lib = "LRU (golang-lru/v2)"
)

// stackOpts configure one library's client stack: what one process of a
// service would hold.
type stackOpts struct {
	env      *Env
	name     string // the stack's keys are under env.Prefix + name; stacks of one name share them
	memory   bool   // an in-process tier
	shared   bool   // the Redis tier
	capacity int    // entries of the in-process tier
	ttl      time.Duration
	lock     bool // hoard: a distributed lock (redis Locker)
	early    bool // early refresh: XFetch, sturdyc's early refreshes, otter's refresh-after-write
	src      *source
}

// stack is one library's client stack, seen through the calls the
// workloads make.
type stack struct {
	lib Lib
	// prefix starts the peers' keys: a key is prefix + id. hoard builds its
	// keys from the ids itself.
	prefix string
	// get reads id (key for the peers), loading it from the source on a miss.
	get func(ctx context.Context, id, key string) (Product, error)
	// getMany reads ids (keys) at once and says how many it got; nil when
	// the library has no batch read.
	getMany func(ctx context.Context, ids, keys []string) (int, error)
	close   func()
}

func (s *stack) key(id string) string { return s.prefix + id }

// newStack builds lib's stack.
func newStack(lib Lib, o stackOpts) (*stack, error) {
	if o.capacity == 0 {
		o.capacity = 10_000
	}
	if o.ttl == 0 {
		o.ttl = time.Hour
	}
	st := &stack{lib: lib, prefix: o.env.Prefix + o.name + ":", close: func() {}}
	switch lib {
	case Hoard, HoardNoLock:
		return st, hoardStack(st, o)
	case GoRedisCache:
		goRedisCacheStack(st, o)
	case Sturdyc:
		sturdycStack(st, o)
	case Otter, OtterPresent, OtterCoarse, OtterAgain:
		otterStack(st, o)
	case RawRedis, RawBytes, RawPipeline, Naive:
		rawStack(st, o)
	default:
		return nil, fmt.Errorf("compare: no stack for %q", lib)
	}
	return st, nil
}

func hoardStack(st *stack, o stackOpts) error {
	opts := hoard.AsideOptions[Product]{Name: o.env.Prefix + o.name, TTL: o.ttl}
	if o.early {
		opts.EarlyRefresh = &hoard.EarlyRefresh{}
	}
	var mem *memory.Cache[Product]
	if o.memory {
		var err error
		if mem, err = memory.New(&memory.Options[Product]{MaxEntries: o.capacity}); err != nil {
			return err
		}
		opts.Memory = mem
	}
	if o.shared {
		client := o.env.Client()
		shared, err := hoardredis.New[Product](client, nil)
		if err != nil {
			return err
		}
		opts.Shared = shared
		if o.lock && st.lib == Hoard {
			locker, err := hoardredis.NewLocker(client, &hoardredis.LockerOptions{Prefix: o.env.Prefix + "lock:"})
			if err != nil {
				return err
			}
			opts.Stampede = &hoard.Stampede{Locker: locker}
		}
	}
	a, err := hoard.NewAside(&opts)
	if err != nil {
		return err
	}
	loader := hoard.LoaderFunc[Product](o.src.load)
	batch := hoard.BatchLoaderFunc[Product](o.src.loadMany)
	st.get = func(ctx context.Context, id, _ string) (Product, error) { return a.Get(ctx, id, loader) }
	st.getMany = func(ctx context.Context, ids, _ []string) (int, error) {
		m, err := a.GetMany(ctx, ids, batch)
		return len(m), err
	}
	st.close = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Close(ctx)
		if mem != nil {
			_ = mem.Close()
		}
	}
	return nil
}

func goRedisCacheStack(st *stack, o stackOpts) {
	opts := &gocache.Options{}
	if o.shared {
		opts.Redis = o.env.Client()
	}
	if o.memory {
		opts.LocalCache = gocache.NewTinyLFU(o.capacity, o.ttl)
	}
	c := gocache.New(opts)
	st.get = func(ctx context.Context, id, key string) (Product, error) {
		var p Product
		err := c.Once(&gocache.Item{
			Ctx: ctx, Key: key, Value: &p, TTL: o.ttl,
			Do: func(*gocache.Item) (any, error) { return o.src.load(ctx, id) },
		})
		return p, err
	}
	// No batch read: go-redis/cache has none.
}

func sturdycStack(st *stack, o stackOpts) {
	var opts []sturdyc.Option
	if o.early {
		// Refresh in the background 70–80% into the TTL; a record is never
		// older than the TTL, so no refresh is synchronous; retries back
		// off from a tenth of the TTL.
		opts = append(opts, sturdyc.WithEarlyRefreshes(o.ttl*7/10, o.ttl*8/10, o.ttl, o.ttl/10))
	}
	if o.shared {
		opts = append(opts, sturdyc.WithDistributedStorage(&redisStorage{client: o.env.Client(), ttl: o.ttl}))
	}
	c := sturdyc.New[Product](o.capacity, 10, o.ttl, 10, opts...)
	st.get = func(ctx context.Context, id, key string) (Product, error) {
		return c.GetOrFetch(ctx, key, func(ctx context.Context) (Product, error) { return o.src.load(ctx, id) })
	}
	keyFn := func(id string) string { return st.prefix + id }
	st.getMany = func(ctx context.Context, ids, _ []string) (int, error) {
		m, err := c.GetOrFetchBatch(ctx, ids, keyFn, o.src.loadMany)
		return len(m), err
	}
}

// redisStorage is sturdyc's DistributedStorage on go-redis, as its README
// shows one: the user's to write, TTL included.
type redisStorage struct {
	client *goredis.Client
	ttl    time.Duration
}

func (r *redisStorage) Get(ctx context.Context, key string) ([]byte, bool) {
	b, err := r.client.Get(ctx, key).Bytes()
	return b, err == nil
}

func (r *redisStorage) Set(ctx context.Context, key string, value []byte) {
	r.client.Set(ctx, key, value, r.ttl)
}

func (r *redisStorage) GetBatch(ctx context.Context, keys []string) map[string][]byte {
	vals, err := r.client.MGet(ctx, keys...).Result()
	out := make(map[string][]byte, len(keys))
	if err != nil {
		return out
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[keys[i]] = []byte(s)
		}
	}
	return out
}

func (r *redisStorage) SetBatch(ctx context.Context, records map[string][]byte) {
	_, _ = r.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for k, v := range records {
			p.Set(ctx, k, v, r.ttl)
		}
		return nil
	})
}

func otterStack(st *stack, o stackOpts) {
	opts := &otter.Options[string, Product]{
		MaximumSize:      o.capacity,
		ExpiryCalculator: otter.ExpiryWriting[string, Product](o.ttl),
	}
	if o.early {
		opts.RefreshCalculator = otter.RefreshWriting[string, Product](o.ttl * 8 / 10)
	}
	stopClock := func() {}
	if st.lib == OtterCoarse {
		// The clock hoard's memory tier reads by default: the time read
		// once a millisecond (see memory.Options.ExpiryResolution).
		clock := otter.NewCoarseClock(time.Millisecond)
		opts.Clock, stopClock = clock, clock.Stop
	}
	c := otter.Must(opts)
	prefix := st.prefix
	loader := otter.LoaderFunc[string, Product](func(ctx context.Context, key string) (Product, error) {
		return o.src.load(ctx, strings.TrimPrefix(key, prefix))
	})
	bulk := otter.BulkLoaderFunc[string, Product](func(ctx context.Context, keys []string) (map[string]Product, error) {
		o.src.calls.Add(1)
		out := make(map[string]Product, len(keys))
		for _, k := range keys {
			out[k] = makeProduct(strings.TrimPrefix(k, prefix))
		}
		return out, nil
	})
	st.get = func(ctx context.Context, _, key string) (Product, error) { return c.Get(ctx, key, loader) }
	if st.lib == OtterPresent || st.lib == OtterCoarse {
		st.get = func(ctx context.Context, _, key string) (Product, error) {
			if p, ok := c.GetIfPresent(key); ok {
				return p, nil
			}
			return c.Get(ctx, key, loader)
		}
	}
	st.getMany = func(ctx context.Context, _, keys []string) (int, error) {
		m, err := c.BulkGet(ctx, keys, bulk)
		return len(m), err
	}
	st.close = func() {
		c.StopAllGoroutines()
		stopClock()
	}
}

// rawStack is go-redis by hand: GET and JSON; on a miss, load and SET (the
// naive cache-aside). The raw rows read keys the naive path wrote.
func rawStack(st *stack, o stackOpts) {
	client := o.env.Client()
	naive := func(ctx context.Context, id, key string) (Product, error) {
		var p Product
		b, err := client.Get(ctx, key).Bytes()
		if err == nil {
			err = json.Unmarshal(b, &p)
			return p, err
		}
		if !errors.Is(err, goredis.Nil) {
			return p, err
		}
		if p, err = o.src.load(ctx, id); err != nil {
			return p, err
		}
		if b, err = json.Marshal(p); err != nil {
			return p, err
		}
		return p, client.Set(ctx, key, b, o.ttl).Err()
	}
	st.get = naive
	switch st.lib {
	case RawBytes:
		st.get = func(ctx context.Context, id, key string) (Product, error) {
			err := client.Get(ctx, key).Err()
			if errors.Is(err, goredis.Nil) {
				return naive(ctx, id, key)
			}
			return Product{}, err
		}
	case RawRedis:
		st.getMany = func(ctx context.Context, _, keys []string) (int, error) {
			vals, err := client.MGet(ctx, keys...).Result()
			if err != nil {
				return 0, err
			}
			n := 0
			for _, v := range vals {
				if s, ok := v.(string); ok {
					var p Product
					if err := json.Unmarshal([]byte(s), &p); err != nil {
						return n, err
					}
					n++
				}
			}
			return n, nil
		}
	case RawPipeline:
		st.getMany = func(ctx context.Context, _, keys []string) (int, error) {
			cmds := make([]*goredis.StringCmd, len(keys))
			_, err := client.Pipelined(ctx, func(p goredis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = p.Get(ctx, k)
				}
				return nil
			})
			if err != nil {
				return 0, err
			}
			n := 0
			for _, c := range cmds {
				b, err := c.Bytes()
				if err != nil {
					continue
				}
				var p Product
				if err := json.Unmarshal(b, &p); err != nil {
					return n, err
				}
				n++
			}
			return n, nil
		}
	case Naive:
		// No batch: the naive cache-aside reads the keys one by one.
		st.getMany = func(ctx context.Context, ids, keys []string) (int, error) {
			for i := range ids {
				if _, err := naive(ctx, ids[i], keys[i]); err != nil {
					return i, err
				}
			}
			return len(ids), nil
		}
	}
}
