package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/httpcache"
)

func TestHitAfterMiss(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, "hello ", r.URL.Path)
		})
		c := newCache(t, httpcache.Options{Aside: f.aside})
		mw := c.Middleware(h)

		first := get(t, mw, "/greet")
		first.expect(t, http.StatusOK, "MISS")
		if first.header.Get("Age") != "" {
			t.Errorf("Age on a miss: %q", first.header.Get("Age"))
		}
		f.clock.Advance(3 * time.Second)
		second := get(t, mw, "/greet")
		second.expect(t, http.StatusOK, "HIT")
		if second.body != "hello /greet" || second.header.Get("Content-Length") != "12" {
			t.Errorf("hit: body %q, Content-Length %q", second.body, second.header.Get("Content-Length"))
		}
		if got := second.header.Get("Age"); got != "3" {
			t.Errorf("Age %q, want 3", got)
		}
		if second.header.Get("Content-Type") != "text/plain" || second.header.Get("Etag") == "" {
			t.Errorf("hit headers: %v", second.header)
		}
		if second.header.Get("Etag") != first.header.Get("Etag") {
			t.Errorf("ETag changed: %q then %q", first.header.Get("Etag"), second.header.Get("Etag"))
		}
		if n := h.n.Load(); n != 1 {
			t.Errorf("handler ran %d times, want 1", n)
		}
		get(t, mw, "/other").expect(t, http.StatusOK, "MISS")
	})
}

func TestStatusHeaderOptions(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "x") })
		named := newCache(t, httpcache.Options{Aside: f.aside, StatusHeader: "x-my-cache"}).Middleware(h)
		get(t, named, "/")
		if got := get(t, named, "/").header.Get("X-My-Cache"); got != "HIT" {
			t.Errorf("X-My-Cache %q, want HIT", got)
		}
		f.aside.Name += "-hidden"
		hidden := newCache(t, httpcache.Options{Aside: f.aside, HideStatus: true}).Middleware(h)
		get(t, hidden, "/")
		if res := get(t, hidden, "/"); res.header.Get("X-Cache") != "" || res.header.Get("Age") != "0" {
			t.Errorf("hidden status: X-Cache %q, Age %q", res.header.Get("X-Cache"), res.header.Get("Age"))
		}
	})
}

func TestQueryKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s|%s", r.URL.RawQuery, r.RequestURI)
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside, Key: httpcache.Key{Query: []string{"b", "a"}}}).Middleware(h)

		first := get(t, mw, "/list?b=2&a=1&utm_source=mail")
		first.expect(t, http.StatusOK, "MISS")
		if first.body != "a=1&b=2|/list?a=1&b=2" {
			t.Errorf("the handler saw %q, want only the keyed parameters, sorted", first.body)
		}
		get(t, mw, "/list?a=1&b=2").expect(t, http.StatusOK, "HIT")
		get(t, mw, "/list?utm_source=x&a=1&b=2").expect(t, http.StatusOK, "HIT")
		get(t, mw, "/list?a=1&b=3").expect(t, http.StatusOK, "MISS")
		get(t, mw, "/list?a=1").expect(t, http.StatusOK, "MISS")
		get(t, mw, "/list?a=1&b=").expect(t, http.StatusOK, "MISS")
		get(t, mw, "/list?a=1&a=2&b=2").expect(t, http.StatusOK, "MISS")
		if n := h.n.Load(); n != 5 {
			t.Errorf("handler ran %d times, want 5", n)
		}
	})
}

func TestHeaderUserLocaleKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s|%s|%s", r.Header.Get("X-Api-Version"), httpcache.UserOf(r), httpcache.LocaleOf(r))
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside, Key: httpcache.Key{
			Headers: []string{"x-api-version"},
			User:    func(r *http.Request) string { return r.Header.Get("X-User") },
			Locale: func(r *http.Request) string {
				if strings.HasPrefix(r.Header.Get("Accept-Language"), "fr") {
					return "fr"
				}
				return "en"
			},
		}}).Middleware(h)
		cases := []struct {
			hdr  []string
			want string
			x    string
		}{
			{[]string{"X-Api-Version", "2"}, "2||en", "MISS"},
			{[]string{"X-Api-Version", "2"}, "2||en", "HIT"},
			{[]string{"X-Api-Version", "3"}, "3||en", "MISS"},
			{[]string{"X-Api-Version", "2", "X-User", "ann"}, "2|ann|en", "MISS"},
			{[]string{"X-Api-Version", "2", "X-User", "bob"}, "2|bob|en", "MISS"},
			{[]string{"X-Api-Version", "2", "X-User", "ann"}, "2|ann|en", "HIT"},
			{[]string{"X-Api-Version", "2", "Accept-Language", "fr-CA"}, "2||fr", "MISS"},
			{[]string{"X-Api-Version", "2", "Accept-Language", "fr-FR"}, "2||fr", "HIT"},
		}
		for i, tc := range cases {
			res := get(t, mw, "/p", tc.hdr...)
			if res.body != tc.want || res.header.Get("X-Cache") != tc.x {
				t.Errorf("case %d %v: %q %s, want %q %s", i, tc.hdr, res.body, res.header.Get("X-Cache"), tc.want, tc.x)
			}
		}
	})
}

func TestHeadServedFromGet(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		methods := make(chan string, 10)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			methods <- r.Method
			fmt.Fprint(w, "body of ", r.URL.Path)
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)

		head := do(t, mw, request(http.MethodHead, "/a"))
		head.expect(t, http.StatusOK, "MISS")
		if head.body != "" || head.header.Get("Content-Length") != "10" {
			t.Errorf("HEAD: body %q, Content-Length %q", head.body, head.header.Get("Content-Length"))
		}
		if m := <-methods; m != http.MethodGet {
			t.Errorf("the handler rendered a HEAD as %s, want GET", m)
		}
		res := get(t, mw, "/a")
		res.expect(t, http.StatusOK, "HIT")
		if res.body != "body of /a" {
			t.Errorf("GET after HEAD: body %q", res.body)
		}
		get(t, mw, "/b")
		head = do(t, mw, request(http.MethodHead, "/b"))
		head.expect(t, http.StatusOK, "HIT")
		if head.body != "" || head.header.Get("Content-Length") != "10" {
			t.Errorf("HEAD hit: body %q, Content-Length %q", head.body, head.header.Get("Content-Length"))
		}
	})
}

func TestConditionalRequests(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		lastMod := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
			w.Header().Set("Vary", "Accept-Encoding")
			w.Header().Set("X-Other", "o")
			fmt.Fprint(w, "payload")
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside,
			CacheControl: httpcache.CacheControl{Public: true, MaxAge: httpcache.For(time.Minute)}}).Middleware(h)
		first := get(t, mw, "/doc")
		etag := first.header.Get("Etag")
		if etag != httpcache.StrongETag([]byte("payload")) {
			t.Fatalf("ETag %q, want the body's hash", etag)
		}
		if got := first.header.Get("Cache-Control"); got != "public, max-age=60" {
			t.Errorf("Cache-Control %q", got)
		}
		notModified := func(name string, header ...string) {
			t.Helper()
			res := get(t, mw, "/doc", header...)
			if res.status != http.StatusNotModified || res.body != "" {
				t.Errorf("%s: %d %q, want 304 without body", name, res.status, res.body)
			}
			for _, hn := range []string{"Etag", "Cache-Control", "Vary", "Last-Modified", "Age", "X-Cache"} {
				if res.header.Get(hn) == "" {
					t.Errorf("%s: 304 without %s", name, hn)
				}
			}
			if res.header.Get("X-Other") != "" || res.header.Get("Content-Length") != "" {
				t.Errorf("%s: 304 with entity headers: %v", name, res.header)
			}
		}
		full := func(name string, header ...string) {
			t.Helper()
			if res := get(t, mw, "/doc", header...); res.status != http.StatusOK || res.body != "payload" {
				t.Errorf("%s: %d %q, want 200 with the body", name, res.status, res.body)
			}
		}
		notModified("exact", "If-None-Match", etag)
		notModified("weak", "If-None-Match", "W/"+etag)
		notModified("list", "If-None-Match", `"x", `+etag+`, "y"`)
		notModified("second line", "If-None-Match", `"x"`, "If-None-Match", etag)
		notModified("star", "If-None-Match", "*")
		full("other tag", "If-None-Match", `"other"`)
		notModified("not modified since", "If-Modified-Since", lastMod.Format(http.TimeFormat))
		notModified("later", "If-Modified-Since", lastMod.Add(time.Hour).Format(http.TimeFormat))
		full("modified since", "If-Modified-Since", lastMod.Add(-time.Hour).Format(http.TimeFormat))
		full("If-None-Match takes precedence", "If-None-Match", `"other"`, "If-Modified-Since", lastMod.Add(time.Hour).Format(http.TimeFormat))
		full("bad date", "If-Modified-Since", "yesterday")
	})
}

func TestHandlerETagKept(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `W/"v7"`)
			fmt.Fprint(w, "v7")
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		if got := get(t, mw, "/").header.Get("Etag"); got != `W/"v7"` {
			t.Errorf("ETag %q, want the handler's", got)
		}
		if res := get(t, mw, "/", "If-None-Match", `"v7"`); res.status != http.StatusNotModified {
			t.Errorf("weak comparison: %d, want 304", res.status)
		}
	})
}

func TestFailSafeServesStale(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		var mu sync.Mutex
		failing := false
		h := count(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				http.Error(w, "database down", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "good")
		})
		f.aside.TTL, f.aside.FailSafe = time.Minute, &hoard.FailSafe{Window: time.Hour, Throttle: time.Second}
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		get(t, mw, "/p").expect(t, http.StatusOK, "MISS")
		mu.Lock()
		failing = true
		mu.Unlock()
		f.clock.Advance(2 * time.Minute)
		res := get(t, mw, "/p")
		res.expect(t, http.StatusOK, "STALE")
		if res.body != "good" || res.header.Get("Age") != "120" {
			t.Errorf("stale: body %q Age %q", res.body, res.header.Get("Age"))
		}
		f.clock.Advance(2 * time.Hour) // past the fail-safe window
		res = get(t, mw, "/p")
		if res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "database down") {
			t.Errorf("past the window: %d %q, want the handler's 503", res.status, res.body)
		}
		if n := h.n.Load(); n != 3 {
			t.Errorf("handler ran %d times, want 3", n)
		}
	})
}

func TestServerErrorNotStoredWithoutFailSafe(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		for range 2 {
			get(t, mw, "/e").expect(t, http.StatusInternalServerError, "MISS")
		}
		if n := h.n.Load(); n != 2 {
			t.Errorf("handler ran %d times, want 2: a 500 is not stored", n)
		}
	})
}

func TestTagInvalidation(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		var mu sync.Mutex
		price := 10
		h := count(func(w http.ResponseWriter, r *http.Request) {
			httpcache.Tag(r, "product:42")
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(w, "price %d", price)
		})
		f.aside.Invalidator = f.inv
		c := newCache(t, httpcache.Options{Aside: f.aside,
			Tags: func(r *http.Request) []string { return []string{"page:" + r.URL.Path} }})
		mw := c.Middleware(h)
		first := get(t, mw, "/product/42")
		get(t, mw, "/product/42?x=1").expect(t, http.StatusOK, "HIT")
		get(t, mw, "/product/42/reviews").expect(t, http.StatusOK, "MISS")
		mu.Lock()
		price = 12
		mu.Unlock()
		if err := f.inv.InvalidateTags(context.Background(), "product:42"); err != nil {
			t.Fatal(err)
		}
		res := get(t, mw, "/product/42", "If-None-Match", first.header.Get("Etag"))
		res.expect(t, http.StatusOK, "MISS")
		if res.body != "price 12" || res.header.Get("Etag") == first.header.Get("Etag") {
			t.Errorf("after invalidation: %q, ETag %q (was %q)", res.body, res.header.Get("Etag"), first.header.Get("Etag"))
		}
		get(t, mw, "/product/42/reviews").expect(t, http.StatusOK, "MISS")
		if err := f.inv.InvalidateTags(context.Background(), "page:/product/42"); err != nil {
			t.Fatal(err)
		}
		get(t, mw, "/product/42").expect(t, http.StatusOK, "MISS")
		get(t, mw, "/product/42/reviews").expect(t, http.StatusOK, "HIT")
	})
}

func TestVaryVariants(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", "Accept-Language")
			fmt.Fprint(w, "lang="+r.Header.Get("Accept-Language"))
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside, Key: httpcache.Key{Vary: []string{"accept-language"}}}).Middleware(h)
		steps := []struct{ lang, body, x string }{
			{"en", "lang=en", "MISS"},
			{"fr", "lang=fr", "MISS"},
			{"en", "lang=en", "HIT"},
			{"fr", "lang=fr", "HIT"},
			{"", "lang=", "MISS"},
			{"de", "lang=de", "MISS"},
		}
		for _, s := range steps {
			var res result
			if s.lang == "" {
				res = get(t, mw, "/v")
			} else {
				res = get(t, mw, "/v", "Accept-Language", s.lang)
			}
			if res.body != s.body || res.header.Get("X-Cache") != s.x {
				t.Errorf("Accept-Language %q: %q %s, want %q %s", s.lang, res.body, res.header.Get("X-Cache"), s.body, s.x)
			}
		}
		if n := h.n.Load(); n != 4 {
			t.Errorf("handler ran %d times, want 4", n)
		}
	})
}

// A response varying on a header the handler was not given cannot depend
// on it: the header is not passed, so one entry serves everyone.
func TestVaryOnUnpassedHeader(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", "Accept-Encoding")
			fmt.Fprint(w, "encoding="+r.Header.Get("Accept-Encoding"))
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		if res := get(t, mw, "/", "Accept-Encoding", "gzip"); res.body != "encoding=" {
			t.Errorf("the handler saw an unkeyed header: %q", res.body)
		}
		res := get(t, mw, "/", "Accept-Encoding", "br")
		res.expect(t, http.StatusOK, "HIT")
		if res.header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Vary %q not kept for downstream caches", res.header.Get("Vary"))
		}
	})
}

func TestStampedeOneRender(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		release := make(chan struct{})
		started := make(chan struct{}, 100)
		h := count(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			<-release
			fmt.Fprint(w, "rendered once")
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		const n = 20
		results := make(chan result, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { results <- get(t, mw, "/hot") })
		}
		<-started
		time.Sleep(20 * time.Millisecond) // let the others reach the flight
		close(release)
		wg.Wait()
		close(results)
		for res := range results {
			if res.status != http.StatusOK || res.body != "rendered once" {
				t.Errorf("a waiter got %d %q", res.status, res.body)
			}
		}
		if got := h.n.Load(); got != 1 {
			t.Errorf("handler ran %d times for %d concurrent requests, want 1", got, n)
		}
	})
}

// The render goes on when the client that started it leaves, for the
// others waiting on it; its ctx is not canceled.
func TestRenderOutlivesItsClient(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		release := make(chan struct{})
		started := make(chan struct{})
		renderErr := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-release
			renderErr <- r.Context().Err()
			fmt.Fprint(w, "done")
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		ctx, cancel := context.WithCancel(context.Background())
		firstDone := make(chan result, 1)
		go func() { firstDone <- do(t, mw, request(http.MethodGet, "/slow").WithContext(ctx)) }()
		<-started
		const waiters = 3
		others := make(chan result, waiters)
		for range waiters {
			go func() { others <- get(t, mw, "/slow") }()
		}
		time.Sleep(100 * time.Millisecond) // the others join the flight
		cancel()
		first := <-firstDone
		if first.body != "" {
			t.Errorf("the client that left got %q", first.body)
		}
		close(release)
		for range waiters {
			if res := <-others; res.body != "done" {
				t.Errorf("a waiter got %d %q", res.status, res.body)
			}
		}
		if err := <-renderErr; err != nil {
			t.Errorf("the render's ctx ended: %v", err)
		}
	})
}

func TestLargeBodyStreamsThrough(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		big := strings.Repeat("x", 5000)
		h := count(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			for i := 0; i < len(big); i += 1000 {
				_, _ = w.Write([]byte(big[i : i+1000]))
			}
		})
		f.aside.NegativeTTL = -1 // no hit-for-pass: each request renders
		mw := newCache(t, httpcache.Options{Aside: f.aside, MaxBodyBytes: 1500}).Middleware(h)
		for range 2 {
			res := get(t, mw, "/big")
			res.expect(t, http.StatusOK, "MISS")
			if res.body != big || res.header.Get("Content-Type") != "text/plain" {
				t.Errorf("big body: %d bytes, Content-Type %q", len(res.body), res.header.Get("Content-Type"))
			}
		}
		if n := h.n.Load(); n != 2 {
			t.Errorf("handler ran %d times, want 2 (not stored, not rendered twice per request)", n)
		}
	})
}

// A response that cannot be stored is remembered as "pass" for
// NegativeTTL: later requests go straight to the handler.
func TestHitForPass(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "s", Value: "1"})
			fmt.Fprint(w, "with cookie")
		})
		f.aside.NegativeTTL = time.Minute
		var reasons []string
		mw := newCache(t, httpcache.Options{Aside: f.aside,
			OnSkip: func(r *http.Request, reason string) { reasons = append(reasons, reason) }}).Middleware(h)
		for range 3 {
			res := get(t, mw, "/c")
			res.expect(t, http.StatusOK, "MISS")
			if res.header.Get("Set-Cookie") == "" {
				t.Error("the cookie did not reach its client")
			}
		}
		if n := h.n.Load(); n != 3 {
			t.Errorf("handler ran %d times, want 3", n)
		}
		if len(reasons) != 1 || reasons[0] != httpcache.ReasonSetCookie {
			t.Errorf("skips %q, want one %q (later requests pass at once)", reasons, httpcache.ReasonSetCookie)
		}
	})
}

// flushRecorder is a ResponseWriter that records its writes and flushes.
type flushRecorder struct {
	mu      sync.Mutex
	header  http.Header
	status  int
	body    strings.Builder
	flushes int
}

func (f *flushRecorder) Header() http.Header { return f.header }
func (f *flushRecorder) WriteHeader(s int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status == 0 {
		f.status = s
	}
}
func (f *flushRecorder) Write(p []byte) (int, error) {
	f.WriteHeader(http.StatusOK)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.body.Write(p)
}
func (f *flushRecorder) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes++
}

func TestFlushStreamsThrough(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Errorf("flush: %v", err)
				}
			}
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			w := &flushRecorder{header: http.Header{}}
			mw.ServeHTTP(w, request(method, "/events"))
			if w.flushes != 3 || w.body.String() != "data: 0\n\ndata: 1\n\ndata: 2\n\n" || w.header.Get("Content-Type") != "text/event-stream" {
				t.Errorf("%s: %d flushes, body %q, header %v", method, w.flushes, w.body.String(), w.header)
			}
		}
		if n := h.n.Load(); n != 2 {
			t.Errorf("handler ran %d times, want 2", n)
		}
	})
}

func TestHandlerPanicReachesServer(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		defer func() {
			if v := recover(); v != http.ErrAbortHandler { //nolint:errorlint // net/http compares it so
				t.Errorf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		get(t, mw, "/panic")
		t.Error("no panic")
	})
}

func TestHopByHopStripped(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "X-Conn-Only")
			w.Header().Set("X-Conn-Only", "1")
			w.Header().Set("Keep-Alive", "timeout=5")
			w.Header().Set("X-Cache", "forged")
			w.Header().Set("Content-Length", "999") // wrong: recomputed
			w.Header().Set("X-Kept", "yes")
			fmt.Fprint(w, "abc")
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		get(t, mw, "/")
		res := get(t, mw, "/")
		res.expect(t, http.StatusOK, "HIT")
		for _, name := range []string{"Connection", "X-Conn-Only", "Keep-Alive"} {
			if v := res.header.Get(name); v != "" {
				t.Errorf("stored %s: %q", name, v)
			}
		}
		if res.header.Get("X-Kept") != "yes" || res.header.Get("Content-Length") != "3" || res.body != "abc" {
			t.Errorf("hit: %v %q", res.header, res.body)
		}
	})
}

func TestResponseMaxAgeIsTTL(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=600, s-maxage=10")
			fmt.Fprint(w, "short")
		})
		f.aside.TTL = time.Hour
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		get(t, mw, "/")
		f.clock.Advance(9 * time.Second)
		get(t, mw, "/").expect(t, http.StatusOK, "HIT")
		f.clock.Advance(2 * time.Second)
		get(t, mw, "/").expect(t, http.StatusOK, "MISS")
	})
}

func TestPolicySMaxAgeIsTTL(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "p") })
		f.aside.TTL = time.Hour
		mw := newCache(t, httpcache.Options{Aside: f.aside, CacheControl: httpcache.CacheControl{
			Public: true, MaxAge: httpcache.For(5 * time.Second), SMaxAge: httpcache.For(30 * time.Second)}}).Middleware(h)
		get(t, mw, "/")
		f.clock.Advance(29 * time.Second)
		get(t, mw, "/").expect(t, http.StatusOK, "HIT")
		f.clock.Advance(2 * time.Second)
		get(t, mw, "/").expect(t, http.StatusOK, "MISS")
	})
}

func TestEarlyRefreshAndLocker(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) {
			f.clock.Advance(time.Second) // the render "takes" a second
			fmt.Fprint(w, "v")
		})
		f.aside.TTL, f.aside.EarlyRefresh = 10*time.Second, &hoard.EarlyRefresh{Beta: 100}
		f.aside.Rand = func() float64 { return 0.5 } // a draw that refreshes 2s before expiry
		f.aside.Stampede = &hoard.Stampede{Locker: &hoard.LocalLocker{Clock: f.clock}}
		c := newCache(t, httpcache.Options{Aside: f.aside})
		mw := c.Middleware(h)
		get(t, mw, "/")
		f.clock.Advance(8 * time.Second) // near expiry, with a large Beta: refresh
		get(t, mw, "/").expect(t, http.StatusOK, "HIT")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if n := h.n.Load(); n != 2 {
			t.Errorf("handler ran %d times, want 2 (one early refresh)", n)
		}
		if n := c.Aside().Metrics().Snapshot(); n.Total(hoard.EventEarlyRefresh) == 0 {
			t.Errorf("no early refresh counted: %+v", n)
		}
	})
}

func TestOptionsValidate(t *testing.T) {
	tier := func() hoard.AsideOptions[*httpcache.Response] {
		return hoard.AsideOptions[*httpcache.Response]{Memory: nil}
	}
	bad := []httpcache.Options{
		{Aside: tier()}, // no tier
		{MaxBodyBytes: -1},
		{Statuses: []int{206}},
		{Statuses: []int{304}},
		{Statuses: []int{103}},
		{CacheControl: httpcache.CacheControl{NoStore: true}},
		{CacheControl: httpcache.CacheControl{Private: true}},
		{Key: httpcache.Key{AllQuery: true, Query: []string{"a"}}},
		{Key: httpcache.Key{Headers: []string{"Accept"}, Vary: []string{"accept"}}},
	}
	for i, o := range bad {
		if _, err := httpcache.New(&o); err == nil {
			t.Errorf("options %d: no error", i)
		}
	}
}

// Two instances sharing the tiers and a Locker render a burst of
// requests for one key once between them.
func TestTwoInstancesOneRender(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		release := make(chan struct{})
		h := count(func(w http.ResponseWriter, r *http.Request) {
			<-release
			fmt.Fprint(w, "shared")
		})
		f.aside.Stampede = &hoard.Stampede{Locker: &hoard.LocalLocker{}}
		a := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		b := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		var wg sync.WaitGroup
		for i := range 10 {
			mw := a
			if i%2 == 1 {
				mw = b
			}
			wg.Go(func() {
				if res := get(t, mw, "/k"); res.body != "shared" {
					t.Errorf("got %d %q", res.status, res.body)
				}
			})
		}
		time.Sleep(50 * time.Millisecond)
		close(release)
		wg.Wait()
		if n := h.n.Load(); n != 1 {
			t.Errorf("handler ran %d times across two instances, want 1", n)
		}
	})
}
