package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/httpcache"
)

// The HTTP scenario's service: on every instance, a product page endpoint
// (GET /products/{id}, HTML or, with ?format=json, JSON) rendered from the
// catalogue, behind httpcache middleware on a two-tier Aside (the
// instance's memory in front of the shared Redis, with the instance's bus,
// invalidator and lock), served over loopback by an httptest.Server.

// pageHost is the Host every client sends, whichever instance it reaches,
// as behind a load balancer: the host is part of a page's key, so the
// instances share pages through Redis.
const pageHost = "shop.demo"

// pageFleet is the page service on every instance.
type pageFleet struct {
	caches  []*httpcache.Cache
	servers []*httptest.Server
	closes  []func() error
	renders atomic.Int64 // handler runs, each one database query
}

// pageTag is the tag of the pages showing product id; the run's name
// keeps it apart from other runs' on a shared Redis (see env.deleteKeys).
func (e *env) pageTag(id string) string { return "demo-" + e.run + ":product:" + id }

// newPageFleet starts the page service on every instance.
func (e *env) newPageFleet() (*pageFleet, error) {
	f := &pageFleet{}
	for _, in := range e.instances {
		mem, err := memory.New(&memory.Options[*httpcache.Response]{
			MaxEntries: e.cfg.products,
			Weigher:    func(_ string, r *httpcache.Response) int { return r.Size() },
		})
		if err != nil {
			return f, err
		}
		f.closes = append(f.closes, mem.Close)
		shared, err := hoardredis.New[*httpcache.Response](in.client, nil)
		if err != nil {
			return f, err
		}
		c, err := httpcache.New(&httpcache.Options{
			Aside: hoard.AsideOptions[*httpcache.Response]{
				Name: "demo-" + e.run + "-pages", Memory: mem, Shared: shared, TTL: 10 * time.Minute,
				Bus: in.bus, Invalidator: in.inv, Stampede: &hoard.Stampede{Locker: in.locker},
			},
			Key: httpcache.Key{Query: []string{"format"}},
			// Browsers keep the page and revalidate it on every use.
			CacheControl: httpcache.CacheControl{Public: true, NoCache: true},
		})
		if err != nil {
			return f, err
		}
		f.caches = append(f.caches, c)
		f.closes = append(f.closes, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return c.Close(ctx)
		})
		mux := http.NewServeMux()
		mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) { e.servePage(w, r, &f.renders) })
		srv := httptest.NewServer(c.Middleware(mux))
		f.servers = append(f.servers, srv)
		f.closes = append(f.closes, func() error { srv.Close(); return nil })
	}
	return f, nil
}

// Close stops the servers, then the caches and their memory tiers.
func (f *pageFleet) Close() error {
	var errs []error
	for i := len(f.closes) - 1; i >= 0; i-- {
		errs = append(errs, f.closes[i]())
	}
	return errors.Join(errs...)
}

// servePage renders a product's page from the database (one query, with
// the simulated latency) and tags it with the product.
func (e *env) servePage(w http.ResponseWriter, r *http.Request, renders *atomic.Int64) {
	renders.Add(1)
	id := r.PathValue("id")
	p, err := e.db.Product(r.Context(), id)
	switch {
	case errors.Is(err, hoard.ErrNotFound):
		http.NotFound(w, r)
		return
	case err != nil:
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	httpcache.Tag(r, e.pageTag(id))
	if r.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTemplate.Execute(w, p)
}

// pageTemplate is a product page of about 1.5 kB: the revision is in
// data-rev, where the clients read it.
var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"money": func(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Name}} · hoard shop</title>
<link rel="stylesheet" href="/assets/shop.css"></head>
<body><header><a href="/">hoard shop</a> › <a href="/categories/{{.Category}}">category {{.Category}}</a></header>
<main class="product" data-id="{{.ID}}" data-rev="{{.Rev}}">
<h1>{{.Name}}</h1><p class="price">€{{money .Price}}</p>
<p>` + strings.Repeat("A fine product, cached as a page with its ETag, revalidated by browsers with If-None-Match. ", 12) + `</p>
</main><footer>revision {{.Rev}}</footer></body></html>
`))

// pageRev reads a page's revision: "rev" in JSON, data-rev in HTML; -1
// when the body has none.
func pageRev(body []byte) int64 {
	s := string(body)
	for _, marker := range []string{`"rev":`, `data-rev="`} {
		i := strings.Index(s, marker)
		if i < 0 {
			continue
		}
		digits := s[i+len(marker):]
		n := 0
		for n < len(digits) && n < 18 && digits[n] >= '0' && digits[n] <= '9' {
			n++
		}
		if rev, err := strconv.ParseInt(digits[:n], 10, 64); err == nil {
			return rev
		}
	}
	return -1
}
