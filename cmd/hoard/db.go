package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Product is a row of the demo's catalogue, and the value every cache of
// the demo holds.
type Product struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Category int    `json:"category"`
	Price    int64  `json:"price"` // in cents
	Rev      int64  `json:"rev"`   // bumped by every change the demo makes, to tell stale reads
}

// categories is how many categories the catalogue's products fall in; a
// product's category is its id modulo categories.
const categories = 50

// catalogue is the database behind every cache of the demo: an embedded
// SQLite in memory, or a schema of its own on a PostgreSQL server (--db).
// Each query first waits latency, as a query over the network to a busy
// database would, so caching visibly matters on either.
type catalogue struct {
	db      *sql.DB
	d       dialect
	table   string // the products table, qualified on PostgreSQL
	schema  string // PostgreSQL: this run's schema, dropped by Close
	desc    string // where the data lives, for the report
	latency time.Duration

	sqlPeek, sqlUpsert, sqlDelete string // rebound for d

	queries atomic.Int64 // read queries (Product, Products, SlowReport)
	writes  atomic.Int64 // write calls (Save, Delete, WriteMany)
}

// postgresConns bounds the demo's connections to a PostgreSQL server that
// others share.
const postgresConns = 10

// openCatalogue opens the catalogue and seeds it with n products: in an
// embedded SQLite when dbURL is "", else on the PostgreSQL server at
// dbURL, in a new schema named after run so that runs sharing a server
// never meet. Close drops that schema.
func openCatalogue(ctx context.Context, dbURL, run string, n int, latency time.Duration) (_ *catalogue, err error) {
	c := &catalogue{latency: latency}
	if dbURL == "" {
		c.d, c.table = sqliteDialect, "products"
		c.desc = "embedded SQLite in memory (--db or HOARD_POSTGRES_URL for PostgreSQL)"
		if c.db, err = sql.Open(c.d.driver, ":memory:"); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		// One connection: an in-memory SQLite database lives in its
		// connection. The simulated latency is waited outside it, so
		// queries still overlap.
		c.db.SetMaxOpenConns(1)
	} else {
		c.d, c.schema = postgresDialect, "hoard_demo_"+run
		c.table = c.schema + ".products"
		c.desc = fmt.Sprintf("PostgreSQL at %s, schema %s (dropped at exit)", describeURL(dbURL), c.schema)
		if c.db, err = sql.Open(c.d.driver, dbURL); err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		c.db.SetMaxOpenConns(postgresConns)
		c.db.SetMaxIdleConns(postgresConns)
	}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	c.sqlPeek = c.d.rebind(`SELECT ` + productColumns + ` FROM ` + c.table + ` WHERE id = ?`)
	c.sqlUpsert = c.d.rebind(`INSERT INTO ` + c.table + ` AS p (id, name, category, price, rev, version) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET name = excluded.name, category = excluded.category,
	price = excluded.price, rev = excluded.rev, version = excluded.version
	WHERE p.version < excluded.version`)
	c.sqlDelete = c.d.rebind(`DELETE FROM ` + c.table + ` WHERE id = ? AND version < ?`)
	if err := c.db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if c.schema != "" {
		if _, err := c.db.ExecContext(ctx, `CREATE SCHEMA `+c.schema); err != nil {
			c.schema = "" // not ours to drop
			return nil, fmt.Errorf("create schema: %w", err)
		}
	}
	if err := c.seed(ctx, n); err != nil {
		return nil, err
	}
	return c, nil
}

// seedBatch is how many rows one INSERT of the seed writes: 4 parameters
// each, well under both databases' limits on parameters.
const seedBatch = 500

func (c *catalogue) seed(ctx context.Context, n int) error {
	schema := `CREATE TABLE ` + c.table + ` (
		id ` + c.d.bigint + ` PRIMARY KEY, name TEXT NOT NULL, category INTEGER NOT NULL,
		price ` + c.d.bigint + ` NOT NULL, rev ` + c.d.bigint + ` NOT NULL, version ` + c.d.bigint + ` NOT NULL)`
	if _, err := c.db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for from := 0; from < n; from += seedBatch {
		rows := min(seedBatch, n-from)
		q := c.d.rebind(`INSERT INTO ` + c.table + ` (id, name, category, price, rev, version) VALUES (?, ?, ?, ?, 1, 0)` +
			strings.Repeat(`, (?, ?, ?, ?, 1, 0)`, rows-1))
		args := make([]any, 0, 4*rows)
		for id := from; id < from+rows; id++ {
			args = append(args, int64(id), fmt.Sprintf("product %05d", id), id%categories, 100+int64(id%9900))
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return tx.Commit()
}

// Close drops this run's PostgreSQL schema, if any, and closes the
// database.
func (c *catalogue) Close() error {
	var errs []error
	if c.schema != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.db.ExecContext(ctx, `DROP SCHEMA `+c.schema+` CASCADE`); err != nil {
			errs = append(errs, fmt.Errorf("drop schema %s: %w", c.schema, err))
		}
	}
	return errors.Join(append(errs, c.db.Close())...)
}
