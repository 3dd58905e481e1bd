package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

func TestRebind(t *testing.T) {
	for _, c := range []struct {
		d        dialect
		in, want string
	}{
		{sqliteDialect, `SELECT a FROM t WHERE id = ? AND v < ?`, `SELECT a FROM t WHERE id = ? AND v < ?`},
		{postgresDialect, `SELECT a FROM t WHERE id = ? AND v < ?`, `SELECT a FROM t WHERE id = $1 AND v < $2`},
		{postgresDialect, `IN (?,?,?,?,?,?,?,?,?,?,?)`, `IN ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`},
		{postgresDialect, `SELECT 1`, `SELECT 1`},
	} {
		if got := c.d.rebind(c.in); got != c.want {
			t.Errorf("%s rebind(%q) = %q; want %q", c.d.driver, c.in, got, c.want)
		}
	}
}

func TestDescribeURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://postgres:secret@127.0.0.1:5432/test?sslmode=disable": "127.0.0.1:5432/test",
		"host=127.0.0.1 dbname=test password=secret":                     "(connection string not shown)",
	} {
		if got := describeURL(in); got != want {
			t.Errorf("describeURL(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestCatalogue runs the catalogue's queries and versioned writes on the
// embedded SQLite and, when HOARD_POSTGRES_URL is set, on PostgreSQL,
// where it also checks that Close drops the run's schema.
func TestCatalogue(t *testing.T) {
	dbs := map[string]string{"sqlite": ""}
	if u := os.Getenv("HOARD_POSTGRES_URL"); u != "" {
		dbs["postgres"] = u
	}
	for name, url := range dbs {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			const n = 1234 // more than one seed batch
			c, err := openCatalogue(ctx, url, runID(), n, time.Microsecond)
			if err != nil {
				t.Fatal(err)
			}
			closed := false
			defer func() {
				if !closed {
					_ = c.Close()
				}
			}()
			r, err := c.SlowReport(ctx)
			if err != nil || r.ID != n || r.Rev != 1 {
				t.Fatalf("SlowReport = %+v, %v; want %d rows at rev 1", r, err, n)
			}
			p, err := c.Product(ctx, "42")
			if err != nil || p.ID != 42 || p.Category != 42%categories || p.Name != "product 00042" {
				t.Fatalf("Product(42) = %+v, %v", p, err)
			}
			for _, id := range []string{"99999", "x'; DROP", ""} {
				if _, err := c.Product(ctx, id); !errors.Is(err, hoard.ErrNotFound) {
					t.Errorf("Product(%q): %v; want ErrNotFound", id, err)
				}
			}
			many, err := c.Products(ctx, []string{"1", "2", "99999", "nope"})
			if err != nil || len(many) != 2 || many["2"].ID != 2 {
				t.Fatalf("Products = %v, %v; want 1 and 2", many, err)
			}

			s := store{c}
			p.Price = 777
			if err := s.Save(ctx, "42", p, 10); err != nil {
				t.Fatal(err)
			}
			p.Price = 1 // an older version: ignored
			if err := s.WriteMany(ctx, []hoard.Write[Product]{{ID: "42", Value: p, Version: 9}, {ID: "43", Delete: true, Version: 5}}); err != nil {
				t.Fatal(err)
			}
			if got, _ := c.peek(ctx, "42"); got.Price != 777 {
				t.Errorf("price after an older write = %d; want 777", got.Price)
			}
			if _, err := c.peek(ctx, "43"); !errors.Is(err, hoard.ErrNotFound) {
				t.Errorf("43 after its delete: %v; want ErrNotFound", err)
			}
			if err := c.bump(ctx, "category = ?", 42%categories); err != nil {
				t.Fatal(err)
			}
			if got, _ := c.peek(ctx, "42"); got.Price != 778 || got.Rev != 2 {
				t.Errorf("after bump: %+v; want price 778, rev 2", got)
			}

			if url == "" {
				return
			}
			schema := c.schema
			closed = true
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("pgx", url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var left int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left != 0 {
				t.Errorf("schema %s outlived Close", schema)
			}
		})
	}
}
