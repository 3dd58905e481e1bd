package main

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// caches are the service's caches, wired the way hoard recommends: one
// hoardredis.Service per instance (the Redis client, the bus, the locker
// and the invalidator, every Redis name derived from the service's
// prefix), then one call per endpoint (or per family of endpoints reading
// the same rows), each cache with its own name, keys, metrics and policy,
// every one two tiers: this instance's memory in front of the Redis all
// instances share.
type caches struct {
	svc *hoardredis.Service

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
	prefix     string // the service's name in Redis: every key, lock, channel and tag is under it
	instanceID string // this instance on the bus, unique among its peers
	recorder   hoard.Recorder
	store      hoard.Store[Product]
	tracking   bool // Redis's client-side caching tells the memory tiers of outside writes
}

// categoryTag names the cached list of category c in tags; a change of
// any product in c invalidates it. (The Service keeps two services' tags
// on one Redis apart.)
func categoryTag(c string) string { return "category:" + c }

func newCaches(ctx context.Context, cfg cacheConfig) (_ *caches, err error) {
	c := &caches{}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close(context.WithoutCancel(ctx)))
		}
	}()
	// The Service checks Redis at start-up (reachable, the password, the
	// ACL on the service's keys and channel, the bus subscribed): a
	// misconfigured Redis fails here, not as a cache that never hits.
	if c.svc, err = hoardredis.NewService(ctx, cfg.redis, cfg.prefix, &hoardredis.ServiceOptions{
		InstanceID: cfg.instanceID, Recorder: cfg.recorder, Codec: hoard.MsgPack, MemoryMaxEntries: 10_000,
		Tracking: cfg.tracking,
	}); err != nil {
		return nil, err
	}
	c.closers = append(c.closers, c.svc.Close) // closes the Asides it made, the bus and the invalidator

	// GET /products/{id}: rows change rarely and are read a lot.
	if c.products, err = hoardredis.NewAside(c.svc, "product", &hoard.AsideOptions[Product]{
		TTL:         10 * time.Minute,                                                        // each jittered by up to 10% (the default), so keys loaded together expire apart
		MemoryTTL:   30 * time.Second,                                                        // the most this memory tier may lag if a bus message is lost
		NegativeTTL: time.Minute,                                                             // an unknown id is a 404 from the cache for a minute
		FailSafe:    &hoard.FailSafe{Window: time.Hour}, EarlyRefresh: &hoard.EarlyRefresh{}, // hot keys refresh in the background before they expire
		// the database down: serve the last value up to an hour old
		LoadTimeout: 2 * time.Second, // a stuck query gives way to the fail-safe
		// the service's Locker: one load per key across all instances
		Namespace: productsNamespace, // the change feed's flush (changefeed.go)
	}); err != nil {
		return nil, err
	}
	// GET /categories/{c}/products: lists go stale when any member
	// changes; a PUT invalidates them by tag.
	if c.categories, err = hoardredis.NewAside(c.svc, "category-products", &hoard.AsideOptions[[]Product]{
		TTL:         time.Minute,
		MemoryTTL:   10 * time.Second,
		FailSafe:    &hoard.FailSafe{Window: 10 * time.Minute},
		LoadTimeout: 2 * time.Second,
		Namespace:   productsNamespace,
	}); err != nil {
		return nil, err
	}
	if c.writes, err = hoard.NewWriteThrough(&hoard.WriteThroughOptions[Product]{Aside: c.products, Store: cfg.store}); err != nil {
		return nil, err
	}
	c.pages, err = newPages(c, cfg)
	return c, err
}

// Close closes the page caches, then the Service (the data caches, their
// memory tiers, the invalidator and the bus).
func (c *caches) Close(ctx context.Context) error {
	var errs []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		errs = append(errs, c.closers[i](ctx))
	}
	c.closers = nil
	return errors.Join(errs...)
}
