package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/httpcache"
)

// One endpoint, cached per page: parameter order and unkeyed parameters
// do not matter; a conditional request gets a 304.
func Example() {
	mem, _ := memory.New[*httpcache.Response](nil)
	defer mem.Close()
	products, err := httpcache.New(&httpcache.Options{
		Aside:        hoard.AsideOptions[*httpcache.Response]{Name: "products", Memory: mem, TTL: time.Minute},
		Key:          httpcache.Key{Query: []string{"page", "sort"}},
		CacheControl: httpcache.CacheControl{Public: true, MaxAge: httpcache.For(time.Minute)},
	})
	if err != nil {
		panic(err)
	}
	defer products.Close(context.Background())

	renders := 0
	list := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		renders++ // a database query, in a real service
		fmt.Fprintf(w, "products page %s sorted by %s", r.URL.Query().Get("page"), r.URL.Query().Get("sort"))
	})
	mux := http.NewServeMux()
	mux.Handle("GET /products", products.Middleware(list))

	var etag string
	for _, target := range []string{"/products?page=1&sort=price", "/products?sort=price&page=1&utm_source=mail", "/products?page=2&sort=price"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		fmt.Println(rec.Code, rec.Header().Get("X-Cache"), rec.Body.String())
		etag = rec.Header().Get("ETag")
	}
	req := httptest.NewRequest(http.MethodGet, "/products?page=2&sort=price", nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("X-Cache"), rec.Header().Get("Cache-Control"))
	fmt.Println("renders:", renders)
	// Output:
	// 200 MISS products page 1 sorted by price
	// 200 HIT products page 1 sorted by price
	// 200 MISS products page 2 sorted by price
	// 304 HIT public, max-age=60
	// renders: 2
}

// A handler tags what it renders; invalidating the tag drops every page
// built from it.
func ExampleTag() {
	mem, _ := memory.New[*httpcache.Response](nil)
	defer mem.Close()
	inv, _ := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: mem, TagClock: mem})
	defer inv.Close()
	pages, _ := httpcache.New(&httpcache.Options{
		Aside: hoard.AsideOptions[*httpcache.Response]{Name: "pages", Memory: mem, Invalidator: inv},
	})
	defer pages.Close(context.Background())

	price := 10
	page := pages.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpcache.Tag(r, "product:42")
		fmt.Fprintf(w, "kettle: %d EUR", price)
	}))
	show := func() {
		rec := httptest.NewRecorder()
		page.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/product/42", nil))
		fmt.Println(rec.Header().Get("X-Cache"), rec.Body.String())
	}
	show()
	price = 12 // an UPDATE in the database...
	show()
	_ = inv.InvalidateTags(context.Background(), "product:42") // ...and its invalidation
	show()
	// Output:
	// MISS kettle: 10 EUR
	// HIT kettle: 10 EUR
	// MISS kettle: 12 EUR
}

// ETag alone, without storing: the handler runs every time, but an
// unchanged body costs the client no bytes.
func ExampleETag() {
	h := httpcache.ETag(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"id":42}`)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/42", nil))
	etag := rec.Header().Get("ETag")
	fmt.Println(rec.Code, etag)

	req := httptest.NewRequest(http.MethodGet, "/api/42", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.Len())
	// Output:
	// 200 "F7TbBk4X9IeOORF35spiOw"
	// 304 0
}

func ExampleCacheControl() {
	static := httpcache.CacheControl{Public: true, MaxAge: httpcache.For(365 * 24 * time.Hour), Immutable: true}
	fmt.Println(static)
	page := httpcache.CacheControl{Public: true, MaxAge: httpcache.For(time.Minute),
		SMaxAge: httpcache.For(10 * time.Minute), StaleWhileRevalidate: httpcache.For(30 * time.Second)}
	fmt.Println(page)
	fmt.Println(httpcache.ParseCacheControl("private, max-age=0").Private)
	// Output:
	// public, max-age=31536000, immutable
	// public, max-age=60, s-maxage=600, stale-while-revalidate=30
	// true
}

// A tag invalidation reaches the CDN too: the page leaves hoard's tiers
// first, then the CDN is purged by the same tag, which the page carried
// in its Surrogate-Key header.
func ExampleNewPurgingInvalidator() {
	mem, _ := memory.New[*httpcache.Response](nil)
	defer mem.Close()
	inv, _ := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: mem, TagClock: mem})
	defer inv.Close()
	pages, _ := httpcache.New(&httpcache.Options{
		Aside:           hoard.AsideOptions[*httpcache.Response]{Name: "pages", Memory: mem, Invalidator: inv},
		CacheControl:    httpcache.CacheControl{Public: true, NoCache: true},           // browsers revalidate
		CDNCacheControl: httpcache.CacheControl{MaxAge: httpcache.For(24 * time.Hour)}, // the CDN keeps it a day
		TagHeaders:      []httpcache.TagHeader{httpcache.SurrogateKey},
	})
	defer pages.Close(context.Background())
	page := pages.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpcache.Tag(r, "product:42")
		fmt.Fprint(w, "kettle")
	}))
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/product/42", nil))
	fmt.Println(rec.Header().Get("Surrogate-Key"), "|", rec.Header().Get("Cache-Control"), "|", rec.Header().Get("CDN-Cache-Control"))

	// In production: httpcache.NewFastlyPurger or NewCloudflarePurger.
	cdn := httpcache.PurgerFunc(func(ctx context.Context, tags ...string) error {
		fmt.Println("CDN purge:", tags)
		return nil
	})
	purging, _ := httpcache.NewPurgingInvalidator(&httpcache.PurgingOptions{Invalidator: inv, Purgers: []httpcache.Purger{cdn}})
	_ = purging.InvalidateTags(context.Background(), "product:42")
	// Output:
	// product:42 | public, no-cache | max-age=86400
	// CDN purge: [product:42]
}

type traceID struct{}

// The render of a stored page sees none of the caller's ctx values but
// those RenderContext carries over: here a trace id, not the user an auth
// middleware put there.
func ExampleCarryValues() {
	mem, _ := memory.New[*httpcache.Response](nil)
	defer mem.Close()
	pages, _ := httpcache.New(&httpcache.Options{
		Aside:         hoard.AsideOptions[*httpcache.Response]{Name: "pages", Memory: mem},
		RenderContext: httpcache.CarryValues(traceID{}),
	})
	defer pages.Close(context.Background())
	type user struct{}
	page := pages.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("render: trace %v, user %v\n", r.Context().Value(traceID{}), r.Context().Value(user{}))
		fmt.Fprint(w, "home")
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req = req.WithContext(context.WithValue(context.WithValue(req.Context(), traceID{}, "4bf92f35"), user{}, "alice"))
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, req)
	fmt.Println(rec.Header().Get("Cache-Status"))
	// Output:
	// render: trace 4bf92f35, user <nil>
	// hoard; fwd=miss; stored; ttl=300
}
