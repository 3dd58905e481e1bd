package main

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"

	"github.com/hoard-cache/hoard/stores/postgres/changefeed"
)

// The change feed: on PostgreSQL, every instance follows the products
// table's committed changes (logical replication, see the changefeed
// package), so a row changed from outside the service (psql, a migration,
// another program) stops being served everywhere, as a PUT's change does.
// Its invalidations go through this instance's Aside and Invalidator:
// deleted in Redis, then published on the bus, so every instance's memory
// tier and page caches hear them. Every instance runs the feed; one at a
// time consumes the slot, the others queue on its lease and take over when
// it stops.

// productsNamespace is the namespace of every cache built from the
// products table: the data caches and the page caches. Bumping it makes
// them all unreachable at once, which the feed does when its slot is new
// (what changed before the slot is unknown).
const productsNamespace = "products"

// feedConfig is what the feed follows and where its invalidations go.
type feedConfig struct {
	url    string // the PostgreSQL database, by a role allowed to replicate
	prefix string // the service's prefix: with table, the slot's name
	table  string
	caches *caches
	log    *slog.Logger
}

// newFeed maps the products table's changes to the caches: the product's id
// (the product cache, GET /products/{id} and GET /products?ids=), its page
// tag (the product page and the batch pages listing it) and the category
// tags of the old and the new row (the category lists and their pages).
// The table's REPLICA IDENTITY FULL (newRepo) puts the old row's category
// in an UPDATE and a DELETE.
func newFeed(cfg feedConfig) (*changefeed.Feed, error) {
	c := cfg.caches
	inv := c.svc.Invalidator()
	return changefeed.New(changefeed.Options{
		ConnString: cfg.url,
		Slot:       slotName(cfg.prefix, cfg.table),
		Tables: []changefeed.Table{{
			Name: cfg.table,
			IDs:  func(r changefeed.Row) []string { return []string{r["id"]} },
			Tags: productRowTags,
		}},
		Sink: changefeed.SinkFuncs{
			Delete:         c.products.Delete,  // Redis, then every instance's memory over the bus
			InvalidateTags: inv.InvalidateTags, // lists and pages, on every instance
			FlushAll: func(ctx context.Context) error {
				_, err := inv.BumpNamespace(ctx, productsNamespace)
				return err
			},
		},
		Logger: cfg.log,
	})
}

// productRowTags are the tags of what shows a row: the pages of the
// product, and the category list (and its page) it is in. A row with no
// category column (an Update's old row without REPLICA IDENTITY FULL) has
// only the first.
func productRowTags(r changefeed.Row) []string {
	tags := []string{productTag(r["id"])}
	if c, ok := r["category"]; ok {
		tags = append(tags, categoryTag(c))
	}
	return tags
}

// maxSlotName is PostgreSQL's limit on a name (NAMEDATALEN - 1).
const maxSlotName = 63

// slotName derives the replication slot's name (also the publication's
// and the lease's) from the service's prefix and the table, so two
// services, or one service's two tables, on one server never share a
// slot: lower case, every character but a-z, 0-9 and _ made a _, and a
// name too long for PostgreSQL cut, with a hash of the whole.
func slotName(prefix, table string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '_'
	}, prefix+"_"+table)
	if len(name) <= maxSlotName {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("%s_%08x", name[:maxSlotName-9], h.Sum32())
}

// feedRunner runs a feed in the background until stop.
type feedRunner struct {
	feed   *changefeed.Feed
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startFeed runs feed until the runner stops. Its errors (the database
// gone, the lease lost) are logged by the feed, which reconnects.
func startFeed(feed *changefeed.Feed) *feedRunner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &feedRunner{feed: feed, cancel: cancel}
	r.wg.Go(func() {
		// Run returns only ctx's error, when stop cancels it.
		_ = feed.Run(ctx)
	})
	return r
}

// stop stops the feed and waits for it: the lease passes to the next
// instance in line.
func (r *feedRunner) stop() {
	r.cancel()
	r.wg.Wait()
}

// checkLogicalReplication fails, before the feed starts, on a server
// that cannot serve it: the feed needs wal_level = logical, which only a
// restart sets (scripts/pg-logical.sh does it, with the pg_hba.conf line
// for replication connections).
func checkLogicalReplication(ctx context.Context, db *sql.DB) error {
	var level string
	if err := db.QueryRowContext(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return fmt.Errorf("change feed: read wal_level: %w", err)
	}
	if level != "logical" {
		return fmt.Errorf("change feed: PostgreSQL's wal_level is %q, the feed needs logical: set it with scripts/pg-logical.sh (a restart), or run with -changefeed=false", level)
	}
	return nil
}
