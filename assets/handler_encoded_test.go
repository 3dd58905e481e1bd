package assets

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkEncoded fails t unless w is a 200 of the content in coding ("" for
// the original) with the Cache-Control cc, the Content-Type ct, Vary:
// Accept-Encoding and a right Content-Length; it returns the ETag.
func checkEncoded(t *testing.T, what string, w *httptest.ResponseRecorder, coding, cc, ct, content string) string {
	t.Helper()
	h := w.Header()
	if w.Code != http.StatusOK {
		t.Fatalf("%s: status %d", what, w.Code)
	}
	if got := h.Get("Content-Encoding"); got != coding {
		t.Errorf("%s: Content-Encoding %q, want %q", what, got, coding)
	}
	if got := h.Get("Cache-Control"); got != cc {
		t.Errorf("%s: Cache-Control %q, want %q", what, got, cc)
	}
	if got := h.Get("Content-Type"); got != ct {
		t.Errorf("%s: Content-Type %q, want %q", what, got, ct)
	}
	if got := h.Values("Vary"); len(got) != 1 || got[0] != "Accept-Encoding" {
		t.Errorf("%s: Vary %q, want Accept-Encoding", what, got)
	}
	if got := h.Get("Content-Length"); got != strconv.Itoa(w.Body.Len()) {
		t.Errorf("%s: Content-Length %q for %d bytes", what, got, w.Body.Len())
	}
	if coding != "" && h.Get("Accept-Ranges") != "" {
		t.Errorf("%s: Accept-Ranges %q on a compressed copy", what, h.Get("Accept-Ranges"))
	}
	if got := decode(t, coding, w.Body.Bytes()); got != content {
		t.Errorf("%s: body does not decode to the content", what)
	}
	return h.Get("ETag")
}

func TestHandlerNegotiatesEncoding(t *testing.T) {
	s := mustBuild(t, files(compressedFiles()...), &Options{Compress: CompressFast})
	css := mustContent(t, s, "css/site.css")
	cssURL, _ := s.URL("css/site.css")
	const cssType = "text/css; charset=utf-8"

	idETag := checkEncoded(t, "no Accept-Encoding", get(s, cssURL), "", CacheImmutable, cssType, css)
	brETag := checkEncoded(t, "Chromium", get(s, cssURL, "Accept-Encoding", "gzip, deflate, br, zstd"), Brotli, CacheImmutable, cssType, css)
	gzETag := checkEncoded(t, "gzip only", get(s, cssURL, "Accept-Encoding", "gzip"), Gzip, CacheImmutable, cssType, css)
	checkEncoded(t, "br refused", get(s, cssURL, "Accept-Encoding", "br;q=0, gzip"), Gzip, CacheImmutable, cssType, css)
	checkEncoded(t, "identity preferred", get(s, cssURL, "Accept-Encoding", "br;q=0.5, identity"), "", CacheImmutable, cssType, css)
	checkEncoded(t, "unknown codings", get(s, cssURL, "Accept-Encoding", "zstd, deflate"), "", CacheImmutable, cssType, css)
	checkEncoded(t, "logical name", get(s, "/static/css/site.css", "Accept-Encoding", "br"), Brotli, CacheRevalidate, cssType, css)
	if idETag == brETag || idETag == gzETag || brETag == gzETag || !strings.HasPrefix(brETag, `"`) {
		t.Errorf("ETags not distinct and strong: identity %s, br %s, gzip %s", idETag, brETag, gzETag)
	}

	// 304 for the copy the client holds, and only for that one.
	w := get(s, "/static/css/site.css", "Accept-Encoding", "br", "If-None-Match", brETag)
	check(t, "br revalidated", w, http.StatusNotModified, CacheRevalidate, "")
	if w.Header().Get("ETag") != brETag || w.Header().Get("Vary") != "Accept-Encoding" || w.Body.Len() != 0 {
		t.Errorf("br 304: ETag %q Vary %q body %d bytes", w.Header().Get("ETag"), w.Header().Get("Vary"), w.Body.Len())
	}
	checkEncoded(t, "br ETag, gzip now", get(s, "/static/css/site.css", "Accept-Encoding", "gzip", "If-None-Match", brETag), Gzip, CacheRevalidate, cssType, css)
	checkEncoded(t, "identity ETag, br now", get(s, "/static/css/site.css", "Accept-Encoding", "br", "If-None-Match", idETag), Brotli, CacheRevalidate, cssType, css)
	check(t, "identity revalidated", get(s, "/static/css/site.css", "If-None-Match", idETag), http.StatusNotModified, CacheRevalidate, "")

	// Ranges are of the original, whatever the client accepts.
	w = get(s, cssURL, "Accept-Encoding", "br, gzip", "Range", "bytes=0-5")
	check(t, "range", w, http.StatusPartialContent, CacheImmutable, css[:6])
	if w.Header().Get("Content-Encoding") != "" || w.Header().Get("Vary") != "Accept-Encoding" {
		t.Errorf("range: Content-Encoding %q Vary %q", w.Header().Get("Content-Encoding"), w.Header().Get("Vary"))
	}
	w = get(s, cssURL, "Accept-Encoding", "br", "Range", "bytes=0-5", "If-Range", brETag)
	checkEncoded(t, "range with the br ETag", w, "", CacheImmutable, cssType, css)

	// HEAD: the headers of the GET.
	w = do(s, http.MethodHead, cssURL, "Accept-Encoding", "br")
	enc, _ := s.Encoded("css/site.css", Brotli)
	if w.Code != 200 || w.Header().Get("Content-Encoding") != Brotli || w.Header().Get("Content-Length") != strconv.Itoa(len(enc)) || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d %q %q %d", w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Content-Length"), w.Body.Len())
	}

	// A Vary set by an outer middleware is kept.
	r := httptest.NewRequest(http.MethodGet, cssURL, nil)
	r.Header.Set("Accept-Encoding", "br")
	rec := httptest.NewRecorder()
	rec.Header().Set("Vary", "Origin")
	s.ServeHTTP(rec, r)
	if got := rec.Header().Values("Vary"); strings.Join(got, ",") != "Origin,Accept-Encoding" {
		t.Errorf("Vary %q, want Origin and Accept-Encoding", got)
	}

	// What has no copy is served as it is, without Vary.
	pngURL, _ := s.URL("img/dot.png")
	w = get(s, pngURL, "Accept-Encoding", "br, gzip")
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "" || w.Header().Get("Vary") != "" {
		t.Errorf("png: %d %q %q", w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Vary"))
	}
	// A sniffed type is the original's, never the compressed bytes'.
	licURL, _ := s.URL("LICENSE")
	checkEncoded(t, "sniffed type", get(s, licURL, "Accept-Encoding", "gzip"), Gzip, CacheImmutable, "text/plain; charset=utf-8", mustContent(t, s, "LICENSE"))

	// A set that replaces this one serves its copies under the old names.
	next := mustBuild(t, files("css/site.css", "p{}"), &Options{Previous: []*Set{s}})
	checkEncoded(t, "previous set", get(next, cssURL, "Accept-Encoding", "br"), Brotli, CacheImmutable, cssType, css)
}

// Through a real server and client: the copy goes with its length, not
// chunked, and Go's transport, which asks for gzip itself, decodes it. The
// script is hex text, which compresses to about half: its copies are
// larger than what net/http buffers to compute a length by itself (2 kB).
func TestHandlerEncodedOverHTTP(t *testing.T) {
	js := "var data = \"" + hex.EncodeToString(randomBytes(8192)) + "\";\n"
	s := mustBuild(t, files("js/app.js", js), &Options{Compress: CompressFast})
	srv := httptest.NewServer(s)
	defer srv.Close()
	jsURL, _ := s.URL("js/app.js")
	res, err := srv.Client().Get(srv.URL + jsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !res.Uncompressed || string(body) != js {
		t.Errorf("transport got Uncompressed=%v and %d bytes, want the decoded script", res.Uncompressed, len(body))
	}
	enc, _ := s.Encoded("js/app.js", Gzip)
	if len(enc) < 4096 {
		t.Fatalf("the gzip copy has %d bytes, too few to test chunking", len(enc))
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+jsURL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ContentLength != int64(len(enc)) || len(res.TransferEncoding) != 0 {
		t.Errorf("Content-Length %d, Transfer-Encoding %v, want %d bytes, not chunked", res.ContentLength, res.TransferEncoding, len(enc))
	}
}

// loadedTree writes what `hoard assets build` writes for the tree (the
// hashed copies, their compressed copies, the manifest) into a directory
// and returns it with the set Load makes of it.
func loadedTree(t *testing.T, naming Naming, kv ...string) (string, *Manifest, *Set) {
	t.Helper()
	built := mustBuild(t, files(kv...), &Options{Compress: CompressFast, Naming: naming})
	dir := t.TempDir()
	m := built.Manifest()
	for name, hashed := range m.Assets {
		file := hashed
		if naming == HashInQuery {
			file = name
		}
		writeTree(t, dir, file, mustContent(t, built, name))
		for _, coding := range m.Encodings[name] {
			enc, err := built.Encoded(name, coding)
			if err != nil {
				t.Fatal(err)
			}
			writeTree(t, dir, EncodedName(file, coding), string(enc))
		}
	}
	s, err := Load(os.DirFS(dir), m, &Options{Naming: naming})
	if err != nil {
		t.Fatal(err)
	}
	return dir, m, s
}

func TestHandlerLoadedEncoded(t *testing.T) {
	dir, m, s := loadedTree(t, HashInName, compressedFiles()...)
	cssURL, _ := s.URL("css/site.css")
	const cssType = "text/css; charset=utf-8"
	brETag := checkEncoded(t, "loaded br", get(s, cssURL, "Accept-Encoding", "br"), Brotli, CacheImmutable, cssType, bigCSSRewritten(t, m))
	checkEncoded(t, "loaded gzip", get(s, cssURL, "Accept-Encoding", "gzip"), Gzip, CacheImmutable, cssType, bigCSSRewritten(t, m))
	idETag := checkEncoded(t, "loaded identity", get(s, cssURL), "", CacheImmutable, cssType, bigCSSRewritten(t, m))
	if brETag == idETag || brETag == "" {
		t.Errorf("loaded ETags: br %q identity %q", brETag, idETag)
	}
	check(t, "loaded br 304", get(s, "/static/css/site.css", "Accept-Encoding", "br", "If-None-Match", brETag), http.StatusNotModified, CacheRevalidate, "")
	licURL, _ := s.URL("LICENSE")
	checkEncoded(t, "loaded, sniffed type", get(s, licURL, "Accept-Encoding", "br"), Brotli, CacheImmutable, "text/plain; charset=utf-8", strings.Repeat("Permission is hereby granted, free of charge. ", 40))

	// A copy the manifest lists must be there at Load.
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(EncodedName(m.Assets["js/app.js"], Gzip)))); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(os.DirFS(dir), m, nil); err == nil || !strings.Contains(err.Error(), "js/app.js") {
		t.Errorf("Load with a compressed copy missing: %v", err)
	}
}

// bigCSSRewritten is bigCSS as the build rewrote it.
func bigCSSRewritten(t *testing.T, m *Manifest) string {
	t.Helper()
	return strings.Replace(bigCSS, "../img/dot.png", "../"+m.Assets["img/dot.png"], 1)
}

// Under HashInQuery the copies sit beside the logical file, which may be
// edited in place: its copies are then of other content, and are not
// served.
func TestHandlerLoadedEncodedEditedInPlace(t *testing.T) {
	dir, _, s := loadedTree(t, HashInQuery, "app.js", bigJS)
	u, _ := s.URL("app.js")
	checkEncoded(t, "as built", get(s, u, "Accept-Encoding", "br"), Brotli, CacheImmutable, "text/javascript; charset=utf-8", bigJS)

	p := filepath.Join(dir, "app.js")
	edited := bigJS + "edited();\n"
	if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	checkEncoded(t, "edited", get(s, u, "Accept-Encoding", "br"), "", CacheRevalidate, "text/javascript; charset=utf-8", edited)
}
