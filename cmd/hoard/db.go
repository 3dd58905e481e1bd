package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the embedded database: pure Go, in memory

	"github.com/hoard-cache/hoard"
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

// catalogue is the embedded SQL database (SQLite, in memory) behind every
// cache of the demo. Each query first waits latency, as a query over the
// network to a real database would, so caching visibly matters.
type catalogue struct {
	db      *sql.DB
	latency time.Duration

	queries atomic.Int64 // read queries (Product, Products, SlowReport)
	writes  atomic.Int64 // write calls (Save, Delete, WriteMany)
}

// openCatalogue opens an in-memory database seeded with n products.
func openCatalogue(ctx context.Context, n int, latency time.Duration) (*catalogue, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// One connection: an in-memory SQLite database lives in its connection.
	// The simulated latency is waited outside it, so queries still overlap.
	db.SetMaxOpenConns(1)
	c := &catalogue{db: db, latency: latency}
	if err := c.seed(ctx, n); err != nil {
		_ = db.Close()
		return nil, err
	}
	return c, nil
}

func (c *catalogue) seed(ctx context.Context, n int) error {
	const schema = `CREATE TABLE products (
		id INTEGER PRIMARY KEY, name TEXT NOT NULL, category INTEGER NOT NULL,
		price INTEGER NOT NULL, rev INTEGER NOT NULL, version INTEGER NOT NULL)`
	if _, err := c.db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO products VALUES (?, ?, ?, ?, 1, 0)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for id := range n {
		if _, err := stmt.ExecContext(ctx, id, fmt.Sprintf("product %05d", id), id%categories, 100+int64(id%9900)); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return tx.Commit()
}

func (c *catalogue) Close() error { return c.db.Close() }

// wait is the simulated network and query time.
func (c *catalogue) wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

const productColumns = `id, name, category, price, rev`

func scanProduct(row interface{ Scan(...any) error }) (Product, error) {
	var p Product
	err := row.Scan(&p.ID, &p.Name, &p.Category, &p.Price, &p.Rev)
	return p, err
}

// Product is the query a cache-aside loads with: one row by id, counted.
func (c *catalogue) Product(ctx context.Context, id string) (Product, error) {
	c.queries.Add(1)
	if err := c.wait(ctx, c.latency); err != nil {
		return Product{}, err
	}
	return c.peek(ctx, id)
}

// peek reads a row without latency and without counting it: the demo's
// look at the truth, to tell stale reads.
func (c *catalogue) peek(ctx context.Context, id string) (Product, error) {
	p, err := scanProduct(c.db.QueryRowContext(ctx, `SELECT `+productColumns+` FROM products WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("product %s: %w", id, hoard.ErrNotFound)
	}
	return p, err
}

// Products reads many rows in one query, for GetMany.
func (c *catalogue) Products(ctx context.Context, ids []string) (map[string]Product, error) {
	c.queries.Add(1)
	if err := c.wait(ctx, c.latency); err != nil {
		return nil, err
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := `SELECT ` + productColumns + ` FROM products WHERE id IN (?` + strings.Repeat(",?", max(len(ids)-1, 0)) + `)`
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]Product, len(ids))
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, err
		}
		out[strconv.Itoa(p.ID)] = p
	}
	return out, rows.Err()
}

// SlowReport is an expensive query (an aggregate over the catalogue): ten
// times the latency of a row. The stampede and early-refresh scenarios
// cache it under a hot key.
func (c *catalogue) SlowReport(ctx context.Context) (Product, error) {
	c.queries.Add(1)
	if err := c.wait(ctx, 10*c.latency); err != nil {
		return Product{}, err
	}
	var p Product
	err := c.db.QueryRowContext(ctx, `SELECT COUNT(*), SUM(price), MAX(rev) FROM products`).Scan(&p.ID, &p.Price, &p.Rev)
	p.Name = "catalogue report"
	return p, err
}

// bump changes rows behind the caches' back, as an admin's SQL would:
// price and rev move on. where selects the rows.
func (c *catalogue) bump(ctx context.Context, where string, args ...any) error {
	_, err := c.db.ExecContext(ctx, `UPDATE products SET price = price + 1, rev = rev + 1 WHERE `+where, args...)
	return err
}

// store is the catalogue as a hoard.Store and BatchStore: writes apply
// only when newer than the row's version.
type store struct{ c *catalogue }

var _ hoard.BatchStore[Product] = store{}

func (s store) Load(ctx context.Context, id string) (Product, error) { return s.c.Product(ctx, id) }

const upsert = `INSERT INTO products (id, name, category, price, rev, version) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET name = excluded.name, category = excluded.category,
	price = excluded.price, rev = excluded.rev, version = excluded.version
	WHERE products.version < excluded.version`

func (s store) Save(ctx context.Context, id string, p Product, version uint64) error {
	s.c.writes.Add(1)
	if err := s.c.wait(ctx, s.c.latency); err != nil {
		return err
	}
	_, err := s.c.db.ExecContext(ctx, upsert, id, p.Name, p.Category, p.Price, p.Rev, int64(version))
	return err
}

func (s store) Delete(ctx context.Context, id string, version uint64) error {
	s.c.writes.Add(1)
	if err := s.c.wait(ctx, s.c.latency); err != nil {
		return err
	}
	_, err := s.c.db.ExecContext(ctx, `DELETE FROM products WHERE id = ? AND version < ?`, id, int64(version))
	return err
}

// WriteMany applies a batch in one transaction, for one latency.
func (s store) WriteMany(ctx context.Context, writes []hoard.Write[Product]) error {
	s.c.writes.Add(1)
	if err := s.c.wait(ctx, s.c.latency); err != nil {
		return err
	}
	tx, err := s.c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, w := range writes {
		if w.Delete {
			_, err = tx.ExecContext(ctx, `DELETE FROM products WHERE id = ? AND version < ?`, w.ID, int64(w.Version))
		} else {
			p := w.Value
			_, err = tx.ExecContext(ctx, upsert, w.ID, p.Name, p.Category, p.Price, p.Rev, int64(w.Version))
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}
