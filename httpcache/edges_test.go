package httpcache_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/httpcache"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// cors adds "Vary: Origin" around the cache, as CORS middleware does.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		next.ServeHTTP(w, r)
	})
}

// A Vary set by a middleware around the cache is merged with the stored
// response's, on misses, hits and 304s.
func TestVaryMergedWithOuterMiddleware(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", "Accept-Language")
			fmt.Fprint(w, "page")
		})
		mw := cors(newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h))
		miss := get(t, mw, "/v")
		hit := get(t, mw, "/v")
		hit.expect(t, http.StatusOK, "HIT")
		notModified := get(t, mw, "/v", "If-None-Match", hit.header.Get("Etag"))
		for name, res := range map[string]result{"miss": miss, "hit": hit, "304": notModified} {
			if got := strings.Join(res.header.Values("Vary"), ", "); got != "Origin, Accept-Language" {
				t.Errorf("%s: Vary %q, want both", name, got)
			}
		}
	})
}

// A method of unknown safety ("FOO", "PURGE", a lowercase "get") on a
// route registered without a method is served but evicts nothing.
func TestUnknownMethodsDoNotEvict(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page") })
		var skips []string
		mw := newCache(t, httpcache.Options{Aside: f.aside,
			OnSkip: func(r *http.Request, reason string) { skips = append(skips, reason) }}).Middleware(h)
		get(t, mw, "/p")
		for _, m := range []string{"FOO", "PURGE", "get"} {
			res := do(t, mw, request(m, "/p"))
			res.expect(t, http.StatusOK, "BYPASS")
			get(t, mw, "/p").expect(t, http.StatusOK, "HIT")
		}
		if len(skips) != 3 || skips[0] != httpcache.ReasonUnknownMethod {
			t.Errorf("skips %q", skips)
		}
		// One chosen deliberately evicts.
		f.aside.Name = uniqueName()
		purging := newCache(t, httpcache.Options{Aside: f.aside, UnsafeMethods: []string{"PURGE"}}).Middleware(h)
		get(t, purging, "/p")
		do(t, purging, request("PURGE", "/p"))
		get(t, purging, "/p").expect(t, http.StatusOK, "MISS")
	})
}

// A response too large for the shared tier (Redis's MaxValueBytes) is
// stored in the memory tier only, and says so; without a memory tier the
// key becomes "pass", so requests stop waiting on renders never stored.
func TestSharedTierTooLargeIsReported(t *testing.T) {
	_, client := redistest.Miniredis(t)
	shared, err := hoardredis.New[*httpcache.Response](client, &hoardredis.Options{MaxValueBytes: 512})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := memory.New[*httpcache.Response](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	big := strings.Repeat("x", 2000)
	h := count(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, big) })
	var mu sync.Mutex
	var skips []string
	onSkip := func(r *http.Request, reason string) {
		mu.Lock()
		defer mu.Unlock()
		skips = append(skips, reason)
	}
	both := newCache(t, httpcache.Options{Aside: hoard.AsideOptions[*httpcache.Response]{Name: uniqueName(), Memory: mem, Shared: shared},
		OnSkip: onSkip, Compression: httpcache.Compression{Disabled: true}}).Middleware(h)
	get(t, both, "/big")
	if res := get(t, both, "/big"); res.header.Get("X-Cache") != "HIT" || res.body != big {
		t.Errorf("the memory tier did not serve it: %s, %d bytes", res.header.Get("X-Cache"), len(res.body))
	}
	mu.Lock()
	if len(skips) != 1 || skips[0] != httpcache.ReasonSharedTooLarge {
		t.Errorf("skips %q, want one %q", skips, httpcache.ReasonSharedTooLarge)
	}
	skips = nil
	mu.Unlock()

	redisOnly := newCache(t, httpcache.Options{Aside: hoard.AsideOptions[*httpcache.Response]{Name: uniqueName(), Shared: shared, NegativeTTL: time.Minute},
		OnSkip: onSkip, Compression: httpcache.Compression{Disabled: true}}).Middleware(h)
	before := h.n.Load()
	for range 3 {
		if res := get(t, redisOnly, "/big"); res.body != big {
			t.Errorf("got %d bytes", len(res.body))
		}
	}
	if n := h.n.Load() - before; n != 3 {
		t.Errorf("handler ran %d times, want 3", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(skips) != 1 || skips[0] != httpcache.ReasonSharedTooLarge {
		t.Errorf("skips %q, want one %q and then passes", skips, httpcache.ReasonSharedTooLarge)
	}
}

// waitParked waits until n goroutines are blocked in a flight of the
// Aside, waiting for one render: the condition itself, read from the
// goroutines' stacks.
func waitParked(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := runtime.Stack(buf, true)
		if strings.Count(string(buf[:m]), ").doSince(") >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d requests reached the flight", n)
		}
		runtime.Gosched()
	}
}

// Fifty concurrent cold requests for a response not storable only for its
// size (or its status) are answered by one render, not fifty: the
// requests that waited on it get it.
func TestNotStorableRenderedOnceForWaiters(t *testing.T) {
	big := strings.Repeat("y", 5000)
	for name, tc := range map[string]struct {
		body string
		h    func(w http.ResponseWriter, body string)
	}{
		"too large": {big, func(w http.ResponseWriter, body string) {
			for i := 0; i < len(body); i += 1000 {
				_, _ = w.Write([]byte(body[i : i+1000]))
			}
		}},
		"status not stored": {"conflict", func(w http.ResponseWriter, body string) {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, body)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, f *fixture) {
				const n = 50
				release := make(chan struct{})
				handler := count(func(w http.ResponseWriter, r *http.Request) {
					<-release
					tc.h(w, tc.body)
				})
				mw := newCache(t, httpcache.Options{Aside: f.aside, MaxBodyBytes: 1500}).Middleware(handler)
				results := make(chan result, n)
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() { results <- get(t, mw, "/cold") })
				}
				waitParked(t, n)
				close(release)
				wg.Wait()
				close(results)
				for res := range results {
					if res.body != tc.body {
						t.Errorf("a client got %d %d bytes", res.status, len(res.body))
					}
				}
				if got := handler.n.Load(); got != 1 {
					t.Errorf("%d renders for %d concurrent cold requests, want 1", got, n)
				}
			})
		})
	}
}
