package assets_test

import (
	"fmt"
	"html/template"
	"net/http/httptest"
	"os"
	"strings"
	"testing/fstest"

	"github.com/hoard-cache/hoard/assets"
)

// static stands in for an embed.FS or os.DirFS of a static directory.
var static = fstest.MapFS{
	"css/site.css": {Data: []byte(`body{background:url("../img/logo.png")}`)},
	"img/logo.png": {Data: []byte("\x89PNG...")},
	"js/app.js":    {Data: []byte(`console.log("hi")`)},
}

// Build hashes every file at start-up; the stylesheet's url() now names
// the image's hashed copy, and its own hash covers that.
func ExampleBuild() {
	set, err := assets.Build(static, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := set.Manifest().WriteTo(os.Stdout); err != nil {
		fmt.Println(err)
	}
	css, _ := set.Content("css/site.css")
	fmt.Println(string(css))
	// Output:
	// {
	//   "version": 2,
	//   "assets": {
	//     "css/site.css": "css/site.f79fdadd.css",
	//     "img/logo.png": "img/logo.20bb5226.png",
	//     "js/app.js": "js/app.4cc1666b.js"
	//   }
	// }
	// body{background:url("../img/logo.20bb5226.png")}
}

// The asset template function writes hashed URLs into pages, and fails
// the page for a name that is not there.
func ExampleSet_FuncMap() {
	set, _ := assets.Build(static, nil)
	page := template.Must(template.New("page").Funcs(set.FuncMap()).Parse(
		`<link rel="stylesheet" href="{{ asset "css/site.css" }}">` + "\n" +
			`<script src="{{ asset "js/app.js" }}"></script>`))
	_ = page.Execute(os.Stdout, nil)
	fmt.Println()

	typo := template.Must(template.New("typo").Funcs(set.FuncMap()).Parse(`{{ asset "css/sight.css" }}`))
	fmt.Println(typo.Execute(new(strings.Builder), nil))
	// Output:
	// <link rel="stylesheet" href="/static/css/site.f79fdadd.css">
	// <script src="/static/js/app.4cc1666b.js"></script>
	// template: typo:1:3: executing "typo" at <asset "css/sight.css">: error calling asset: hoard: assets: unknown asset "css/sight.css"
}

// The Set is the handler: hashed names are cached for a year, logical
// names revalidate with their ETag.
func ExampleSet_ServeHTTP() {
	set, _ := assets.Build(static, nil)
	for _, target := range []string{"/static/js/app.4cc1666b.js", "/static/js/app.js", "/static/js/nope.js"} {
		w := httptest.NewRecorder()
		set.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		fmt.Println(target, w.Code, w.Header().Get("Content-Type"), "|", w.Header().Get("Cache-Control"))
	}

	// The browser's revalidation of a logical name it has cached.
	first := httptest.NewRecorder()
	set.ServeHTTP(first, httptest.NewRequest("GET", "/static/js/app.js", nil))
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/static/js/app.js", nil)
	r.Header.Set("If-None-Match", first.Header().Get("ETag"))
	set.ServeHTTP(w, r)
	fmt.Println("revalidated:", w.Code)
	// Output:
	// /static/js/app.4cc1666b.js 200 text/javascript; charset=utf-8 | public, max-age=31536000, immutable
	// /static/js/app.js 200 text/javascript; charset=utf-8 | no-cache
	// /static/js/nope.js 404 text/plain; charset=utf-8 | no-store
	// revalidated: 304
}

// With Compress, the handler sends a compressed copy to clients that
// accept one, by their Accept-Encoding.
func ExampleOptions_compress() {
	js := strings.Repeat("console.log('hoard');\n", 100) // 2 200 bytes
	set, _ := assets.Build(fstest.MapFS{"app.js": {Data: []byte(js)}}, &assets.Options{Compress: assets.CompressFast})
	fmt.Println(set.Manifest().Encodings)
	u, _ := set.URL("app.js")
	for _, accept := range []string{"gzip, deflate, br, zstd", "gzip", "br;q=0, gzip;q=0", ""} {
		r := httptest.NewRequest("GET", u, nil)
		r.Header.Set("Accept-Encoding", accept)
		w := httptest.NewRecorder()
		set.ServeHTTP(w, r)
		fmt.Printf("%-26q %d %-4s Vary: %s, smaller: %v\n", accept, w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Vary"), w.Body.Len() < len(js))
	}
	// Output:
	// map[app.js:[br gzip]]
	// "gzip, deflate, br, zstd"  200 br   Vary: Accept-Encoding, smaller: true
	// "gzip"                     200 gzip Vary: Accept-Encoding, smaller: true
	// "br;q=0, gzip;q=0"         200      Vary: Accept-Encoding, smaller: false
	// ""                         200      Vary: Accept-Encoding, smaller: false
}

// A manifest built ahead of time (hoard assets build) is loaded with the
// hashed copies beside it; nothing is hashed at start-up.
func ExampleLoad() {
	built := fstest.MapFS{
		"manifest.json":      {Data: []byte(`{"version": 1, "assets": {"js/app.js": "js/app.4cc1666b.js"}}`)},
		"js/app.js":          {Data: []byte(`console.log("hi")`)},
		"js/app.4cc1666b.js": {Data: []byte(`console.log("hi")`)},
	}
	m, err := assets.ReadManifest(built, "manifest.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	set, err := assets.Load(built, m, &assets.Options{Prefix: "https://cdn.example.com/static/"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(set.URL("js/app.js"))
	// Output:
	// https://cdn.example.com/static/js/app.4cc1666b.js <nil>
}

// A stylesheet that references a file the set does not have fails the
// build; with AllowMissing the reference is left as written and listed.
func ExampleOptions_allowMissing() {
	broken := fstest.MapFS{"css/site.css": {Data: []byte("h1{color:red}\nbody{background:url(../img/bg.png)}")}}
	_, err := assets.Build(broken, nil)
	fmt.Println(err)

	set, _ := assets.Build(broken, &assets.Options{AllowMissing: true})
	for _, m := range set.Missing() {
		fmt.Println("warning:", m)
	}
	// Output:
	// hoard: assets: reference to a missing file: css/site.css:2: url(../img/bg.png): img/bg.png is not in the set
	// warning: css/site.css:2: url(../img/bg.png): img/bg.png is not in the set
}

// Rebuilding with the old set in Options.Previous keeps the URLs of pages
// rendered before the rebuild working.
func ExampleOptions_previous() {
	v1, _ := assets.Build(fstest.MapFS{"app.js": {Data: []byte("v1()")}}, nil)
	v2, _ := assets.Build(fstest.MapFS{"app.js": {Data: []byte("v2()")}}, &assets.Options{Previous: []*assets.Set{v1}})
	oldURL, _ := v1.URL("app.js")
	newURL, _ := v2.URL("app.js")
	for _, u := range []string{oldURL, newURL} {
		w := httptest.NewRecorder()
		v2.ServeHTTP(w, httptest.NewRequest("GET", u, nil))
		fmt.Println(u, w.Code, w.Body)
	}
	// Output:
	// /static/app.a3a91254.js 200 v1()
	// /static/app.230d5356.js 200 v2()
}
