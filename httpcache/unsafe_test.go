package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/hoard-cache/hoard/httpcache"
)

// versioned is a handler whose GET bodies carry a version that every
// successful unsafe request moves on; an unsafe request's answer is the
// status and headers given to it.
type versioned struct {
	version atomic.Int64
	renders atomic.Int64
	status  int      // of unsafe answers; 0 for 200
	header  []string // pairs set on unsafe answers
}

func (v *versioned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		v.renders.Add(1)
		fmt.Fprintf(w, "%s?%s v%d", r.URL.Path, r.URL.RawQuery, v.version.Load())
		return
	}
	for i := 0; i+1 < len(v.header); i += 2 {
		w.Header().Set(v.header[i], v.header[i+1])
	}
	status := v.status
	if status == 0 {
		status = http.StatusOK
	}
	if status < 400 {
		v.version.Add(1)
	}
	w.WriteHeader(status)
}

// expectCached fails unless GET target is a HIT; expectFresh unless it is
// a MISS rendering the current version.
func expectCached(t *testing.T, h http.Handler, target string) {
	t.Helper()
	if res := get(t, h, target); res.header.Get("X-Cache") != "HIT" {
		t.Errorf("GET %s: X-Cache %q, want HIT (body %q)", target, res.header.Get("X-Cache"), res.body)
	}
}

func expectFresh(t *testing.T, h http.Handler, v *versioned, target string) {
	t.Helper()
	res := get(t, h, target)
	want := fmt.Sprintf("v%d", v.version.Load())
	if res.header.Get("X-Cache") != "MISS" || len(res.body) < len(want) || res.body[len(res.body)-len(want):] != want {
		t.Errorf("GET %s: X-Cache %q, body %q; want a MISS of %s", target, res.header.Get("X-Cache"), res.body, want)
	}
}

// warm caches every target and checks they are hits.
func warm(t *testing.T, h http.Handler, targets ...string) {
	t.Helper()
	for _, target := range targets {
		get(t, h, target)
		expectCached(t, h, target)
	}
}

// TestUnsafeInvalidatesTarget: a 2xx or 3xx answer to POST, PUT, PATCH or
// DELETE drops the target URI's stored response (exact mode: the key has
// no variant part), not that of a longer path; an error answer drops
// nothing.
func TestUnsafeInvalidatesTarget(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		v := &versioned{}
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(v)
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			warm(t, mw, "/p/1", "/p/10", "/p")
			do(t, mw, request(m, "/p/1")).expect(t, http.StatusOK, "BYPASS")
			expectFresh(t, mw, v, "/p/1")
			expectCached(t, mw, "/p/10")
			expectCached(t, mw, "/p")
		}
		for _, status := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusInternalServerError} {
			v.status = status
			do(t, mw, request(http.MethodPut, "/p/1")).expect(t, status, "BYPASS")
			expectCached(t, mw, "/p/1")
		}
		v.status = http.StatusSeeOther
		do(t, mw, request(http.MethodPost, "/p/1")).expect(t, http.StatusSeeOther, "BYPASS")
		expectFresh(t, mw, v, "/p/1")
		do(t, mw, request(http.MethodOptions, "/p/1"))
		expectCached(t, mw, "/p/1") // OPTIONS is safe
	})
}

// TestUnsafeInvalidatesEveryVariant: every query, locale and Vary variant
// of the target goes, with an Invalidator (the URI's tag) and without
// one (a prefix delete); a path that extends the target's stays.
func TestUnsafeInvalidatesEveryVariant(t *testing.T) {
	for _, mode := range []string{"tag", "prefix"} {
		t.Run(mode, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, f *fixture) {
				if mode == "tag" {
					f.aside.Invalidator = f.inv // its stamps go with the fixture's tag clock
				}
				v := &versioned{}
				lang := func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Vary", "Accept-Language")
					v.ServeHTTP(w, r)
				}
				c := newCache(t, httpcache.Options{Aside: f.aside, Key: httpcache.Key{
					Query:  []string{"page"},
					Vary:   []string{"Accept-Language"},
					Locale: func(r *http.Request) string { return r.Header.Get("X-Locale") },
				}})
				mw := c.Middleware(http.HandlerFunc(lang))
				targets := []string{"/list", "/list?page=1", "/list?page=2", "/listing?page=1", "/list/7"}
				warm(t, mw, targets...)
				for _, h := range [][]string{{"X-Locale", "fr"}, {"Accept-Language", "de"}} {
					get(t, mw, "/list?page=1", h...)
					if res := get(t, mw, "/list?page=1", h...); res.header.Get("X-Cache") != "HIT" {
						t.Fatalf("variant %v: X-Cache %q", h, res.header.Get("X-Cache"))
					}
				}
				do(t, mw, request(http.MethodDelete, "/list?page=9")).expect(t, http.StatusOK, "BYPASS")
				for _, target := range targets[:3] {
					expectFresh(t, mw, v, target)
				}
				for _, h := range [][]string{{"X-Locale", "fr"}, {"Accept-Language", "de"}} {
					if res := get(t, mw, "/list?page=1", h...); res.header.Get("X-Cache") != "MISS" {
						t.Errorf("variant %v after DELETE: X-Cache %q, want MISS", h, res.header.Get("X-Cache"))
					}
				}
				expectCached(t, mw, "/listing?page=1")
				expectCached(t, mw, "/list/7")
			})
		})
	}
}

// TestUnsafeInvalidatesLocation: the Location and Content-Location of the
// answer go too when on the request's host (relative or absolute), not
// when on another host.
func TestUnsafeInvalidatesLocation(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		v := &versioned{status: http.StatusCreated, header: []string{
			"Location", "7", // relative to /items/new
			"Content-Location", "http://EXAMPLE.com/items/8?view=full",
		}}
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(v)
		warm(t, mw, "/items/new", "/items/7", "/items/8", "/items/9")
		do(t, mw, request(http.MethodPost, "/items/new")).expect(t, http.StatusCreated, "BYPASS")
		for _, target := range []string{"/items/new", "/items/7", "/items/8"} {
			expectFresh(t, mw, v, target)
		}
		expectCached(t, mw, "/items/9")

		v.header = []string{"Location", "http://elsewhere.example/items/9", "Content-Location", "//elsewhere.example/items/9"}
		do(t, mw, request(http.MethodPost, "/items/new")).expect(t, http.StatusCreated, "BYPASS")
		expectCached(t, mw, "/items/9")
	})
}

// TestUnsafeInvalidatesBeforeAnswering: the stored response is gone
// before the answer's status goes out (so a client that saw the answer
// cannot get the old page), also when the handler writes nothing or only
// a body, flushes, or its client has left.
func TestUnsafeInvalidatesBeforeAnswering(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		var mw http.Handler
		var version atomic.Int64
		var sawHit atomic.Bool
		handlers := map[string]func(w http.ResponseWriter){
			"WriteHeader": func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) },
			"Write":       func(w http.ResponseWriter) { fmt.Fprint(w, "done") },
			"Flush":       func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() },
			"nothing":     func(http.ResponseWriter) {},
		}
		mw = newCache(t, httpcache.Options{Aside: f.aside}).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				fmt.Fprintf(w, "v%d", version.Load())
				return
			}
			version.Add(1)
			handlers[r.Header.Get("X-Do")](w)
			if _, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok {
				t.Error("the unsafe request's ResponseWriter has no Unwrap")
			}
			// After the status: another client must already miss.
			if r.Header.Get("X-Do") != "nothing" && get(t, mw, "/doc").header.Get("X-Cache") == "HIT" {
				sawHit.Store(true)
			}
		}))
		for name := range handlers {
			warm(t, mw, "/doc")
			req := request(http.MethodPut, "/doc", "X-Do", name)
			if name == "nothing" {
				ctx, cancel := context.WithCancel(req.Context())
				cancel() // the client left: the invalidation still runs
				req = req.WithContext(ctx)
			}
			do(t, mw, req)
			if sawHit.Load() {
				t.Errorf("%s: a GET after the status was sent was a HIT", name)
			}
			if res := get(t, mw, "/doc"); res.body != fmt.Sprintf("v%d", version.Load()) {
				t.Errorf("%s: GET after the PUT: %q (%s), want v%d", name, res.body, res.header.Get("X-Cache"), version.Load())
			}
		}
	})
}
