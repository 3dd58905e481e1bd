package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/httpcache"
)

// maxBatch bounds the ids of one GET /products?ids=.
const maxBatch = 100

// productID returns id when it is a product id in canonical form (a
// positive decimal number without leading zeros), so "7" and "007" never
// make two cache keys and junk never reaches the cache or the database.
func productID(id string) (string, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	return id, err == nil && n > 0 && strconv.FormatInt(n, 10) == id
}

// getProduct is GET /products/{id}: cache-aside, 404 for an unknown id
// (which the cache keeps for its negative TTL).
func (s *service) getProduct(w http.ResponseWriter, r *http.Request) {
	id, ok := productID(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such product")
		return
	}
	httpcache.Tag(r, productTag(id))
	p, err := s.caches.products.Get(r.Context(), id, s.repo)
	if !s.usable(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// productsPage is the answer of GET /products?ids=.
type productsPage struct {
	Products []Product `json:"products"` // in the order asked
	Missing  []string  `json:"missing"`  // ids with no product
}

// getProducts is GET /products?ids=1,2,3: one GetMany, so the cache is
// asked once per tier and the database once for all the ids it missed.
func (s *service) getProducts(w http.ResponseWriter, r *http.Request) {
	var ids []string
	seen := map[string]bool{}
	for part := range strings.SplitSeq(r.URL.Query().Get("ids"), ",") {
		id, ok := productID(strings.TrimSpace(part))
		if !ok {
			writeError(w, http.StatusBadRequest, "ids: want a comma-separated list of product ids")
			return
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) > maxBatch {
		writeError(w, http.StatusBadRequest, "ids: at most "+strconv.Itoa(maxBatch))
		return
	}
	for _, id := range ids {
		httpcache.Tag(r, productTag(id))
	}
	got, err := s.caches.products.GetMany(r.Context(), ids, s.repo)
	if !s.usable(w, err) {
		return
	}
	page := productsPage{Products: []Product{}, Missing: []string{}}
	for _, id := range ids {
		if p, ok := got[id]; ok {
			page.Products = append(page.Products, p)
		} else {
			page.Missing = append(page.Missing, id)
		}
	}
	writeJSON(w, http.StatusOK, page)
}

// getCategory is GET /categories/{category}/products: a cached list,
// tagged with its category so a PUT of any member invalidates it on every
// instance.
func (s *service) getCategory(w http.ResponseWriter, r *http.Request) {
	category := r.PathValue("category")
	if category == "" || len(category) > 64 {
		writeError(w, http.StatusNotFound, "no such category")
		return
	}
	httpcache.Tag(r, categoryTag(category))
	list, err := s.caches.categories.Get(r.Context(), category, s.categoryLoader)
	if !s.usable(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// productInput is the body of PUT /products/{id}.
type productInput struct {
	Name     string `json:"name"`
	Category string `json:"category"`
	Price    int64  `json:"price_cents"`
}

// putProduct is PUT /products/{id}: a write-through (the table, then both
// tiers here, then every instance's memory tier over the bus), and a tag
// invalidation of the lists of the categories the product leaves and
// joins.
func (s *service) putProduct(w http.ResponseWriter, r *http.Request) {
	id, ok := productID(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such product")
		return
	}
	var in productInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if in.Name == "" || in.Category == "" || len(in.Category) > 64 || in.Price < 0 {
		writeError(w, http.StatusBadRequest, "body: want a name, a category of at most 64 bytes and a price_cents ≥ 0")
		return
	}
	ctx := r.Context()
	// The row as the database holds it, not as a cache may: the category
	// whose list the product may be leaving.
	old, err := s.repo.Load(ctx, id)
	if err != nil && !errors.Is(err, hoard.ErrNotFound) {
		s.log.Error("put: read the row", "id", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	p := Product{ID: n, Name: in.Name, Category: in.Category, Price: in.Price}
	if err := s.caches.writes.Put(ctx, id, p); err != nil {
		if errors.Is(err, hoard.ErrStoreFailed) {
			s.log.Error("put: store", "id", id, "err", err)
			writeError(w, http.StatusServiceUnavailable, "database unavailable")
			return
		}
		// Stored, but the cache could not take the value, nor be
		// invalidated: readers may see the old one until MemoryTTL/TTL.
		s.log.Warn("put: stored, cache not updated", "id", id, "err", err)
	}
	// The lists of the categories the product joins and leaves, and the
	// pages showing it (its own page also goes as this PUT passes through
	// its page cache).
	tags := []string{categoryTag(p.Category), productTag(id)}
	if old.Category != "" && old.Category != p.Category {
		tags = append(tags, categoryTag(old.Category))
	}
	if err := s.caches.svc.Invalidator().InvalidateTags(ctx, tags...); err != nil {
		// Stored; the lists catch up within their TTL.
		s.log.Warn("put: invalidate category lists", "tags", tags, "err", err)
	}
	writeJSON(w, http.StatusOK, p)
}

// usable writes the error response for err and reports false, or reports
// true when the value that came with err may be served: no error, or a
// stale value the fail-safe served while the database failed.
func (s *service) usable(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, hoard.ErrServedStale):
		s.log.Warn("served stale", "err", err)
		w.Header().Set("X-Cache-Stale", "1")
		// A page of stale data is kept by the page cache for seconds,
		// not for its TTL.
		w.Header().Set("Cache-Control", "public, max-age=5")
		return true
	case errors.Is(err, hoard.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such product")
	default:
		s.log.Error("read", "err", err)
		writeError(w, http.StatusServiceUnavailable, "database unavailable")
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
