package main

import (
	"context"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/httpcache"
)

// pages are the HTTP response caches of the GET endpoints, one per
// endpoint, each with its own key: the rendered JSON, its ETag and the
// 304s of conditional requests, in this instance's memory in front of
// Redis, like the data caches they sit in front of. Every page is tagged
// with what it was built from, so the tag invalidations of a PUT, and of
// the change feed (changefeed.go) for a change made outside the service,
// drop the pages along with the data.
type pages struct {
	// product is GET /products/{id}, keyed on the path alone. PUT
	// /products/{id} passes through it too: its success drops the page
	// (RFC 9111 §4.4).
	product *httpcache.Cache
	// products is GET /products?ids=, keyed on the ids parameter (any
	// other parameter is dropped before the handler sees it), tagged with
	// every product it lists.
	products *httpcache.Cache
	// category is GET /categories/{c}/products, keyed on the path, tagged
	// with the category, the tag that the cached list has too.
	category *httpcache.Cache
}

// pagePolicy is the Cache-Control of every page: shared caches may store
// it, and browsers revalidate it on every use, which the page cache
// answers with a 304 while the page is current, so a client sees a
// change at once and downloads a page only when it changed.
var pagePolicy = httpcache.CacheControl{Public: true, NoCache: true}

// productTag names the pages showing product id.
func productTag(id string) string { return "product:" + id }

func newPages(c *caches, cfg cacheConfig) (*pages, error) {
	p := &pages{}
	var err error
	if p.product, err = newPageCache(c, cfg, "page-product", httpcache.Key{}); err != nil {
		return nil, err
	}
	if p.products, err = newPageCache(c, cfg, "page-products", httpcache.Key{Query: []string{"ids"}}); err != nil {
		return nil, err
	}
	p.category, err = newPageCache(c, cfg, "page-category", httpcache.Key{})
	return p, err
}

// newPageCache builds the page cache named name (its metrics' name) with
// key: two tiers, keys under the service's prefix, and the Service's bus,
// invalidator and locker, those of the data caches. (httpcache builds its
// own Aside from the options, so the pieces come from the Service.)
func newPageCache(c *caches, cfg cacheConfig, name string, key httpcache.Key) (*httpcache.Cache, error) {
	keys, err := hoard.NewKeyBuilder(c.svc.App()+":"+name, nil)
	if err != nil {
		return nil, err
	}
	mem, err := memory.New(&memory.Options[*httpcache.Response]{
		MaxEntries: 10_000,
		MaxBytes:   64 << 20,
		Weigher:    func(_ string, r *httpcache.Response) int { return r.Size() },
	})
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func(context.Context) error { return mem.Close() })
	shared, err := hoardredis.New[*httpcache.Response](cfg.redis, nil)
	if err != nil {
		return nil, err
	}
	pc, err := httpcache.New(&httpcache.Options{
		Aside: hoard.AsideOptions[*httpcache.Response]{
			Name: name, Keys: keys, Memory: mem, Shared: shared,
			TTL:       time.Minute,                                                                                  // pages are cheap to render from the data caches
			MemoryTTL: 10 * time.Second,                                                                             // the most a page lags if a bus message is lost
			FailSafe:  &hoard.FailSafe{Window: 10 * time.Minute}, Stampede: &hoard.Stampede{Locker: c.svc.Locker()}, // a 5xx (database down, data cache empty): the last page
			// one render per page across all instances
			Bus:         c.svc.CacheBus(), // the bus, and with -redis-tracking the Tracker's reports
			Invalidator: c.svc.Invalidator(),
			Namespace:   productsNamespace, // the change feed's flush (changefeed.go)
			Metrics:     hoard.NewMetrics(name, cfg.recorder),
		},
		Key:          key,
		CacheControl: pagePolicy,
	})
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, pc.Close)
	return pc, nil
}
