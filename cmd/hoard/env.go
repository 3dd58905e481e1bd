package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// env is the demo's world: one Redis (embedded unless given), one
// database, and several instances of a service sharing both.
type env struct {
	cfg       config
	mr        *miniredis.Miniredis // nil with a real Redis
	stopClock func()               // stops advancing mr's clock
	redisDesc string
	db        *catalogue
	run       string // prefixes names, so runs against one real Redis do not meet
	instances []*instance
}

// instance is one process of the service: its own Redis client, bus,
// invalidator and lock client. Each scenario builds its caches on it.
type instance struct {
	n      int
	client *goredis.Client
	bus    *hoardredis.Bus
	inv    *hoard.Invalidator
	locker *hoardredis.Locker
}

func newEnv(ctx context.Context, cfg config) (_ *env, err error) {
	e := &env{cfg: cfg, run: runID()}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	// clientOptions gives each instance's client its own options.
	var clientOptions func() (*goredis.Options, error)
	if cfg.redisAddr == "" {
		if e.mr, err = miniredis.Run(); err != nil {
			return nil, fmt.Errorf("start miniredis: %w", err)
		}
		e.redisDesc = "embedded miniredis at " + e.mr.Addr()
		e.stopClock = runClock(e.mr)
		clientOptions = func() (*goredis.Options, error) { return &goredis.Options{Addr: e.mr.Addr()}, nil }
	} else {
		clientOptions = func() (*goredis.Options, error) { return redisOptions(cfg.redisAddr) }
		o, err := clientOptions()
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		e.redisDesc = describeRedis(o)
		// Before the database is seeded: a Redis that does not answer is
		// said at once, in one line.
		if err := checkRedis(ctx, cfg.redisAddr); err != nil {
			return nil, err
		}
	}
	if e.db, err = openCatalogue(ctx, cfg.dbURL, e.run, cfg.products, cfg.latency); err != nil {
		return nil, err
	}
	for n := range cfg.instances {
		o, err := clientOptions()
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		in, err := newInstance(ctx, n, o, "hoard-demo:"+e.run+":")
		if in != nil {
			e.instances = append(e.instances, in)
		}
		if err != nil {
			return nil, fmt.Errorf("instance %d: %w", n, err)
		}
	}
	return e, nil
}

// newInstance connects instance n with o; prefix prefixes its bus channel
// and locks.
func newInstance(ctx context.Context, n int, o *goredis.Options, prefix string) (*instance, error) {
	in := &instance{n: n, client: goredis.NewClient(o)}
	if err := in.client.Ping(ctx).Err(); err != nil {
		return in, fmt.Errorf("redis at %s: %w", o.Addr, err)
	}
	var err error
	if in.bus, err = hoardredis.NewBus(in.client, &hoardredis.BusOptions{Channel: prefix + "bus", InstanceID: fmt.Sprintf("instance-%d", n)}); err != nil {
		return in, err
	}
	readyCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := in.bus.Ready(readyCtx); err != nil {
		return in, err
	}
	versions, err := hoardredis.New[Product](in.client, nil)
	if err != nil {
		return in, err
	}
	if in.inv, err = hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: versions, TagClock: versions, Bus: in.bus}); err != nil {
		return in, err
	}
	in.locker, err = hoardredis.NewLocker(in.client, &hoardredis.LockerOptions{Prefix: prefix + "lock:"})
	return in, err
}

// Close stops everything newEnv started, in reverse.
func (e *env) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if e.mr == nil && len(e.instances) > 0 {
		e.deleteKeys(ctx, e.instances[0].client)
	}
	for _, in := range e.instances {
		if in.inv != nil {
			_ = in.inv.Close()
		}
		if in.bus != nil {
			_ = in.bus.Close(ctx)
		}
		_ = in.client.Close()
	}
	if e.db != nil {
		_ = e.db.Close()
	}
	if e.stopClock != nil {
		e.stopClock()
	}
	if e.mr != nil {
		e.mr.Close()
	}
}

// deleteKeys removes what the run left in a real Redis: the keys of its
// caches (entries expire, version counters would not), its locks, the
// stamps of its tags and the counters of its namespaces. Best effort: the demo's result stands either way.
func (e *env) deleteKeys(ctx context.Context, client *goredis.Client) {
	for _, pattern := range []string{"demo-" + e.run + "-*", "hoard-demo:" + e.run + ":*", "{hoard:tags}:tag:demo-" + e.run + ":*", "hoard:ns:demo-" + e.run + "-*"} {
		iter := client.Scan(ctx, 0, pattern, 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 500 {
				client.Unlink(ctx, batch...)
				batch = batch[:0]
			}
		}
		if len(batch) > 0 {
			client.Unlink(ctx, batch...)
		}
	}
}

func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fleet is one cache, an Aside, on every instance; a scenario's caches.
type fleet struct {
	asides []*hoard.Aside[Product]
	closes []func(context.Context) error
}

// fleetOptions say how a scenario's fleet is built.
type fleetOptions struct {
	name       string
	maxEntries int // memory tier bound; default 10_000
	bus        bool
	locker     bool
	aside      hoard.AsideOptions[Product]
}

func (e *env) newFleet(o fleetOptions) (*fleet, error) {
	f := &fleet{}
	for _, in := range e.instances {
		mem, err := memory.New(&memory.Options[Product]{MaxEntries: o.maxEntries})
		if err != nil {
			return f, err
		}
		f.closes = append(f.closes, func(context.Context) error { return mem.Close() })
		shared, err := hoardredis.New[Product](in.client, &hoardredis.Options{Codec: hoard.MsgPack})
		if err != nil {
			return f, err
		}
		ao := o.aside
		ao.Name = "demo-" + e.run + "-" + o.name
		ao.Memory, ao.Shared = mem, shared
		if o.bus {
			ao.Bus, ao.Invalidator = in.bus, in.inv
		}
		if o.locker {
			ao.Stampede = &hoard.Stampede{Locker: in.locker}
		}
		a, err := hoard.NewAside(&ao)
		if err != nil {
			return f, err
		}
		f.asides = append(f.asides, a)
		f.closes = append(f.closes, a.Close)
	}
	return f, nil
}

// Close closes the asides, then their memory tiers.
func (f *fleet) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for i := len(f.closes) - 1; i >= 0; i-- {
		errs = append(errs, f.closes[i](ctx))
	}
	return errors.Join(errs...)
}

// metrics sums the fleet's counts of ev at tier.
func (f *fleet) count(ev hoard.Event, tier hoard.Tier) int64 {
	var n int64
	for _, a := range f.asides {
		n += a.Metrics().Snapshot().Count(ev, tier)
	}
	return n
}

// settle waits until every instance's bus received every event the others
// published, then a little more for its handlers to apply them (the bus
// counts an event as received before it hands it to the caches). This is
// the propagation wait after which the demo counts a read as stale.
func (e *env) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		var published uint64
		stats := make([]hoardredis.BusStats, len(e.instances))
		for i, in := range e.instances {
			stats[i] = in.bus.Stats()
			published += stats[i].Published
		}
		caught := true
		for _, s := range stats {
			if s.Received < published-s.Published {
				caught = false
			}
		}
		if caught {
			break
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return fmt.Errorf("waiting for the bus: %w", err)
		}
	}
	return sleep(ctx, busGrace)
}

// busGrace is how long settle waits after the buses caught up.
const busGrace = 20 * time.Millisecond

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runClock makes mr expire keys as time passes, as a real Redis does:
// miniredis only moves its clock when told. It returns a stop function
// that returns once the goroutine has ended.
func runClock(mr *miniredis.Miniredis) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	})
	return sync.OnceFunc(func() {
		close(done)
		wg.Wait()
	})
}
