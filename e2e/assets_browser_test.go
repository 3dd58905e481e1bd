package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hoard-cache/hoard/assets"
)

const pageHTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>hoard assets</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{ asset "css/site.css" }}">
<script src="{{ asset "js/app.js" }}"></script>
</head><body><p id="probe">hoard</p></body></html>
`

// pageState is what the page shows, read in the browser.
type pageState struct {
	Color      string `json:"color"`      // computed color of #probe
	Background string `json:"background"` // computed background-image of #probe
	App        string `json:"app"`        // set by js/app.js
	CSS        string `json:"css"`        // the stylesheet's URL
}

const readState = `JSON.stringify({
	color: getComputedStyle(document.getElementById("probe")).color,
	background: getComputedStyle(document.getElementById("probe")).backgroundImage,
	app: document.documentElement.dataset.app || "",
	css: document.querySelector("link[rel=stylesheet]").href,
})`

// siteCSS returns a stylesheet of some 17 kB that compresses well, whose
// last rule colours #probe: the page shows that colour only if the browser
// decoded the whole file.
func siteCSS(color string) string {
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, ".item-%d { margin: %dpx auto; padding: 0 %dpx; }\n", i, i%7, i%5)
	}
	fmt.Fprintf(&b, "#probe { color: %s; background-image: url(../img/dot.svg); }\n", color)
	return b.String()
}

// appJS returns a script of some 12 kB that compresses well, and what it
// sets data-app to: the count and total length of its words, which the
// page gets right only from the whole, decoded script.
func appJS() (js, app string) {
	var b strings.Builder
	b.WriteString("const words = [\n")
	total := 0
	for i := range 1000 {
		w := fmt.Sprintf("word-%d", i)
		total += len(w)
		fmt.Fprintf(&b, "  %q,\n", w)
	}
	b.WriteString("];\nlet total = 0;\nfor (const w of words) total += w.length;\n")
	b.WriteString("document.documentElement.dataset.app = \"ran:\" + words.length + \":\" + total;\n")
	return b.String(), fmt.Sprintf("ran:1000:%d", total)
}

// wantEncoding returns the coding the assets handler should choose for a
// request with Accept-Encoding ae.
func wantEncoding(ae string) string {
	switch {
	case strings.Contains(ae, assets.Brotli):
		return assets.Brotli
	case strings.Contains(ae, assets.Gzip):
		return assets.Gzip
	}
	return ""
}

func writeFile(t *testing.T, dir, name, data string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAssetsBrowserCache proves cache busting in a real browser: a page
// served with no-cache and an ETag links a stylesheet and a script through
// the assets handler. Loaded again (same-URL navigation, reload, a new tab)
// the browser asks only for the page, which is answered 304, and takes every
// asset from its memory or disk cache. After the stylesheet changes on disk
// and the set is rebuilt, the next load links a new URL, fetches only that,
// and shows the new style.
//
// The stylesheet and the script are compressed (Options.Compress): each
// is fetched once, compressed as the browser's Accept-Encoding asks
// (DevTools sees that Content-Encoding and fewer bytes on the wire than
// the file), decoded whole (the page shows what their last lines do), and
// then comes from the cache like the rest. The tiny image goes as it is.
func TestAssetsBrowserCache(t *testing.T) {
	ctx := newBrowser(t, 60*time.Second)

	static := t.TempDir()
	js, wantApp := appJS()
	writeFile(t, static, "css/site.css", siteCSS("rgb(200, 0, 0)"))
	writeFile(t, static, "img/dot.svg", `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>`)
	writeFile(t, static, "js/app.js", js)
	set, err := assets.Build(os.DirFS(static), &assets.Options{Compress: assets.CompressFast})
	if err != nil {
		t.Fatal(err)
	}
	var cur atomic.Pointer[assets.Set]
	cur.Store(set)

	page := template.Must(template.New("page").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) { return cur.Load().URL(name) },
	}).Parse(pageHTML))
	var srvLog serverLog
	mux := http.NewServeMux()
	mux.Handle("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cur.Load().ServeHTTP(w, r) }))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		if err := page.Execute(&b, nil); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sum := sha256.Sum256(b.Bytes())
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b.Bytes())) // 304 on a matching If-None-Match
	})
	srv := httptest.NewServer(srvLog.wrap(mux))
	t.Cleanup(srv.Close)

	url := func(name string) string {
		t.Helper()
		u, err := cur.Load().URL(name)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	names := []string{"css/site.css", "js/app.js", "img/dot.svg"}
	v1 := map[string]string{}
	for _, name := range names {
		v1[name] = url(name)
	}

	var tabNet netLog // chromedp enables the Network domain of every tab
	if err := tabNet.listen(ctx); err != nil {
		t.Fatal(err)
	}
	// step runs load in the tab ctx, whose events net records, and returns
	// what the server and the browser saw meanwhile, and the page's state.
	step := func(name string, ctx context.Context, net *netLog, load chromedp.Action[chromedp.Void]) ([]hit, []netEvent, pageState) {
		t.Helper()
		s0, n0 := srvLog.len(), net.len()
		if err := chromedp.Do(ctx, load); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](readState))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var st pageState
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		hits, events := srvLog.since(s0), net.since(n0)
		t.Logf("%s:\n  page   %+v\n  server %+v\n  events %+v", name, st, hits, events)
		return hits, events, st
	}
	wantState := func(name string, st pageState, color string) {
		t.Helper()
		if st.Color != color {
			t.Errorf("%s: #probe color %q, want %q", name, st.Color, color)
		}
		if st.App != wantApp {
			t.Errorf("%s: js/app.js set data-app %q, want %q", name, st.App, wantApp)
		}
		if st.CSS != srv.URL+url("css/site.css") {
			t.Errorf("%s: stylesheet %s, want %s", name, st.CSS, srv.URL+url("css/site.css"))
		}
		if want := `url("` + srv.URL + v1["img/dot.svg"] + `")`; st.Background != want {
			t.Errorf("%s: background-image %s, want %s (the url() rewritten to the hashed name)", name, st.Background, want)
		}
	}

	// 1. First visit: the page and every asset come from the server.
	hits, _, st := step("first load", ctx, &tabNet, chromedp.Navigate(srv.URL+"/"))
	wantState("first load", st, "rgb(200, 0, 0)")
	if len(hits) != 4 || hits[0].path != "/" || hits[0].status != 200 || hits[0].etag == "" {
		t.Fatalf("first load: server saw %+v, want the page (200, with an ETag) and 3 assets", hits)
	}
	pageETag := hits[0].etag
	for _, name := range names {
		if n := countPath(hits, v1[name], 200); n != 1 {
			t.Errorf("first load: %s fetched %d times with 200, want 1", v1[name], n)
		}
	}
	wantCompressed := func(step string, hits []hit, net *netLog, name, path string) {
		t.Helper()
		content, err := cur.Load().Content(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.path != path {
				continue
			}
			want := wantEncoding(h.acceptEncoding)
			if !compressible(name) {
				want = ""
			}
			if h.contentEncoding != want || want != "" && h.bytes >= len(content) {
				t.Errorf("%s: %s sent with Content-Encoding %q, %d bytes of %d, want %q for Accept-Encoding %q",
					step, path, h.contentEncoding, h.bytes, len(content), want, h.acceptEncoding)
			}
			e, err := net.waitDone(ctx, srv.URL+path)
			if err != nil {
				t.Fatalf("%s: %s did not finish loading: %v", step, path, err)
			}
			if e.encoding != want || want != "" && e.received >= float64(len(content)) {
				t.Errorf("%s: DevTools saw %s with Content-Encoding %q and %.0f bytes received, want %q and fewer than %d",
					step, path, e.encoding, e.received, want, len(content))
			}
		}
	}
	for _, name := range names {
		wantCompressed("first load", hits, &tabNet, name, v1[name])
	}

	// 2-4. Visits again: only the page is asked for, revalidated with its
	// ETag and answered 304; every asset comes from the browser's cache.
	tab2, cancelTab2 := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab2)
	var tab2Net netLog
	if err := tab2Net.listen(tab2); err != nil {
		t.Fatal(err)
	}
	for _, again := range []struct {
		name string
		ctx  context.Context
		net  *netLog
		load chromedp.Action[chromedp.Void]
	}{
		{"navigation to the same URL", ctx, &tabNet, chromedp.Navigate(srv.URL + "/")},
		{"reload", ctx, &tabNet, chromedp.Reload()},
		{"new tab", tab2, &tab2Net, chromedp.Navigate(srv.URL + "/")},
	} {
		hits, events, st := step(again.name, again.ctx, again.net, again.load)
		wantState(again.name, st, "rgb(200, 0, 0)")
		if len(hits) != 1 || hits[0].path != "/" || hits[0].ifNoneMatch != pageETag || hits[0].status != http.StatusNotModified {
			t.Errorf("%s: server saw %+v, want only the page, with If-None-Match %s, answered 304", again.name, hits, pageETag)
		}
		for _, name := range names {
			e, ok := eventFor(events, srv.URL+v1[name])
			switch {
			case !ok:
				t.Errorf("%s: no DevTools event for %s", again.name, v1[name])
			case !e.fromMemory && !e.fromDisk:
				t.Errorf("%s: %s not from the memory or disk cache: %+v", again.name, v1[name], e)
			}
		}
	}

	// 5. The stylesheet changes on disk; the set is rebuilt, keeping the old
	// one's hashed names, and swapped in.
	writeFile(t, static, "css/site.css", siteCSS("rgb(0, 0, 200)"))
	next, err := assets.Build(os.DirFS(static), &assets.Options{Compress: assets.CompressFast, Previous: []*assets.Set{cur.Load()}})
	if err != nil {
		t.Fatal(err)
	}
	cur.Store(next)
	newCSS := url("css/site.css")
	if newCSS == v1["css/site.css"] {
		t.Fatalf("the stylesheet changed but kept its URL %s", newCSS)
	}
	hits, events, st := step("load after the change", ctx, &tabNet, chromedp.Navigate(srv.URL+"/"))
	wantState("load after the change", st, "rgb(0, 0, 200)")
	if len(hits) != 2 || hits[0].path != "/" || hits[0].ifNoneMatch != pageETag || hits[0].status != 200 ||
		hits[1].path != newCSS || hits[1].status != 200 {
		t.Errorf("after the change: server saw %+v, want the page (revalidated, 200: it changed) and %s only", hits, newCSS)
	}
	wantCompressed("after the change", hits, &tabNet, "css/site.css", newCSS)
	for _, name := range []string{"js/app.js", "img/dot.svg"} {
		if e, ok := eventFor(events, srv.URL+v1[name]); !ok || (!e.fromMemory && !e.fromDisk) {
			t.Errorf("after the change: unchanged %s not from the cache: %+v", v1[name], e)
		}
	}

	// 6. A page rendered before the swap (another instance, a rolling
	// deploy) still gets the old stylesheet, still immutable, compressed
	// for Go's client too (which asks for gzip and decodes it).
	res, err := http.Get(srv.URL + v1["css/site.css"])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != assets.CacheImmutable || !res.Uncompressed || !strings.Contains(string(body), "rgb(200, 0, 0)") {
		t.Errorf("old stylesheet after the swap: %d %q uncompressed by the client %v, %d bytes", res.StatusCode, res.Header.Get("Cache-Control"), res.Uncompressed, len(body))
	}
}

// compressible reports whether the test's asset name is large enough to
// get compressed copies.
func compressible(name string) bool {
	return name != "img/dot.svg"
}
