package main

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	hoardredis "github.com/hoard-cache/hoard/backends/redis"
)

// caches are the service's caches, wired the way hoard recommends: one
// Aside per endpoint (or per family of endpoints reading the same rows),
// each with its own key builder, metrics name and policy, every one two
// tiers (this instance's memory in front of the Redis all instances
// share), kept coherent across instances by one bus and one invalidator.
type caches struct {
	bus *hoardredis.Bus
	inv *hoard.Invalidator

	// products serves GET /products/{id} (Get) and GET /products?ids=
	// (GetMany): the same rows under the same keys.
	products *hoard.Aside[Product]
	// categories serves GET /categories/{c}/products: a list per
	// category, tagged "category:<c>".
	categories *hoard.Aside[[]Product]
	// writes serves PUT /products/{id}: the table first, then both tiers
	// of products, here and, over the bus, everywhere.
	writes *hoard.WriteThrough[Product]

	// pages cache the GET endpoints' HTTP responses (pages.go), in front
	// of the data caches above.
	pages *pages

	closers []func(context.Context) error // in the order built; closed in reverse
}

// cacheConfig is what the caches are built on.
type cacheConfig struct {
	redis      goredis.UniversalClient
	prefix     string // of every key, lock and channel this service has in Redis
	instanceID string // this instance on the bus, unique among its peers
	recorder   hoard.Recorder
	store      hoard.Store[Product]
}

// categoryTag names the cached list of category c in tags; a change of
// any product in c invalidates it (see service.tag).
func categoryTag(c string) string { return "category:" + c }

func newCaches(ctx context.Context, cfg cacheConfig) (_ *caches, err error) {
	c := &caches{}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close(context.WithoutCancel(ctx)))
		}
	}()
	if c.bus, err = hoardredis.NewBus(cfg.redis, &hoardredis.BusOptions{
		Channel: cfg.prefix + ":bus", InstanceID: cfg.instanceID,
	}); err != nil {
		return nil, err
	}
	c.closers = append(c.closers, c.bus.Close)
	readyCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.bus.Ready(readyCtx); err != nil {
		return nil, err
	}
	counters, err := hoardredis.New[struct{}](cfg.redis, nil) // namespace versions and tag stamps
	if err != nil {
		return nil, err
	}
	if c.inv, err = hoard.NewInvalidator(hoard.InvalidatorOptions{
		Counter: counters, TagClock: counters, Bus: c.bus, NamespacePrefix: cfg.prefix + ":ns:",
	}); err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func(context.Context) error { return c.inv.Close() })
	locker, err := hoardredis.NewLocker(cfg.redis, cfg.prefix+":lock:")
	if err != nil {
		return nil, err
	}

	// GET /products/{id}: rows change rarely and are read a lot.
	c.products, err = newAside(c, cfg, "product", 10_000, hoard.AsideOptions[Product]{
		TTL:          10 * time.Minute, // each jittered by up to 10% (the default), so keys loaded together expire apart
		MemoryTTL:    30 * time.Second, // the most this memory tier may lag if a bus message is lost
		NegativeTTL:  time.Minute,      // an unknown id is a 404 from the cache for a minute
		EarlyRefresh: true,             // hot keys refresh in the background before they expire
		FailSafe:     time.Hour,        // the database down: serve the last value up to an hour old
		LoadTimeout:  2 * time.Second,  // a stuck query gives way to the fail-safe
		Locker:       locker,           // one load per key across all instances
		Bus:          c.bus,
		Invalidator:  c.inv,
	})
	if err != nil {
		return nil, err
	}
	// GET /categories/{c}/products: lists go stale when any member
	// changes; a PUT invalidates them by tag.
	c.categories, err = newAside(c, cfg, "category-products", 1_000, hoard.AsideOptions[[]Product]{
		TTL:         time.Minute,
		MemoryTTL:   10 * time.Second,
		FailSafe:    10 * time.Minute,
		LoadTimeout: 2 * time.Second,
		Locker:      locker,
		Bus:         c.bus,
		Invalidator: c.inv,
	})
	if err != nil {
		return nil, err
	}
	if c.writes, err = hoard.NewWriteThrough(hoard.WriteThroughOptions[Product]{Aside: c.products, Store: cfg.store}); err != nil {
		return nil, err
	}
	c.pages, err = newPages(c, cfg, locker)
	return c, err
}

// newAside builds the two-tier Aside named name (its metrics' name) on the
// options o: a memory tier bounded to maxEntries in front of Redis, and
// keys from a KeyBuilder of its own under the service's prefix, so no two
// endpoints ever share a key.
func newAside[V any](c *caches, cfg cacheConfig, name string, maxEntries int, o hoard.AsideOptions[V]) (*hoard.Aside[V], error) {
	keys, err := hoard.NewKeyBuilder(cfg.prefix+":"+name, nil)
	if err != nil {
		return nil, err
	}
	mem, err := memory.New(&memory.Options[V]{MaxEntries: maxEntries})
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func(context.Context) error { return mem.Close() })
	shared, err := hoardredis.New[V](cfg.redis, &hoardredis.Options{Codec: hoard.MsgPack})
	if err != nil {
		return nil, err
	}
	o.Name, o.Keys, o.Memory, o.Shared = name, keys, mem, shared
	o.Metrics = hoard.NewMetrics(name, cfg.recorder)
	a, err := hoard.NewAside(o)
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, a.Close)
	return a, nil
}

// Close closes the caches, then their memory tiers, the invalidator and
// the bus.
func (c *caches) Close(ctx context.Context) error {
	var errs []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		errs = append(errs, c.closers[i](ctx))
	}
	c.closers = nil
	return errors.Join(errs...)
}
