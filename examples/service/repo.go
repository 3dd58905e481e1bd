package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hoard-cache/hoard"
)

// Product is a row of the products table, and what the caches hold.
type Product struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Category string `json:"category"`
	Price    int64  `json:"price_cents"`
}

// repo is the products table: the source of truth behind the caches. Its
// reads are the caches' loaders and its writes are a [hoard.Store], so a
// write-through keeps the table and the caches coherent.
type repo struct {
	db    *sql.DB
	d     dialect
	table string

	sqlByID, sqlByCategory, sqlUpsert, sqlDelete string

	queries atomic.Int64 // reads that reached the database
}

var _ hoard.Store[Product] = (*repo)(nil)

// newRepo makes the table (named table) if it is missing and seeds it
// with a few products if it is empty.
func newRepo(ctx context.Context, db *sql.DB, d dialect, table string) (*repo, error) {
	r := &repo{db: db, d: d, table: table}
	r.sqlByID = d.rebind(`SELECT id, name, category, price FROM ` + table + ` WHERE id = ?`)
	r.sqlByCategory = d.rebind(`SELECT id, name, category, price FROM ` + table + ` WHERE category = ? ORDER BY id LIMIT 100`)
	r.sqlUpsert = d.rebind(`INSERT INTO ` + table + ` AS p (id, name, category, price, version) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, category = excluded.category,
		price = excluded.price, version = excluded.version
		WHERE p.version < excluded.version`)
	r.sqlDelete = d.rebind(`DELETE FROM ` + table + ` WHERE id = ? AND version < ?`)
	ddl := []string{
		`CREATE TABLE IF NOT EXISTS ` + table + ` (id ` + d.bigint + ` PRIMARY KEY, name TEXT NOT NULL,
			category TEXT NOT NULL, price ` + d.bigint + ` NOT NULL, version ` + d.bigint + ` NOT NULL DEFAULT 0)`,
		`CREATE INDEX IF NOT EXISTS ` + strings.ReplaceAll(table, ".", "_") + `_category ON ` + table + ` (category)`,
	}
	if d.lockDDL != "" {
		ddl = append([]string{d.lockDDL}, ddl...)
	}
	if d.replicaIdentity != "" {
		// The change feed (changefeed.go) maps a row to the category
		// lists it is in. By default PostgreSQL's log carries only the
		// primary key of an UPDATE's or a DELETE's old row: FULL makes it
		// carry the whole row, so a product moved to another category, or
		// deleted, invalidates the list of the category it left.
		ddl = append(ddl, fmt.Sprintf(d.replicaIdentity, table))
	}
	if err := inTx(ctx, db, ddl); err != nil {
		return nil, fmt.Errorf("create table %s: %w", table, err)
	}
	return r, r.seed(ctx)
}

// inTx runs the statements in one transaction.
func inTx(ctx context.Context, db *sql.DB, statements []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, q := range statements {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// seedProducts are the products a new table starts with.
var seedProducts = []Product{
	{1, "Stovetop kettle", "kettles", 3900}, {2, "Electric kettle", "kettles", 5900},
	{3, "Gooseneck kettle", "kettles", 7400}, {4, "Cast iron teapot", "teapots", 6500},
	{5, "Glass teapot", "teapots", 2900}, {6, "Porcelain teapot", "teapots", 3500},
	{7, "Enamel mug", "mugs", 1200}, {8, "Stoneware mug", "mugs", 1800},
	{9, "Travel mug", "mugs", 2400}, {10, "Tea strainer", "accessories", 600},
}

func (r *repo) seed(ctx context.Context) error {
	q := r.d.rebind(`INSERT INTO ` + r.table + ` (id, name, category, price) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	for _, p := range seedProducts {
		if _, err := r.db.ExecContext(ctx, q, p.ID, p.Name, p.Category, p.Price); err != nil {
			return fmt.Errorf("seed %s: %w", r.table, err)
		}
	}
	return nil
}

func scanProduct(row interface{ Scan(...any) error }) (Product, error) {
	var p Product
	err := row.Scan(&p.ID, &p.Name, &p.Category, &p.Price)
	return p, err
}

// Load returns the product id, or an error wrapping hoard.ErrNotFound: the
// loader of GET /products/{id}.
func (r *repo) Load(ctx context.Context, id string) (Product, error) {
	r.queries.Add(1)
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return Product{}, fmt.Errorf("product %q: %w", id, hoard.ErrNotFound)
	}
	p, err := scanProduct(r.db.QueryRowContext(ctx, r.sqlByID, n))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("product %s: %w", id, hoard.ErrNotFound)
	}
	return p, err
}

// LoadMany returns the products of ids in one query; ids with no product
// are absent. The batch loader of GET /products?ids=.
func (r *repo) LoadMany(ctx context.Context, ids []string) (map[string]Product, error) {
	r.queries.Add(1)
	args := make([]any, 0, len(ids))
	for _, id := range ids {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			args = append(args, n)
		}
	}
	out := make(map[string]Product, len(args))
	if len(args) == 0 {
		return out, nil
	}
	q := r.d.rebind(`SELECT id, name, category, price FROM ` + r.table + ` WHERE id IN (?` + strings.Repeat(", ?", len(args)-1) + `)`)
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, err
		}
		out[strconv.FormatInt(p.ID, 10)] = p
	}
	return out, rows.Err()
}

// InCategory returns the first 100 products of category, by id: the loader
// of GET /categories/{c}/products.
func (r *repo) InCategory(ctx context.Context, category string) ([]Product, error) {
	r.queries.Add(1)
	rows, err := r.db.QueryContext(ctx, r.sqlByCategory, category)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Product{}
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Save upserts p as product id unless the row holds a newer version.
func (r *repo) Save(ctx context.Context, id string, p Product, version uint64) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return fmt.Errorf("product %q: not a number", id)
	}
	_, err = r.db.ExecContext(ctx, r.sqlUpsert, n, p.Name, p.Category, p.Price, int64(version))
	return err
}

// Delete removes product id unless the row holds a newer version.
func (r *repo) Delete(ctx context.Context, id string, version uint64) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil // no such product
	}
	_, err = r.db.ExecContext(ctx, r.sqlDelete, n, int64(version))
	return err
}
