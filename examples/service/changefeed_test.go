package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-cache/hoard/stores/postgres/changefeed"
)

// feedURL returns HOARD_POSTGRES_URL when the server there can serve a
// change feed, and skips the test, saying why, when not.
func feedURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("HOARD_POSTGRES_URL")
	if url == "" {
		t.Skip("the change feed needs PostgreSQL: HOARD_POSTGRES_URL is unset")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch err := changefeed.Ready(ctx, url); {
	case errors.Is(err, changefeed.ErrNotReady):
		t.Skipf("the change feed needs a server set up for it (scripts/pg-logical.sh): %v", err)
	case err != nil:
		t.Fatalf("PostgreSQL at HOARD_POSTGRES_URL: %v", err)
	}
	return url
}

// dropSlot removes what the feeds of slot left on the server, once they
// stopped (changefeed.Drop: the slot, which would retain WAL forever, the
// publication and the feed's record of the slot); then checks the slot is
// gone.
func dropSlot(t *testing.T, url, slot string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := changefeed.Drop(ctx, url, slot); err != nil {
		t.Error(err)
		return
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Errorf("check slot %s: %v", slot, err)
		return
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&left); err != nil || left != 0 {
		t.Errorf("pg_replication_slots holds %d slots named %s after the cleanup (%v)", left, slot, err)
	}
}

// outsider is psql: a connection of its own to the service's database,
// changing the table behind the service's back.
func outsider(t *testing.T, url string) func(sql string, args ...any) time.Time {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	return func(sql string, args ...any) time.Time {
		t.Helper()
		tag, err := conn.Exec(ctx, sql, args...)
		if err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("%s: %v, %d rows", sql, err, tag.RowsAffected())
		}
		return time.Now() // committed: a statement outside a transaction commits before it returns
	}
}

// TestChangesFromOutsideReachEveryInstance: an UPDATE and a DELETE made by
// another connection (psql, say) reach the next read of three instances
// that had the rows cached, in memory and as pages: on the product's page,
// the batch page and the category pages of the category it left and of
// the one it joined.
func TestChangesFromOutsideReachEveryInstance(t *testing.T) {
	url := feedURL(t)
	b := newBacking(t)
	slot := slotName(b.prefix, b.repo.table)
	t.Cleanup(func() { dropSlot(t, url, slot) }) // after the instances stop: cleanups run last first
	var instances []string
	var feeds []*feedRunner
	for _, name := range []string{"a", "b", "c"} {
		svc, srv := b.instance(t, name, func(c *serviceConfig) { c.changeFeed = url })
		instances = append(instances, srv.URL)
		feeds = append(feeds, svc.feed)
	}
	stats := func() (flushes, txns uint64, active, repeats int) {
		for _, f := range feeds {
			s := f.feed.Stats()
			flushes, txns, repeats = flushes+s.Flushes, txns+s.Transactions, repeats+s.Repeats
			if s.Active {
				active++
			}
		}
		return
	}
	// The new slot's flush bumps the namespace: warming before it would
	// be undone.
	pollUntil(t, 30*time.Second, "a feed holding the lease, past the new slot's flush", func() bool {
		flushes, _, active, _ := stats()
		return flushes == 1 && active == 1
	})

	const batch = "/products?ids=2,3"
	cachedEverywhere(t, instances, "/products/2", "/products/3", batch, "/categories/kettles/products", "/categories/teapots/products")
	psql := outsider(t, url)
	categoryIDs := func(srv, category string) []int64 {
		var ids []int64
		for _, p := range decodeJSON[[]Product](t, get(t, srv+"/categories/"+category+"/products", http.StatusOK)) {
			ids = append(ids, p.ID)
		}
		return ids
	}

	// An UPDATE that renames, reprices and moves product 2 from the
	// kettles to the teapots.
	want := Product{ID: 2, Name: "Electric teapot", Category: "teapots", Price: 6100}
	committed := psql("UPDATE "+b.repo.table+" SET name = $1, price = $2, category = $3 WHERE id = 2", want.Name, want.Price, want.Category)
	updated := func(srv string) bool {
		teapots := decodeJSON[[]Product](t, get(t, srv+"/categories/teapots/products", http.StatusOK))
		return decodeJSON[Product](t, get(t, srv+"/products/2", http.StatusOK)) == want &&
			slices.Contains(decodeJSON[productsPage](t, get(t, srv+batch, http.StatusOK)).Products, want) &&
			!slices.Contains(categoryIDs(srv, "kettles"), 2) &&
			slices.Contains(teapots, want)
	}
	took := converge(t, instances, 10*time.Second, committed, "the UPDATE served", updated)
	t.Logf("UPDATE: from commit to every instance serving the new row: %v", took)
	// Applied again after the feed's Repeat (1s), then confirmed: the new
	// row stays.
	pollUntil(t, 10*time.Second, "the UPDATE's transaction applied twice", func() bool {
		_, txns, _, repeats := stats()
		return txns >= 1 && repeats == 0
	})
	for _, srv := range instances {
		if !updated(srv) {
			t.Errorf("%s: serves the old row again after the feed confirmed the UPDATE", srv)
		}
	}

	// A DELETE: product 3 (cached on its page, in the batch and in the
	// kettles) is gone everywhere.
	cachedEverywhere(t, instances, "/products/3", batch, "/categories/kettles/products")
	committed = psql("DELETE FROM " + b.repo.table + " WHERE id = 3")
	took = converge(t, instances, 10*time.Second, committed, "the DELETE served", func(srv string) bool {
		code, _ := do(t, http.MethodGet, srv+"/products/3", "")
		return code == http.StatusNotFound &&
			slices.Equal(decodeJSON[productsPage](t, get(t, srv+batch, http.StatusOK)).Missing, []string{"3"}) &&
			!slices.Contains(categoryIDs(srv, "kettles"), 3)
	})
	t.Logf("DELETE: from commit to every instance answering 404: %v", took)
	if _, _, active, _ := stats(); active != 1 {
		t.Errorf("%d feeds hold the lease; want 1, the others queued", active)
	}
}

func TestSlotName(t *testing.T) {
	for _, c := range []struct{ prefix, table, want string }{
		{"shop", "hoard_example_products", "shop_hoard_example_products"},
		{"Shop-EU", "public.products", "shop_eu_public_products"},
	} {
		if got := slotName(c.prefix, c.table); got != c.want {
			t.Errorf("slotName(%q, %q) = %q; want %q", c.prefix, c.table, got, c.want)
		}
	}
	long := slotName(strings.Repeat("p", 60), "products")
	if len(long) != maxSlotName || long == slotName(strings.Repeat("p", 60), "products2") {
		t.Errorf("a long name: %q (%d bytes); want %d bytes, told apart from its neighbour by a hash", long, len(long), maxSlotName)
	}
}
