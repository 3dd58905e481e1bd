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

	tagPrefix      string // the service's prefix, so its tags never meet another service's
	categoryLoader hoard.Loader[[]Product]
}

// serviceConfig is what an instance runs on.
type serviceConfig struct {
	repo       *repo
	redis      goredis.UniversalClient
	prefix     string // of everything the service keeps in Redis; peers share it
	instanceID string // unique among the peers
	log        *slog.Logger
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
	}); err != nil {
		return nil, err
	}
	s.tagPrefix = cfg.prefix + ":"
	s.categoryLoader = hoard.LoaderFunc[[]Product](func(ctx context.Context, category string) ([]Product, error) {
		hoard.SetTags(ctx, s.tag(category))
		return s.repo.InCategory(ctx, category)
	})
	s.handler = s.routes()
	return s, nil
}

// tag is the tag of the cached list of category c. Tag stamps live in
// Redis under names of their own, shared by every service on that Redis:
// the service's prefix keeps its tags apart.
func (s *service) tag(c string) string { return s.tagPrefix + categoryTag(c) }

// routes is the API, endpoint by endpoint.
func (s *service) routes() http.Handler {
	mux := http.NewServeMux()

	// PAGE CACHE GOES HERE. HTTP response caching (package httpcache,
	// issue 7, being written) will wrap the three GET handlers below, each
	// with its own key builder and Cache-Control policy, adding ETags and
	// 304s, and PUT will purge the pages it changes. Until then the
	// handlers answer from the data caches (caches.go), which is where
	// most of the time goes anyway: rendering JSON is cheap next to a
	// query.
	mux.HandleFunc("GET /products/{id}", s.getProduct)
	mux.HandleFunc("GET /products", s.getProducts)
	mux.HandleFunc("GET /categories/{category}/products", s.getCategory)

	mux.HandleFunc("PUT /products/{id}", s.putProduct)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	return mux
}

// ServeHTTP serves the API.
func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close stops the caches (the bus, the invalidator, background refreshes).
// The database and Redis client stay the caller's.
func (s *service) Close(ctx context.Context) error { return s.caches.Close(ctx) }
