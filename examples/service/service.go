package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	hoardprom "github.com/hoard-cache/hoard/metrics/prometheus"
)

// service is one instance of the example: an HTTP API over the products
// table, its caches, and its metrics on /metrics. Every instance has its
// own memory tiers and Prometheus registry, and shares the database and
// Redis with its peers.
type service struct {
	repo     *repo
	caches   *caches
	registry *prometheus.Registry
	log      *slog.Logger
	handler  http.Handler
	feed     *feedRunner // nil unless serviceConfig.changeFeed

	categoryLoader hoard.Loader[[]Product]
}

// serviceConfig is what an instance runs on.
type serviceConfig struct {
	repo       *repo
	redis      goredis.UniversalClient
	prefix     string // of everything the service keeps in Redis; peers share it
	instanceID string // unique among the peers
	log        *slog.Logger
	// changeFeed, when set, is the PostgreSQL database (the repo's) whose
	// changes to the products table the instance follows (changefeed.go),
	// by a role allowed to replicate. Default "": no feed, only the
	// service's own writes invalidate.
	changeFeed string
	// tracking turns on Redis's server-assisted client-side caching
	// (hoardredis.ServiceOptions.Tracking): a write to the service's keys
	// in Redis by anything else evicts them from every memory tier.
	tracking bool
}

func newService(ctx context.Context, cfg serviceConfig) (*service, error) {
	s := &service{repo: cfg.repo, registry: prometheus.NewRegistry(), log: cfg.log}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := errors.Join(
		s.registry.Register(collectors.NewGoCollector()),
		s.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	); err != nil {
		return nil, err
	}
	rec, err := hoardprom.New(&hoardprom.Options{Registerer: s.registry})
	if err != nil {
		return nil, err
	}
	if s.caches, err = newCaches(ctx, cacheConfig{
		redis: cfg.redis, prefix: cfg.prefix, instanceID: cfg.instanceID, recorder: rec, store: cfg.repo,
		tracking: cfg.tracking,
	}); err != nil {
		return nil, err
	}
	if cfg.changeFeed != "" {
		feed, err := newFeed(feedConfig{url: cfg.changeFeed, prefix: cfg.prefix, table: cfg.repo.table, caches: s.caches, log: s.log})
		if err != nil {
			return nil, errors.Join(err, s.caches.Close(context.WithoutCancel(ctx)))
		}
		s.feed = startFeed(feed)
	}
	s.categoryLoader = hoard.LoaderFunc[[]Product](func(ctx context.Context, category string) ([]Product, error) {
		hoard.SetTags(ctx, categoryTag(category))
		return s.repo.InCategory(ctx, category)
	})
	s.handler = s.routes()
	return s, nil
}

// routes is the API, endpoint by endpoint.
func (s *service) routes() http.Handler {
	mux := http.NewServeMux()

	// The page caches (pages.go) wrap the GET handlers, each keyed on
	// what its page varies on, adding ETags and 304s; the handlers tag
	// their pages with what they show. PUT goes through the product
	// page's cache, which drops the page when the PUT succeeds; the PUT's
	// tag invalidations drop the lists and batches that show the product.
	pg := s.caches.pages
	mux.Handle("GET /products/{id}", pg.product.Middleware(http.HandlerFunc(s.getProduct)))
	mux.Handle("GET /products", pg.products.Middleware(http.HandlerFunc(s.getProducts)))
	mux.Handle("GET /categories/{category}/products", pg.category.Middleware(http.HandlerFunc(s.getCategory)))
	mux.Handle("PUT /products/{id}", pg.product.Middleware(http.HandlerFunc(s.putProduct)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	return mux
}

// ServeHTTP serves the API.
func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close stops the change feed, then the caches (the bus, the invalidator,
// background refreshes). The database and Redis client stay the caller's.
func (s *service) Close(ctx context.Context) error {
	if s.feed != nil {
		s.feed.stop()
	}
	return s.caches.Close(ctx)
}
