package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hoard-cache/hoard"
)

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

// parseID turns a cache id into the id column's value. An id that is not
// a number names no product.
func parseID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("product %q: %w", id, hoard.ErrNotFound)
	}
	return n, nil
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
	n, err := parseID(id)
	if err != nil {
		return Product{}, err
	}
	p, err := scanProduct(c.db.QueryRowContext(ctx, c.sqlPeek, n))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("product %s: %w", id, hoard.ErrNotFound)
	}
	return p, err
}

// Products reads many rows in one query, for GetMany. Ids that name no
// product are left out of the answer.
func (c *catalogue) Products(ctx context.Context, ids []string) (map[string]Product, error) {
	c.queries.Add(1)
	if err := c.wait(ctx, c.latency); err != nil {
		return nil, err
	}
	args := make([]any, 0, len(ids))
	for _, id := range ids {
		if n, err := parseID(id); err == nil {
			args = append(args, n)
		}
	}
	out := make(map[string]Product, len(args))
	if len(args) == 0 {
		return out, nil
	}
	q := c.d.rebind(`SELECT ` + productColumns + ` FROM ` + c.table + ` WHERE id IN (?` + strings.Repeat(",?", len(args)-1) + `)`)
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
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
	// PostgreSQL sums bigints as numeric: cast the sum back.
	q := `SELECT COUNT(*), CAST(COALESCE(SUM(price), 0) AS ` + c.d.bigint + `), COALESCE(MAX(rev), 0) FROM ` + c.table
	err := c.db.QueryRowContext(ctx, q).Scan(&p.ID, &p.Price, &p.Rev)
	p.Name = "catalogue report"
	return p, err
}

// bump changes rows behind the caches' back, as an admin's SQL would:
// price and rev move on. where selects the rows, with ? placeholders.
func (c *catalogue) bump(ctx context.Context, where string, args ...any) error {
	_, err := c.db.ExecContext(ctx, c.d.rebind(`UPDATE `+c.table+` SET price = price + 1, rev = rev + 1 WHERE `+where), args...)
	return err
}
