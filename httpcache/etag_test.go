package httpcache_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/httpcache"
)

func TestETagMiddleware(t *testing.T) {
	h := count(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			t.Error("the handler got a HEAD: it renders GET")
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Extra", "e")
		fmt.Fprint(w, "content")
	})
	mw := httpcache.ETag(h)
	first := get(t, mw, "/")
	etag := first.header.Get("Etag")
	if first.status != http.StatusOK || first.body != "content" || etag != httpcache.StrongETag([]byte("content")) {
		t.Fatalf("first: %d %q ETag %q", first.status, first.body, etag)
	}
	res := get(t, mw, "/", "If-None-Match", etag)
	if res.status != http.StatusNotModified || res.body != "" || res.header.Get("Etag") != etag ||
		res.header.Get("Cache-Control") != "no-cache" || res.header.Get("X-Extra") != "" {
		t.Errorf("conditional: %d %q %v", res.status, res.body, res.header)
	}
	head := do(t, mw, request(http.MethodHead, "/"))
	if head.header.Get("Etag") != etag || head.body != "" || head.header.Get("Content-Length") != "7" {
		t.Errorf("HEAD: ETag %q body %q Content-Length %q", head.header.Get("Etag"), head.body, head.header.Get("Content-Length"))
	}
	if res := do(t, mw, request(http.MethodPost, "/", "If-None-Match", etag)); res.status != http.StatusOK || res.header.Get("Etag") != "" {
		t.Errorf("POST: %d ETag %q", res.status, res.header.Get("Etag"))
	}
	if h.n.Load() != 4 {
		t.Errorf("handler ran %d times, want 4: ETag alone stores nothing", h.n.Load())
	}
}

func TestETagMiddlewareLastModified(t *testing.T) {
	lm := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	mw := httpcache.ETag(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", lm.Format(http.TimeFormat))
		fmt.Fprint(w, "x")
	}))
	if res := get(t, mw, "/", "If-Modified-Since", lm.Format(http.TimeFormat)); res.status != http.StatusNotModified {
		t.Errorf("If-Modified-Since equal: %d", res.status)
	}
	if res := get(t, mw, "/", "If-Modified-Since", lm.Add(-time.Second).Format(http.TimeFormat)); res.status != http.StatusOK {
		t.Errorf("If-Modified-Since earlier: %d", res.status)
	}
	if res := get(t, mw, "/", "If-None-Match", `"nope"`, "If-Modified-Since", lm.Format(http.TimeFormat)); res.status != http.StatusOK {
		t.Errorf("If-None-Match mismatch must win over If-Modified-Since: %d", res.status)
	}
}

func TestETagMiddlewarePassesThrough(t *testing.T) {
	big := strings.Repeat("y", 100)
	mw := httpcache.ETagLimit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, big[:50])
		fmt.Fprint(w, big[50:])
	}), 60)
	res := get(t, mw, "/")
	if res.body != big || res.header.Get("Etag") != "" || res.header.Get("Content-Type") != "text/plain" {
		t.Errorf("over the limit: %d bytes, headers %v", len(res.body), res.header)
	}
	notOK := httpcache.ETag(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}))
	if res := get(t, notOK, "/", "If-None-Match", "*"); res.status != http.StatusNotFound || res.header.Get("Etag") != "" {
		t.Errorf("404: %d ETag %q", res.status, res.header.Get("Etag"))
	}
	streamed := httpcache.ETag(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "a")
		w.(http.Flusher).Flush()
		fmt.Fprint(w, "b")
	}))
	w := &flushRecorder{header: http.Header{}}
	streamed.ServeHTTP(w, request(http.MethodGet, "/"))
	if w.flushes != 1 || w.body.String() != "ab" || w.header.Get("Etag") != "" {
		t.Errorf("flushed: %d flushes, %q, %v", w.flushes, w.body.String(), w.header)
	}
}
