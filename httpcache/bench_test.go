package httpcache_test

import (
	"context"
	"net/http"

	"github.com/klauspost/compress/gzip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/httpcache"
)

// The benchmarks compare a cached endpoint with its handler alone. The
// handler's "database query" is a 5ms sleep: the point is the ratio, and
// the root module has no Postgres driver to run pg_sleep with.

// benchBody is a typical small JSON page, about 2 KB.
var benchBody = []byte(`{"products":[` + strings.TrimSuffix(strings.Repeat(`{"id":42,"name":"kettle","price":"12.00 EUR","stock":17},`, 36), ",") + `]}`)

// discardWriter is a ResponseWriter that keeps nothing, reset per request
// like a server's.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
func (w *discardWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

func render(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(benchBody)
}

func benchCache(b *testing.B, next http.Handler) http.Handler {
	b.Helper()
	return benchCacheWith(b, next, httpcache.Compression{Disabled: true})
}

func benchCacheWith(b *testing.B, next http.Handler, comp httpcache.Compression) http.Handler {
	b.Helper()
	mem, err := memory.New[*httpcache.Response](nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mem.Close() })
	c, err := httpcache.New(&httpcache.Options{
		Aside:       hoard.AsideOptions[*httpcache.Response]{Name: "bench", Memory: mem, TTL: time.Hour},
		Key:         httpcache.Key{Query: []string{"page"}},
		Compression: comp,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	return c.Middleware(next)
}

func serveLoop(b *testing.B, h http.Handler) {
	b.Helper()
	r, _ := http.NewRequest(http.MethodGet, "http://shop.example/products?page=1&utm_source=x", nil)
	w := &discardWriter{h: make(http.Header)}
	h.ServeHTTP(w, r) // warm: the miss
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if w.status != http.StatusOK || w.n != len(benchBody) {
		b.Fatalf("status %d, %d bytes", w.status, w.n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkEndpoint: requests per second, one client, of an endpoint
// whose handler queries for 5ms: the handler alone, then behind the cache
// (every request after the first a hit).
func BenchmarkEndpoint(b *testing.B) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		render(w)
	})
	b.Run("handler-5ms", func(b *testing.B) { serveLoop(b, slow) })
	b.Run("cached-hit", func(b *testing.B) { serveLoop(b, benchCache(b, slow)) })
}

// BenchmarkHitOverhead: the hit path against a bare handler writing the
// same bytes and headers, no query at all.
func BenchmarkHitOverhead(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { render(w) })
	b.Run("bare", func(b *testing.B) { serveLoop(b, bare) })
	b.Run("hit", func(b *testing.B) { serveLoop(b, benchCache(b, bare)) })
}

// BenchmarkHitParallel: the hit path under concurrent clients.
func BenchmarkHitParallel(b *testing.B) {
	h := benchCache(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { render(w) }))
	r, _ := http.NewRequest(http.MethodGet, "http://shop.example/products?page=1", nil)
	h.ServeHTTP(&discardWriter{h: make(http.Header)}, r)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: make(http.Header)}
		for pb.Next() {
			w.reset()
			h.ServeHTTP(w, r)
		}
	})
}

// BenchmarkCompressedHit: a cached page with compression negotiation
// against the bare handler and the uncompressed hit. The body is the 2 KB
// JSON page; "gzip per request" is what a compressing middleware around
// the bare handler costs; the hits send the stored copy as it is (gzip,
// zstd) or decompress it for a client that takes no encoding.
func BenchmarkCompressedHit(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { render(w) })
	run := func(b *testing.B, h http.Handler, acceptEncoding string) {
		b.Helper()
		r, _ := http.NewRequest(http.MethodGet, "http://shop.example/products?page=1", nil)
		if acceptEncoding != "" {
			r.Header.Set("Accept-Encoding", acceptEncoding)
		}
		w := &discardWriter{h: make(http.Header)}
		h.ServeHTTP(w, r) // warm: the miss
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			w.reset()
			h.ServeHTTP(w, r)
		}
		b.StopTimer()
		if w.status != http.StatusOK || w.n == 0 {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
		b.ReportMetric(float64(w.n), "body-bytes")
	}
	b.Run("bare", func(b *testing.B) { run(b, bare, "") })
	b.Run("bare-gzip-per-request", func(b *testing.B) {
		run(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := benchGzip.Get().(*gzip.Writer) // pooled, as a good compressing middleware does
			zw.Reset(w)
			_, _ = zw.Write(benchBody)
			_ = zw.Close()
			benchGzip.Put(zw)
		}), "gzip")
	})
	b.Run("hit-uncompressed", func(b *testing.B) {
		run(b, benchCacheWith(b, bare, httpcache.Compression{Disabled: true}), "")
	})
	b.Run("hit-gzip", func(b *testing.B) { run(b, benchCacheWith(b, bare, httpcache.Compression{}), "gzip, deflate, br") })
	b.Run("hit-zstd", func(b *testing.B) {
		run(b, benchCacheWith(b, bare, httpcache.Compression{Encoding: httpcache.EncodingZstd}), "gzip, deflate, br, zstd")
	})
	b.Run("hit-gzip-to-identity", func(b *testing.B) { run(b, benchCacheWith(b, bare, httpcache.Compression{}), "") })
}

var benchGzip = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
