package httpcache_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/hoard-cache/hoard/httpcache"
)

// page is a compressible JSON body of about 4 KB.
var page = `{"items":[` + strings.TrimSuffix(strings.Repeat(`{"id":1,"name":"kettle","price":"12.00"},`, 100), ",") + `]}`

func jsonHandler() *counting {
	return count(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, page)
	})
}

func gunzip(t *testing.T, b string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// A stored page keeps one gzip copy: clients taking gzip get those bytes
// as stored, others the body decompressed; both with Vary:
// Accept-Encoding, each representation with its own ETag, and 304s for
// each.
func TestCompressedStorage(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := jsonHandler()
		c := newCache(t, httpcache.Options{Aside: f.aside})
		mw := c.Middleware(h)
		miss := get(t, mw, "/items", "Accept-Encoding", "gzip, deflate, br")
		if miss.header.Get("Content-Encoding") != "gzip" || gunzip(t, miss.body) != page {
			t.Fatalf("miss: Content-Encoding %q, %d bytes", miss.header.Get("Content-Encoding"), len(miss.body))
		}
		hit := get(t, mw, "/items", "Accept-Encoding", "gzip")
		hit.expect(t, http.StatusOK, "HIT")
		e, err := c.Aside().Peek(context.Background(), ":GET:example.com:/items:http")
		if err != nil || e.Value.Encoding != httpcache.EncodingGzip || string(e.Value.Body) != hit.body || e.Value.IdentityLength != len(page) {
			t.Errorf("the stored copy is not the gzip body served (%v)", err)
		}
		if hit.header.Get("Content-Length") != fmt.Sprint(len(hit.body)) || hit.header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("gzip hit headers: %v", hit.header)
		}
		plain := get(t, mw, "/items")
		plain.expect(t, http.StatusOK, "HIT")
		if plain.body != page || plain.header.Get("Content-Encoding") != "" || plain.header.Get("Content-Length") != fmt.Sprint(len(page)) {
			t.Errorf("identity hit: %d bytes, headers %v", len(plain.body), plain.header)
		}
		if plain.header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("identity Vary %q", plain.header.Get("Vary"))
		}
		etag, gzETag := plain.header.Get("Etag"), hit.header.Get("Etag")
		if etag != httpcache.StrongETag([]byte(page)) || gzETag != strings.TrimSuffix(etag, `"`)+`-gzip"` {
			t.Errorf("ETags %q and %q", etag, gzETag)
		}
		refused := get(t, mw, "/items", "Accept-Encoding", "gzip;q=0, identity")
		if refused.body != page {
			t.Error("gzip;q=0 got gzip")
		}
		if res := get(t, mw, "/items", "Accept-Encoding", "gzip", "If-None-Match", gzETag); res.status != http.StatusNotModified || res.header.Get("Etag") != gzETag {
			t.Errorf("gzip revalidation: %d %q", res.status, res.header.Get("Etag"))
		}
		if res := get(t, mw, "/items", "If-None-Match", etag); res.status != http.StatusNotModified {
			t.Errorf("identity revalidation: %d", res.status)
		}
		if res := get(t, mw, "/items", "If-None-Match", gzETag); res.status != http.StatusOK || res.body != page {
			t.Errorf("the gzip ETag matched the identity representation: %d", res.status)
		}
		head := do(t, mw, request(http.MethodHead, "/items"))
		if head.body != "" || head.header.Get("Content-Length") != fmt.Sprint(len(page)) {
			t.Errorf("HEAD: %q, Content-Length %q", head.body, head.header.Get("Content-Length"))
		}
		if n := h.n.Load(); n != 1 {
			t.Errorf("handler ran %d times, want 1", n)
		}
	})
}

// zstd, when chosen; small, incompressible and no-transform bodies are
// stored as written.
func TestCompressionChoices(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		mw := newCache(t, httpcache.Options{Aside: f.aside, Compression: httpcache.Compression{Encoding: httpcache.EncodingZstd}}).Middleware(jsonHandler())
		res := get(t, mw, "/z", "Accept-Encoding", "gzip, zstd")
		dec, _ := zstd.NewReader(nil)
		defer dec.Close()
		out, err := dec.DecodeAll([]byte(res.body), nil)
		if res.header.Get("Content-Encoding") != "zstd" || err != nil || string(out) != page {
			t.Errorf("zstd: %q, %v", res.header.Get("Content-Encoding"), err)
		}
		if res := get(t, mw, "/z", "Accept-Encoding", "gzip"); res.body != page {
			t.Error("a gzip-only client did not get the identity body")
		}
		for name, h := range map[string]http.HandlerFunc{
			"small": func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				fmt.Fprint(w, "tiny")
			},
			"image": func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "image/png")
				fmt.Fprint(w, page)
			},
			"no-transform": func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "public, max-age=60, no-transform")
				fmt.Fprint(w, page)
			},
		} {
			f.aside.Name = uniqueName()
			mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
			if res := get(t, mw, "/"+name, "Accept-Encoding", "gzip"); res.header.Get("Content-Encoding") != "" || res.header.Get("Vary") != "" {
				t.Errorf("%s: compressed (%v)", name, res.header)
			}
		}
	})
}

// A Range request on a stored 200 gets a 206, as http.ServeContent
// answers it.
func TestRangeOnStoredResponse(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(jsonHandler())
		full := get(t, mw, "/r")
		part := get(t, mw, "/r", "Range", "bytes=0-9")
		if part.status != http.StatusPartialContent || part.body != page[:10] || part.header.Get("Content-Range") != fmt.Sprintf("bytes 0-9/%d", len(page)) {
			t.Errorf("range: %d %q %q", part.status, part.body, part.header.Get("Content-Range"))
		}
		if part.header.Get("X-Cache") != "HIT" || part.header.Get("Content-Length") != "10" {
			t.Errorf("range headers: %v", part.header)
		}
		if res := get(t, mw, "/r", "Range", "bytes=0-9", "If-Range", `"stale"`); res.status != http.StatusOK || res.body != page {
			t.Errorf("If-Range mismatch: %d, %d bytes", res.status, len(res.body))
		}
		if res := get(t, mw, "/r", "Range", "bytes=0-9", "If-Range", full.header.Get("Etag")); res.status != http.StatusPartialContent {
			t.Errorf("If-Range match: %d", res.status)
		}
		if res := get(t, mw, "/r", "Range", fmt.Sprintf("bytes=%d-", len(page)+10)); res.status != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("unsatisfiable: %d", res.status)
		}
		gz := get(t, mw, "/r", "Accept-Encoding", "gzip")
		part = get(t, mw, "/r", "Accept-Encoding", "gzip", "Range", "bytes=0-1")
		if part.status != http.StatusPartialContent || part.body != gz.body[:2] || part.header.Get("Content-Encoding") != "gzip" {
			t.Errorf("range of the gzip representation: %d %q", part.status, part.body)
		}
		multi := get(t, mw, "/r", "Range", "bytes=0-1,5-6")
		if multi.status != http.StatusPartialContent || !strings.HasPrefix(multi.header.Get("Content-Type"), "multipart/byteranges") ||
			!bytes.Contains([]byte(multi.body), []byte(page[5:7])) {
			t.Errorf("multiple ranges: %d %q", multi.status, multi.header.Get("Content-Type"))
		}
	})
}

// Cache-Status (RFC 9211) says what the cache did; Debug adds the key.
func TestCacheStatus(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		f.aside.TTL = time.Minute
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(jsonHandler())
		if got := get(t, mw, "/s").header.Get("Cache-Status"); got != "hoard; fwd=miss; stored; ttl=60" {
			t.Errorf("miss: %q", got)
		}
		f.clock.Advance(10 * time.Second)
		if got := get(t, mw, "/s").header.Get("Cache-Status"); got != "hoard; hit; ttl=50" {
			t.Errorf("hit: %q", got)
		}
		if got := get(t, mw, "/s", "Cookie", "s=1").header.Get("Cache-Status"); got != "hoard; fwd=bypass" {
			t.Errorf("bypass: %q", got)
		}
		if got := do(t, mw, request(http.MethodPost, "/s")).header.Get("Cache-Status"); got != "hoard; fwd=method" {
			t.Errorf("POST: %q", got)
		}
		f.aside.Name = uniqueName()
		debug := newCache(t, httpcache.Options{Aside: f.aside, Debug: true, CacheStatus: "edge-1"}).Middleware(jsonHandler())
		if got := get(t, debug, "http://shop.example/s?q=1").header.Get("Cache-Status"); got != `edge-1; fwd=miss; stored; ttl=60; key=":GET:shop.example:/s:http"` {
			t.Errorf("debug miss: %q", got)
		}
		inner := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Status", "origin-cache; hit")
			fmt.Fprint(w, "x")
		}))
		if got := get(t, inner, "/chain").header.Values("Cache-Status"); len(got) != 2 || got[0] != "origin-cache; hit" {
			t.Errorf("a Cache-Status chain: %q", got)
		}
	})
}
