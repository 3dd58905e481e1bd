package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	pageHits = `hoard_events_total{cache="page-product",event="hit",tier="memory"}`
	loads    = `hoard_events_total{cache="product",event="load",tier=""}`
)

func decodeJSON[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}

func TestSecondGetIsACacheHit(t *testing.T) {
	b := newBacking(t)
	_, srv := b.instance(t, "a")

	first := decodeJSON[Product](t, get(t, srv.URL+"/products/1", http.StatusOK))
	res := fetch(t, http.MethodGet, srv.URL+"/products/1", "")
	second := decodeJSON[Product](t, res.body)
	if first != seedProducts[0] || second != first {
		t.Fatalf("got %+v then %+v; want %+v twice", first, second, seedProducts[0])
	}
	if x := res.header.Get("X-Cache"); x != "HIT" {
		t.Errorf("second GET: X-Cache %q; want HIT, the page from the page cache", x)
	}
	if q := b.repo.queries.Load(); q != 1 {
		t.Errorf("%d queries for two GETs; want 1", q)
	}
	if hits := metric(t, srv, pageHits); hits != 1 {
		t.Errorf("%s = %v; want 1", pageHits, hits)
	}
	if n := metric(t, srv, loads); n != 1 {
		t.Errorf("%s = %v; want 1", loads, n)
	}
}

func TestUnknownIDIsNegativelyCached(t *testing.T) {
	b := newBacking(t)
	_, a := b.instance(t, "a")
	_, other := b.instance(t, "b")

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if code, body := do(t, http.MethodGet, a.URL+"/products/999", ""); code != http.StatusNotFound {
				t.Errorf("GET /products/999 on a: %d %s; want 404", code, body)
			}
		})
	}
	wg.Wait()
	for range 5 { // the other instance finds the "not found" in Redis
		get(t, other.URL+"/products/999", http.StatusNotFound)
	}
	for _, junk := range []string{"abc", "0", "-1", "007", "1e3"} { // never a key, never a query
		get(t, a.URL+"/products/"+junk, http.StatusNotFound)
	}
	if q := b.repo.queries.Load(); q != 1 {
		t.Errorf("%d queries for 25 GETs of an unknown id on two instances; want 1", q)
	}
	// The 404 is cached twice: as a page (the page cache stores 404s) and,
	// behind it, as a "not found" in the data cache.
	var cached float64
	for _, srv := range []*httptest.Server{a, other} {
		for _, series := range []string{
			`hoard_events_total{cache="product",event="negative_hit",tier="memory"}`,
			`hoard_events_total{cache="product",event="negative_hit",tier="shared"}`,
			`hoard_events_total{cache="page-product",event="hit",tier="memory"}`,
			`hoard_events_total{cache="page-product",event="hit",tier="shared"}`,
		} {
			cached += metric(t, srv, series)
		}
	}
	if cached == 0 {
		t.Error("no cache hit in the metrics for the unknown id")
	}
}

func TestGetMany(t *testing.T) {
	b := newBacking(t)
	_, srv := b.instance(t, "a")

	page := decodeJSON[productsPage](t, get(t, srv.URL+"/products?ids=3,1,2,1", http.StatusOK))
	if ids := pageIDs(page); !slices.Equal(ids, []int64{3, 1, 2}) || len(page.Missing) != 0 {
		t.Fatalf("ids=3,1,2,1: %+v; want 3, 1, 2 in that order, none missing", page)
	}
	page = decodeJSON[productsPage](t, get(t, srv.URL+"/products?ids=1,2,3,4,999", http.StatusOK))
	if ids := pageIDs(page); !slices.Equal(ids, []int64{1, 2, 3, 4}) || !slices.Equal(page.Missing, []string{"999"}) {
		t.Fatalf("ids=1,2,3,4,999: %+v; want 1-4 and 999 missing", page)
	}
	get(t, srv.URL+"/products?ids=4,999,2", http.StatusOK) // all cached, 999 as "not found"
	if q := b.repo.queries.Load(); q != 2 {
		t.Errorf("%d queries; want 2 (one batch per call with misses)", q)
	}
	many := make([]string, maxBatch+1)
	for i := range many {
		many[i] = strconv.Itoa(i + 1)
	}
	for _, bad := range []string{"", "1,x", "1,,2", strings.Join(many, ",")} {
		get(t, srv.URL+"/products?ids="+bad, http.StatusBadRequest)
	}
}

func pageIDs(p productsPage) []int64 {
	var ids []int64
	for _, p := range p.Products {
		ids = append(ids, p.ID)
	}
	return ids
}

// TestUpdateIsVisibleOnEveryInstance: a PUT on one instance reaches the
// memory tier of the other (over the bus) and the category lists of both
// (by tag), though each had the old values cached.
func TestUpdateIsVisibleOnEveryInstance(t *testing.T) {
	b := newBacking(t)
	_, a := b.instance(t, "a")
	_, other := b.instance(t, "b")
	inCategory := func(srv, category string) []int64 {
		var ids []int64
		for _, p := range decodeJSON[[]Product](t, get(t, srv+"/categories/"+category+"/products", http.StatusOK)) {
			ids = append(ids, p.ID)
		}
		return ids
	}
	for _, srv := range []string{a.URL, other.URL} { // the old values in every tier
		for range 2 {
			get(t, srv+"/products/2", http.StatusOK)
		}
		if ids := inCategory(srv, "kettles"); !slices.Contains(ids, 2) {
			t.Fatalf("kettles %v lacks 2", ids)
		}
		if ids := inCategory(srv, "teapots"); slices.Contains(ids, 2) {
			t.Fatalf("teapots %v has 2", ids)
		}
	}
	if hits := metric(t, other, pageHits); hits == 0 {
		t.Fatal("the other instance has product 2 in no memory tier: the test would prove nothing")
	}

	want := Product{ID: 2, Name: "Electric teapot", Category: "teapots", Price: 6100}
	code, body := do(t, http.MethodPut, a.URL+"/products/2", `{"name":"Electric teapot","category":"teapots","price_cents":6100}`)
	if code != http.StatusOK || decodeJSON[Product](t, body) != want {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if got := decodeJSON[Product](t, get(t, a.URL+"/products/2", http.StatusOK)); got != want {
		t.Errorf("the writer reads %+v; want %+v", got, want)
	}
	eventually(t, "the other instance reads the update", func() bool {
		return decodeJSON[Product](t, get(t, other.URL+"/products/2", http.StatusOK)) == want
	})
	for _, srv := range []string{a.URL, other.URL} {
		eventually(t, srv+": product 2 moved from the kettles to the teapots", func() bool {
			return !slices.Contains(inCategory(srv, "kettles"), 2) && slices.Contains(inCategory(srv, "teapots"), 2)
		})
	}
}

func TestPutRejectsBadInput(t *testing.T) {
	b := newBacking(t)
	_, srv := b.instance(t, "a")
	for _, c := range []struct {
		id, body string
		want     int
	}{
		{"1", `{"name":"x"`, http.StatusBadRequest},
		{"1", `{"name":"x","category":"mugs","price_cents":1,"colour":"red"}`, http.StatusBadRequest},
		{"1", `{"name":"","category":"mugs","price_cents":1}`, http.StatusBadRequest},
		{"1", `{"name":"x","category":"mugs","price_cents":-1}`, http.StatusBadRequest},
		{"01", `{"name":"x","category":"mugs","price_cents":1}`, http.StatusNotFound},
	} {
		if code, body := do(t, http.MethodPut, srv.URL+"/products/"+c.id, c.body); code != c.want {
			t.Errorf("PUT /products/%s %s: %d %s; want %d", c.id, c.body, code, body, c.want)
		}
	}
	if got := decodeJSON[Product](t, get(t, srv.URL+"/products/1", http.StatusOK)); got != seedProducts[0] {
		t.Errorf("product 1 is %+v after bad PUTs; want it unchanged", got)
	}
}

func TestMetricsExposeHoardSeries(t *testing.T) {
	b := newBacking(t)
	_, srv := b.instance(t, "a")
	get(t, srv.URL+"/products/1", http.StatusOK)
	get(t, srv.URL+"/categories/mugs/products", http.StatusOK)
	get(t, srv.URL+"/categories/mugs/products", http.StatusOK)
	body := get(t, srv.URL+"/metrics", http.StatusOK)
	for _, want := range []string{
		"# TYPE hoard_events_total counter",
		"# TYPE hoard_load_duration_seconds histogram",
		`hoard_load_duration_seconds_count{cache="product",outcome="ok"} 1`,
		`hoard_events_total{cache="page-category",event="hit",tier="memory"} 1`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
