package assets

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// do runs one request against h; hdr holds header name/value pairs.
func do(h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func get(h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	return do(h, http.MethodGet, target, hdr...)
}

// check fails t unless w has status code, the Cache-Control cc (when not
// "") and the body (when not "").
func check(t *testing.T, what string, w *httptest.ResponseRecorder, code int, cc, body string) {
	t.Helper()
	if w.Code != code {
		t.Errorf("%s: status %d, want %d (body %q)", what, w.Code, code, w.Body.String())
	}
	if got := w.Header().Get("Cache-Control"); cc != "" && got != cc {
		t.Errorf("%s: Cache-Control %q, want %q", what, got, cc)
	}
	if body != "" && w.Body.String() != body {
		t.Errorf("%s: body %q, want %q", what, w.Body.String(), body)
	}
}

var siteFiles = []string{
	"css/site.css", "body{background:url(../img/bg.png)}",
	"img/bg.png", "\x89PNG\r\n\x1a\nfake",
	"js/app.js", "console.log(1)",
	".env", "SECRET=1",
}

func TestHandlerHashedAndLogical(t *testing.T) {
	s := mustBuild(t, files(siteFiles...), nil)
	cssURL, _ := s.URL("css/site.css")
	css := mustContent(t, s, "css/site.css")

	w := get(s, cssURL)
	check(t, "hashed", w, 200, CacheImmutable, css)
	if ct := w.Header().Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no X-Content-Type-Options: nosniff")
	}
	etag := w.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
		t.Errorf("ETag %q is not strong", etag)
	}

	w = get(s, "/static/css/site.css")
	check(t, "logical", w, 200, CacheRevalidate, css)
	if got := w.Header().Get("ETag"); got != etag {
		t.Errorf("logical ETag %q, want the content's %q", got, etag)
	}
	w = get(s, "/static/css/site.css", "If-None-Match", etag)
	check(t, "revalidated", w, http.StatusNotModified, CacheRevalidate, "")
	if w.Body.Len() != 0 {
		t.Errorf("304 with a body %q", w.Body.String())
	}
	check(t, "stale ETag", get(s, "/static/css/site.css", "If-None-Match", `"old"`), 200, CacheRevalidate, css)
	check(t, "weak comparison", get(s, "/static/css/site.css", "If-None-Match", "W/"+etag), http.StatusNotModified, "", "")

	jsURL, _ := s.URL("js/app.js")
	if ct := get(s, jsURL).Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("js Content-Type %q", ct)
	}
	pngURL, _ := s.URL("img/bg.png")
	if ct := get(s, pngURL).Header().Get("Content-Type"); ct != "image/png" {
		t.Errorf("png Content-Type %q", ct)
	}
	w = do(s, http.MethodHead, cssURL)
	check(t, "HEAD", w, 200, CacheImmutable, "")
	if w.Body.Len() != 0 {
		t.Error("HEAD with a body")
	}
	w = get(s, jsURL, "Range", "bytes=0-6")
	check(t, "range", w, http.StatusPartialContent, CacheImmutable, "console")
}

func TestHandlerRefuses(t *testing.T) {
	s := mustBuild(t, files(siteFiles...), nil)
	for _, tc := range []struct {
		method, target string
		code           int
	}{
		{"GET", "/static/nope.css", 404},
		{"GET", "/static/css/site.00000000.css", 404},
		{"GET", "/other/css/site.css", 404},
		{"GET", "/static", 404},
		{"GET", "/static/", 404},
		{"GET", "/static/.env", 404},
		{"GET", "/static/../go.mod", 400},
		{"GET", "/static/css/../../go.mod", 400},
		{"GET", "/static/%2e%2e/go.mod", 400},
		{"GET", "/static/css/./site.css", 400},
		{"GET", "/static//etc/passwd", 400},
		{"GET", `/static/css\..\site.css`, 400},
		{"GET", "/static/css/", 400},
		{"POST", "/static/css/site.css", 405},
		{"DELETE", "/static/css/site.css", 405},
	} {
		w := do(s, tc.method, tc.target)
		check(t, tc.method+" "+tc.target, w, tc.code, "no-store", "")
		if w.Header().Get("ETag") != "" {
			t.Errorf("%s: an error with an ETag", tc.target)
		}
	}
	if got := do(s, "POST", "/static/css/site.css").Header().Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow %q", got)
	}
}

func TestHandlerPrefixURL(t *testing.T) {
	s := mustBuild(t, files(siteFiles...), &Options{Prefix: "https://cdn.example.com/assets/v/"})
	u, _ := s.URL("js/app.js")
	if !strings.HasPrefix(u, "https://cdn.example.com/assets/v/js/app.") {
		t.Fatalf("URL %s", u)
	}
	check(t, "CDN origin", get(s, strings.TrimPrefix(u, "https://cdn.example.com")), 200, CacheImmutable, "console.log(1)")
}

func TestHandlerPrevious(t *testing.T) {
	old := mustBuild(t, files("css/site.css", "body{color:red}"), nil)
	cur := mustBuild(t, files("css/site.css", "body{color:blue}"), &Options{Previous: []*Set{old}})
	oldURL, _ := old.URL("css/site.css")
	curURL, _ := cur.URL("css/site.css")
	if oldURL == curURL {
		t.Fatal("same URL for different content")
	}
	check(t, "old hashed name", get(cur, oldURL), 200, CacheImmutable, "body{color:red}")
	check(t, "new hashed name", get(cur, curURL), 200, CacheImmutable, "body{color:blue}")
	check(t, "logical", get(cur, "/static/css/site.css"), 200, CacheRevalidate, "body{color:blue}")
	if u, _ := cur.URL("css/site.css"); u != curURL {
		t.Error("URL gives an old version")
	}
	if _, ok := cur.Manifest().Assets[strings.TrimPrefix(oldURL, "/static/")]; ok {
		t.Error("Manifest holds previous names")
	}
	// Only one generation is kept per listed set.
	newer := mustBuild(t, files("css/site.css", "body{color:green}"), &Options{Previous: []*Set{cur}})
	check(t, "two generations back", get(newer, oldURL), 404, "", "")
	check(t, "one generation back", get(newer, curURL), 200, CacheImmutable, "body{color:blue}")
}

func TestHandlerQueryNaming(t *testing.T) {
	opts := &Options{Naming: HashInQuery}
	old := mustBuild(t, files("app.js", "v1()"), opts)
	opts.Previous = []*Set{old}
	s := mustBuild(t, files("app.js", "v2()"), opts)
	u, _ := s.URL("app.js")
	ou, _ := old.URL("app.js")
	if want := "/static/app.js?v=" + short("v2()"); u != want {
		t.Fatalf("URL %s, want %s", u, want)
	}
	check(t, "current version", get(s, u), 200, CacheImmutable, "v2()")
	check(t, "previous version", get(s, ou), 200, CacheImmutable, "v1()")
	check(t, "unknown version", get(s, "/static/app.js?v=0123456789"), 200, CacheRevalidate, "v2()")
	check(t, "no version", get(s, "/static/app.js"), 200, CacheRevalidate, "v2()")
	check(t, "hash in the name under query naming", get(s, "/static/app."+short("v2()")+".js"), 404, "", "")
}

// writeTree writes name/content pairs under dir.
func writeTree(t *testing.T, dir string, kv ...string) {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		p := filepath.Join(dir, filepath.FromSlash(kv[i]))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(kv[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHandlerLoadedOlderCopies(t *testing.T) {
	dir := t.TempDir()
	oldCSS, newCSS := "body{color:red}", "body{color:blue}"
	oldName := "css/site." + short(oldCSS) + ".css"
	newName := "css/site." + short(newCSS) + ".css"
	writeTree(t, dir,
		"css/site.css", newCSS,
		newName, newCSS,
		oldName, oldCSS, // left by the previous deploy's build
		"css/site.0123abcd.css", "a name that lies about its content",
		"secret.txt", "not an asset",
		".env.0123abcd", "hidden",
	)
	m := &Manifest{Version: 1, Assets: map[string]string{"css/site.css": newName}}
	s, err := Load(os.DirFS(dir), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "current", get(s, "/static/"+newName), 200, CacheImmutable, newCSS)
	check(t, "older copy on disk", get(s, "/static/"+oldName), 200, CacheImmutable, oldCSS)
	check(t, "lying copy", get(s, "/static/css/site.0123abcd.css"), 404, "no-store", "")
	check(t, "not in the manifest", get(s, "/static/secret.txt"), 404, "no-store", "")
	check(t, "hidden", get(s, "/static/.env.0123abcd"), 404, "no-store", "")
	if ct := get(s, "/static/"+oldName).Header().Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("older copy Content-Type %q", ct)
	}

	w := get(s, "/static/css/site.css")
	check(t, "logical", w, 200, CacheRevalidate, newCSS)
	etag := w.Header().Get("ETag")
	check(t, "logical 304", get(s, "/static/css/site.css", "If-None-Match", etag), 304, CacheRevalidate, "")

	// The source is edited in place: the logical name still serves the
	// manifest's version (the hashed copy), as Build's snapshot would.
	p := filepath.Join(dir, "css", "site.css")
	if err := os.WriteFile(p, []byte("body{color:green}"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(t, "source edited", get(s, "/static/css/site.css", "If-None-Match", etag), 304, CacheRevalidate, "")

	// A file removed after Load answers 404, not 500.
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(newName))); err != nil {
		t.Fatal(err)
	}
	check(t, "removed", get(s, "/static/"+newName), 404, "no-store", "")
}

func TestHandlerLoadedQueryEditedInPlace(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, "app.js", "v1()")
	m := &Manifest{Version: 1, Assets: map[string]string{"app.js": "app.js?v=" + short("v1()")}}
	s, err := Load(os.DirFS(dir), m, &Options{Naming: HashInQuery})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := s.URL("app.js")
	w := get(s, u)
	check(t, "as built", w, 200, CacheImmutable, "v1()")
	etag := w.Header().Get("ETag")
	check(t, "as built, revalidated", get(s, u, "If-None-Match", etag), 304, "", "")

	// Edited in place with no new build: no longer what the hash names,
	// so never immutable, and its ETag follows the content.
	p := filepath.Join(dir, "app.js")
	if err := os.WriteFile(p, []byte("v2(1)"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	w = get(s, u, "If-None-Match", etag)
	check(t, "edited", w, 200, CacheRevalidate, "v2(1)")
	if w.Header().Get("ETag") == etag {
		t.Error("the ETag did not change with the content")
	}
}

func TestHandlerBuildOverBuiltDir(t *testing.T) {
	// Build (at start-up) over a directory that still holds an older
	// build's hashed copies serves them too.
	oldCSS := "body{color:red}"
	oldName := "css/site." + short(oldCSS) + ".css"
	s := mustBuild(t, files("css/site.css", "body{color:blue}", oldName, oldCSS), nil)
	check(t, "older copy", get(s, "/static/"+oldName), 200, CacheImmutable, oldCSS)
	if _, ok := s.Manifest().Assets[oldName]; ok {
		t.Error("an older copy became an asset")
	}
}
