// Command service is a small HTTP API over a products table, with hoard
// wired in the way its README recommends: per endpoint, each with its own
// key builder and policy, two tiers (memory in front of Redis), coherent
// across instances, with metrics for Prometheus on /metrics.
//
//	GET /products/{id}                  cache-aside; 404s cached too
//	GET /products?ids=1,2,3             GetMany: one query for all misses
//	PUT /products/{id}                  write-through; every instance sees it
//	GET /categories/{category}/products lists, invalidated by tag
//	GET /metrics                        Prometheus
//
// It runs on PostgreSQL when HOARD_POSTGRES_URL is set, else SQLite (in
// memory, or the file given by -sqlite), and on the Redis at
// HOARD_REDIS_ADDR, else an in-process miniredis. See README.md.
//
// On PostgreSQL every instance follows the products table's change feed
// (changefeed.go): an UPDATE or DELETE run with psql, or by any other
// program, reaches every instance's next read, as a PUT does. The feed
// reads the logical replication stream, so the server needs
// wal_level = logical (a restart), a pg_hba.conf line that lets the role
// open replication connections, and a role allowed to replicate (the
// REPLICATION attribute, or a superuser); scripts/pg-logical.sh sets up
// a local server so. The instance fails to start when wal_level is not
// logical; -changefeed=false turns the feed off.
//
// -redis-tracking turns on Redis's server-assisted client-side caching:
// turn it on when something other than the service writes or deletes its
// keys in Redis (redis-cli, a script, another service warming the cache),
// so every memory tier drops them at once rather than within its
// MemoryTTL. It needs Redis 6 or later (not the in-process miniredis).
// Changes to the database need no tracking: the change feed covers them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// options are the command's settings.
type options struct {
	addr        string
	sqlitePath  string
	table       string
	prefix      string
	instanceID  string
	postgresURL string
	redisAddr   string
	changeFeed  bool // follow the table's changes, on PostgreSQL
	tracking    bool // Redis's client-side caching
}

func main() {
	var o options
	host, _ := os.Hostname()
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "`address` to listen on")
	flag.StringVar(&o.sqlitePath, "sqlite", "", "SQLite database `file`, to share it between instances (default: in memory); unused with HOARD_POSTGRES_URL")
	flag.StringVar(&o.table, "table", "hoard_example_products", "the products `table`, created and seeded when missing")
	flag.StringVar(&o.prefix, "prefix", "shop", "`prefix` of the service's keys, locks, bus channel and tags in Redis")
	flag.StringVar(&o.instanceID, "instance", fmt.Sprintf("%s-%d", host, os.Getpid()), "this instance's `id` on the invalidation bus")
	flag.BoolVar(&o.changeFeed, "changefeed", true, "on PostgreSQL, follow the table's changes made by anyone (needs wal_level = logical: scripts/pg-logical.sh)")
	flag.BoolVar(&o.tracking, "redis-tracking", false, "evict keys from the memory tiers when anything writes them in Redis (Redis 6+, CLIENT TRACKING)")
	flag.Parse()
	o.postgresURL, o.redisAddr = os.Getenv("HOARD_POSTGRES_URL"), os.Getenv("HOARD_REDIS_ADDR")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		slog.Error("service", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, o options) error {
	db, d, dbDesc, err := openDB(o.postgresURL, o.sqlitePath)
	if err != nil {
		return err
	}
	defer db.Close()
	redisAddr, redisDesc := o.redisAddr, "Redis at "+o.redisAddr
	if redisAddr == "" {
		mr, stopRedis, err := startMiniredis()
		if err != nil {
			return err
		}
		defer stopRedis()
		redisAddr, redisDesc = mr.Addr(), "in-process miniredis (set HOARD_REDIS_ADDR to share one between instances)"
	}
	client := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	defer client.Close()

	repo, err := newRepo(ctx, db, d, o.table)
	if err != nil {
		return err
	}
	cfg := serviceConfig{repo: repo, redis: client, prefix: o.prefix, instanceID: o.instanceID, tracking: o.tracking}
	feedDesc := "off"
	if o.postgresURL != "" && o.changeFeed {
		if err := checkLogicalReplication(ctx, db); err != nil {
			return err
		}
		cfg.changeFeed, feedDesc = o.postgresURL, "slot "+slotName(o.prefix, o.table)
	}
	svc, err := newService(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Close(cctx)
	}()

	srv := &http.Server{Addr: o.addr, Handler: svc, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	slog.Info("serving", "addr", "http://"+o.addr, "database", dbDesc, "table", o.table, "redis", redisDesc, "instance", o.instanceID,
		"changefeed", feedDesc, "redis-tracking", o.tracking)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
