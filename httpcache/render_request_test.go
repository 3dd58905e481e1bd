package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/httpcache"
)

// proxyHeaders is a common proxy-headers middleware: it trusts
// X-Forwarded-Proto for the scheme.
func proxyHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
			r.URL.Scheme = p
		}
		next.ServeHTTP(w, r)
	})
}

// One "X-Forwarded-Proto: http" request must not store an https redirect
// that every https client then gets (a redirect loop for all): the
// scheme is keyed, and the render sees the keyed one.
func TestSchemeFromProxyMiddlewareIsKeyed(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Scheme != "https" {
				http.Redirect(w, r, "https://"+r.Host+r.URL.Path, http.StatusMovedPermanently)
				return
			}
			fmt.Fprintf(w, "page over %s, TLS %v", r.URL.Scheme, r.TLS != nil)
		})
		mw := proxyHeaders(newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h))
		plain := get(t, mw, "http://shop.example/p", "X-Forwarded-Proto", "http")
		plain.expect(t, http.StatusMovedPermanently, "MISS")
		secure := get(t, mw, "http://shop.example/p", "X-Forwarded-Proto", "https")
		secure.expect(t, http.StatusOK, "MISS")
		if secure.body != "page over https, TLS true" {
			t.Errorf("https client got %q", secure.body)
		}
		get(t, mw, "http://shop.example/p", "X-Forwarded-Proto", "https").expect(t, http.StatusOK, "HIT")
		get(t, mw, "http://shop.example/p", "X-Forwarded-Proto", "http").expect(t, http.StatusMovedPermanently, "HIT")
	})
}

type callerKey struct{}

// An auth middleware in front puts the caller, read from an API key
// header the cache does not know as a credential, in the ctx: a render
// for storage must not see it, or one caller's page is stored for all.
func TestCallerContextDoesNotReachStoredPage(t *testing.T) {
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if k := r.Header.Get("X-Api-Key"); k != "" {
				r = r.WithContext(context.WithValue(r.Context(), callerKey{}, "caller-"+k))
			}
			next.ServeHTTP(w, r)
		})
	}
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			who, _ := r.Context().Value(callerKey{}).(string)
			if who == "" {
				who = "anonymous"
			}
			fmt.Fprintf(w, "hello %s", who)
		})
		mw := auth(newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h))
		if res := get(t, mw, "/home", "X-Api-Key", "alice"); res.body != "hello anonymous" {
			t.Errorf("the render saw the caller: %q", res.body)
		}
		res := get(t, mw, "/home")
		res.expect(t, http.StatusOK, "HIT")
		if res.body != "hello anonymous" {
			t.Errorf("an anonymous client got %q", res.body)
		}
	})
}

type traceKey struct{}

// RenderContext carries a chosen value (a trace id) over to the render,
// and CarryValues does it by key.
func TestRenderContextCarriesChosenValues(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			trace, _ := r.Context().Value(traceKey{}).(string)
			caller, _ := r.Context().Value(callerKey{}).(string)
			fmt.Fprintf(w, "trace=%s caller=%s", trace, caller)
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside, RenderContext: httpcache.CarryValues(traceKey{})}).Middleware(h)
		r := request(http.MethodGet, "/t")
		ctx := context.WithValue(context.WithValue(r.Context(), traceKey{}, "t-1"), callerKey{}, "alice")
		if res := do(t, mw, r.WithContext(ctx)); res.body != "trace=t-1 caller=" {
			t.Errorf("the render got %q, want the trace and not the caller", res.body)
		}

		f.aside.Name = uniqueName()
		bad := newCache(t, httpcache.Options{Aside: f.aside, RenderContext: func(_, caller context.Context) context.Context { return caller }}).Middleware(h)
		func() {
			defer func() {
				if v := recover(); v == nil {
					t.Error("a RenderContext that drops the render's ctx was accepted")
				}
			}()
			get(t, bad, "/t")
		}()
	})
}

// The render's ctx ends with the render: it has the Aside's LoadTimeout
// as deadline, and is canceled once every waiting client left.
func TestRenderContextCancellation(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		f.aside.LoadTimeout = time.Hour
		ended := make(chan error, 1)
		started := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := r.Context().Deadline(); !ok {
				t.Error("the render's ctx has no deadline")
			}
			close(started)
			<-r.Context().Done()
			ended <- context.Cause(r.Context())
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			do(t, mw, request(http.MethodGet, "/slow").WithContext(ctx))
		}()
		<-started
		cancel()
		if err := <-ended; err == nil {
			t.Error("the render's ctx ended without a cause")
		}
		<-done
	})
}

// An absolute-form target, the client's address and its protocol are not
// keyed: the render sees the origin form, no address, HTTP/1.1, and the
// route's path values.
func TestRenderRequestHasOnlyKeyedInputs(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "url=%s uri=%s remote=%q id=%s tenant=%q proto=%s",
				r.URL, r.RequestURI, r.RemoteAddr, r.PathValue("id"), r.PathValue("tenant"), r.Proto)
		})
		mux := http.NewServeMux()
		mux.Handle("GET /items/{id}", newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h))
		want := `url=/items/7 uri=/items/7 remote="" id=7 tenant="" proto=HTTP/1.1`
		r := request(http.MethodGet, "http://shop.example/items/7")
		r.RequestURI = "http://shop.example/items/7" // absolute form, as a server reads it
		r.RemoteAddr = "203.0.113.9:4321"
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
		if res := do(t, mux, r); res.body != want {
			t.Errorf("absolute form: the render saw %q, want %q", res.body, want)
		}
		res := get(t, mux, "http://shop.example/items/7")
		res.expect(t, http.StatusOK, "HIT")
		if res.body != want {
			t.Errorf("origin form: %q, want %q", res.body, want)
		}
	})
}

// A path value a middleware sets under a name the route's pattern does
// not have is not keyed, and does not reach a render.
func TestRenderRequestDropsForeignPathValues(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "id=%s tenant=%q", r.PathValue("id"), r.PathValue("tenant"))
		})
		cached := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		withTenant := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.SetPathValue("tenant", r.Header.Get("X-Tenant"))
			cached.ServeHTTP(w, r)
		})
		mux := http.NewServeMux()
		mux.Handle("GET /items/{id}", withTenant)
		first := get(t, mux, "/items/7", "X-Tenant", "acme")
		if first.body != `id=7 tenant=""` {
			t.Errorf("the render saw %q", first.body)
		}
		get(t, mux, "/items/7", "X-Tenant", "other").expect(t, http.StatusOK, "HIT")
	})
}
