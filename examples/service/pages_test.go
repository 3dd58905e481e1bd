package main

import (
	"net/http"
	"slices"
	"testing"
)

// TestPageETagsAnd304s: a page comes with an ETag, the same on every
// instance (the page is shared through Redis), and a GET with
// If-None-Match gets a 304 without a body, from the cache.
func TestPageETagsAnd304s(t *testing.T) {
	b := newBacking(t)
	_, a := b.instance(t, "a")
	_, other := b.instance(t, "b")
	for _, path := range []string{"/products/1", "/products?ids=1,2", "/categories/kettles/products"} {
		first := fetch(t, http.MethodGet, a.URL+path, "")
		etag := first.header.Get("Etag")
		if first.status != http.StatusOK || etag == "" {
			t.Fatalf("GET %s: %d, ETag %q", path, first.status, etag)
		}
		if cc := first.header.Get("Cache-Control"); cc != "public, no-cache" {
			t.Errorf("GET %s: Cache-Control %q; want public, no-cache (browsers revalidate)", path, cc)
		}
		for _, srv := range []string{a.URL, other.URL} {
			res := fetch(t, http.MethodGet, srv+path, "", "If-None-Match", etag)
			if res.status != http.StatusNotModified || res.body != "" || res.header.Get("X-Cache") != "HIT" {
				t.Errorf("GET %s%s with If-None-Match: %d %s %q; want a 304 HIT without a body", srv, path, res.status, res.header.Get("X-Cache"), res.body)
			}
		}
	}
	if q := b.repo.queries.Load(); q != 3 {
		t.Errorf("%d queries; want 3, one per page", q)
	}
}

// TestPutChangesPagesOnEveryInstance: after a PUT on one instance, the
// product's page, a batch page showing it and the category pages it
// leaves and joins change on both instances, with new ETags: the PUT
// passes through the product page's cache, which drops the page, and its
// tag invalidations drop the others.
func TestPutChangesPagesOnEveryInstance(t *testing.T) {
	b := newBacking(t)
	_, a := b.instance(t, "a")
	_, other := b.instance(t, "b")
	paths := []string{"/products/2", "/products?ids=1,2", "/categories/kettles/products", "/categories/teapots/products"}
	etags := map[string]string{}
	for _, path := range paths {
		for _, srv := range []string{a.URL, other.URL} {
			fetch(t, http.MethodGet, srv+path, "")
			res := fetch(t, http.MethodGet, srv+path, "")
			if res.header.Get("X-Cache") != "HIT" {
				t.Fatalf("GET %s%s: X-Cache %q; want HIT before the PUT", srv, path, res.header.Get("X-Cache"))
			}
			etags[path] = res.header.Get("Etag")
		}
	}
	put := fetch(t, http.MethodPut, a.URL+"/products/2", `{"name":"Electric teapot","category":"teapots","price_cents":6100}`)
	if put.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", put.status, put.body)
	}
	want := Product{ID: 2, Name: "Electric teapot", Category: "teapots", Price: 6100}
	for _, srv := range []string{a.URL, other.URL} {
		eventually(t, srv+": the pages change, with new ETags", func() bool {
			for _, path := range paths {
				res := fetch(t, http.MethodGet, srv+path, "", "If-None-Match", etags[path])
				if res.status != http.StatusOK || res.header.Get("Etag") == etags[path] {
					return false
				}
			}
			return true
		})
		if got := decodeJSON[Product](t, get(t, srv+"/products/2", http.StatusOK)); got != want {
			t.Errorf("%s: product 2 is %+v; want %+v", srv, got, want)
		}
		if page := decodeJSON[productsPage](t, get(t, srv+"/products?ids=1,2", http.StatusOK)); !slices.Contains(page.Products, want) {
			t.Errorf("%s: ids=1,2 is %+v; want it to show %+v", srv, page, want)
		}
	}
	// On the writer, the product's page is new at once: the PUT's answer
	// came after its page was dropped.
	if res := fetch(t, http.MethodGet, a.URL+"/products/2", "", "If-None-Match", etags["/products/2"]); res.status != http.StatusOK {
		t.Errorf("the writer answers %d to the old ETag; want 200", res.status)
	}
}
