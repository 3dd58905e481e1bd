package httpcache_test

import (
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing/fstest"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/assets"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/httpcache"
)

// localeOf is the README's locale of a request: its first Accept-Language.
func localeOf(r *http.Request) string {
	if l := r.Header.Get("Accept-Language"); len(l) >= 2 {
		return l[:2]
	}
	return "en"
}

// renderProduct is the README's product page.
func renderProduct(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "product %s (%s)", r.PathValue("id"), httpcache.LocaleOf(r))
}

// readme:begin http
// routes adds the product pages, cached, and the static assets, hashed.
func routes(mux *http.ServeMux, pageMem, pageRedis hoard.Cache[*httpcache.Response], locker hoard.Locker, inv *hoard.Invalidator, static fs.FS) (*template.Template, error) {
	pages, err := httpcache.New(&httpcache.Options{
		Aside: hoard.AsideOptions[*httpcache.Response]{
			Name: "product-page", Memory: pageMem, Shared: pageRedis, Invalidator: inv, TTL: 5 * time.Minute,
			FailSafe: &hoard.FailSafe{Window: time.Hour}, Stampede: &hoard.Stampede{Locker: locker}, EarlyRefresh: &hoard.EarlyRefresh{},
		},
		Key:             httpcache.Key{Query: []string{"page", "sort"}, Locale: localeOf},         // nothing else reaches the handler
		CacheControl:    httpcache.CacheControl{Public: true, MaxAge: httpcache.For(time.Minute)}, // fresh 1 min, here too
		CDNCacheControl: httpcache.CacheControl{MaxAge: httpcache.For(time.Hour)},                 // the CDN's own (RFC 9213)
		TagHeaders:      []httpcache.TagHeader{httpcache.SurrogateKey},                            // tags for Fastly's purge
	})
	if err != nil {
		return nil, err
	}
	mux.Handle("GET /products/{id}", pages.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpcache.Tag(r, "product:"+r.PathValue("id")) // inv.InvalidateTags(ctx, "product:42") drops the page and its ETag
		renderProduct(w, r)
	})))

	set, err := assets.Build(static, nil) // or `hoard assets build static` ahead of time
	if err != nil {
		return nil, err
	}
	mux.Handle("/static/", set)                                                          // hashed names: max-age=31536000, immutable
	return template.New("page").Funcs(set.FuncMap()).Parse(`{{ asset "css/site.css" }}`) // → /static/css/site.3f2a9c1e.css
}

// readme:end

// The README's HTTP edges: a cached product page and hashed assets.
func Example_routes() {
	pageMem, err := memory.New[*httpcache.Response](nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pageMem.Close()
	inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: pageMem, TagClock: pageMem})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer inv.Close()
	static := fstest.MapFS{"css/site.css": {Data: []byte("body { color: teal }")}}
	mux := http.NewServeMux()
	// A second process would share pageRedis (a hoardredis.Cache) and a
	// hoardredis.Locker; one process needs neither.
	tmpl, err := routes(mux, pageMem, nil, &hoard.LocalLocker{}, inv, static)
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 2 {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/products/42", nil))
		fmt.Println(rec.Header().Get("X-Cache"), rec.Body.String())
	}
	if err := inv.InvalidateTags(context.Background(), "product:42"); err != nil {
		fmt.Println(err)
		return
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/products/42", nil))
	fmt.Println(rec.Header().Get("X-Cache"), "after the tag's invalidation")
	var page strings.Builder
	if err := tmpl.Execute(&page, nil); err != nil {
		fmt.Println(err)
		return
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, page.String(), nil))
	fmt.Println(rec.Code, rec.Header().Get("Cache-Control"))
	// Output:
	// MISS product 42 (en)
	// HIT product 42 (en)
	// MISS after the tag's invalidation
	// 200 public, max-age=31536000, immutable
}
