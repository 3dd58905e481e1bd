package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"github.com/hoard-cache/hoard/assets"
)

// runHoard runs the command line args and returns its status and output.
func runHoard(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeAssetTree(t *testing.T, dir string, kv ...string) {
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

func readManifestFile(t *testing.T, path string) *assets.Manifest {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := assets.LoadManifest(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAssetsBuildInPlace(t *testing.T) {
	dir := t.TempDir()
	writeAssetTree(t, dir,
		"css/site.css", "body{background:url(../img/bg.png)}",
		"img/bg.png", "PNG1",
		"js/app.js", "go()",
	)
	code, out, errs := runHoard("assets", "build", dir)
	if code != 0 {
		t.Fatalf("build: %d %s", code, errs)
	}
	if !strings.Contains(out, "3 assets") || !strings.Contains(out, "4 files written") {
		t.Errorf("output %q", out)
	}
	m1 := readManifestFile(t, filepath.Join(dir, "manifest.json"))
	if len(m1.Assets) != 3 {
		t.Fatalf("manifest %v", m1.Assets)
	}
	css, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(m1.Assets["css/site.css"])))
	if err != nil {
		t.Fatal(err)
	}
	if want := "url(../" + m1.Assets["img/bg.png"] + ")"; !strings.Contains(string(css), want) {
		t.Errorf("hashed stylesheet %q does not hold %q", css, want)
	}
	if src, _ := os.ReadFile(filepath.Join(dir, "css", "site.css")); string(src) != "body{background:url(../img/bg.png)}" {
		t.Errorf("the source was modified: %q", src)
	}

	// Again, unchanged: nothing written, the hashed copies are not assets.
	code, out, errs = runHoard("assets", "build", dir)
	if code != 0 || !strings.Contains(out, "3 assets") || !strings.Contains(out, "0 files written") {
		t.Errorf("rebuild: %d %q %q", code, out, errs)
	}

	// The image changes: new names for it and the stylesheet, old copies kept.
	writeAssetTree(t, dir, "img/bg.png", "PNG2")
	if code, _, errs := runHoard("assets", "build", dir); code != 0 {
		t.Fatalf("build after a change: %s", errs)
	}
	m2 := readManifestFile(t, filepath.Join(dir, "manifest.json"))
	for _, name := range []string{"css/site.css", "img/bg.png"} {
		if m1.Assets[name] == m2.Assets[name] {
			t.Errorf("%s kept its hashed name %s", name, m2.Assets[name])
		}
	}
	if m1.Assets["js/app.js"] != m2.Assets["js/app.js"] {
		t.Error("an unchanged file got a new name")
	}

	// What assets.Load serves from the directory: the new version, and the
	// old hashed names for pages rendered before the deploy.
	set, err := assets.Load(os.DirFS(dir), m2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, hashed := range []string{m1.Assets["css/site.css"], m2.Assets["css/site.css"], m1.Assets["img/bg.png"]} {
		w := httptest.NewRecorder()
		set.ServeHTTP(w, httptest.NewRequest("GET", "/static/"+hashed, nil))
		if w.Code != 200 || w.Header().Get("Cache-Control") != assets.CacheImmutable {
			t.Errorf("%s: %d %q", hashed, w.Code, w.Header().Get("Cache-Control"))
		}
	}

	code, out, _ = runHoard("assets", "ls", filepath.Join(dir, "manifest.json"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("ls: %d %q", code, out)
	}
	for i, name := range []string{"css/site.css", "img/bg.png", "js/app.js"} {
		if f := strings.Fields(lines[i]); len(f) != 3 || f[0] != name || f[1] != "→" || f[2] != m2.Assets[name] {
			t.Errorf("ls line %d: %q", i, lines[i])
		}
	}
}

func TestAssetsBuildOutAndManifestPath(t *testing.T) {
	src, out := t.TempDir(), t.TempDir()
	writeAssetTree(t, src, "css/site.css", "a{b:url(x.png)}", "css/x.png", "X")
	man := filepath.Join(out, "meta", "assets.json")
	code, _, errs := runHoard("assets", "build", "-out", out, src, "-o", man, "-query", "-hash-len", "12")
	if code != 0 {
		t.Fatalf("build: %s", errs)
	}
	if entries, _ := os.ReadDir(src); len(entries) != 1 {
		t.Errorf("-out wrote into the sources: %v", entries)
	}
	m := readManifestFile(t, man)
	if got := m.Assets["css/x.png"]; !strings.HasPrefix(got, "css/x.png?v=") || len(got) != len("css/x.png?v=")+12 {
		t.Errorf("query naming: %s", got)
	}
	css, err := os.ReadFile(filepath.Join(out, "css", "site.css"))
	if err != nil || string(css) != "a{b:url(x.png?v="+strings.TrimPrefix(m.Assets["css/x.png"], "css/x.png?v=")+")}" {
		t.Errorf("rewritten copy %q, %v", css, err)
	}

	// A manifest written inside DIR is not taken for an asset next time.
	inDir := filepath.Join(src, "m.json")
	for range 2 {
		if code, _, errs := runHoard("assets", "build", src, "-o", inDir); code != 0 {
			t.Fatalf("build: %s", errs)
		}
	}
	if _, ok := readManifestFile(t, inDir).Assets["m.json"]; ok {
		t.Error("the manifest became an asset")
	}
}

// build writes a brotli and a gzip copy of each hashed copy that
// compresses, lists them in the manifest, and assets.Load serves them.
func TestAssetsBuildCompressed(t *testing.T) {
	dir := t.TempDir()
	css := strings.Repeat("#a .b{color:rgb(200,0,0);margin:0 auto}\n", 40) + "p{background:url(../img/bg.png)}\n"
	js := strings.Repeat("console.log('compressible');\n", 40)
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("A", 2000)
	writeAssetTree(t, dir, "css/site.css", css, "js/app.js", js, "img/bg.png", png)
	code, out, errs := runHoard("assets", "build", dir)
	if code != 0 {
		t.Fatalf("build: %d %s", code, errs)
	}
	// 3 hashed copies, 2 x 2 compressed copies, the manifest.
	if !strings.Contains(out, "3 assets") || !strings.Contains(out, "8 files written") ||
		!strings.Contains(out, "br: 2 assets") || !strings.Contains(out, "gzip: 2 assets") {
		t.Errorf("output %q", out)
	}
	m := readManifestFile(t, filepath.Join(dir, "manifest.json"))
	if len(m.Encodings) != 2 || len(m.Encodings["css/site.css"]) != 2 || len(m.Encodings["js/app.js"]) != 2 {
		t.Errorf("manifest encodings %v", m.Encodings)
	}
	for _, name := range []string{"css/site.css", "js/app.js"} {
		hashed := m.Assets[name]
		want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(hashed)))
		if err != nil {
			t.Fatal(err)
		}
		for _, coding := range []string{assets.Brotli, assets.Gzip} {
			enc, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(assets.EncodedName(hashed, coding))))
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeBody(t, coding, enc); got != string(want) {
				t.Errorf("%s of %s does not decode to it", coding, hashed)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(m.Assets["img/bg.png"])+".gz")); err == nil {
		t.Error("a PNG got a gzip copy")
	}

	// Again: nothing written, and the copies are not assets.
	if code, out, errs := runHoard("assets", "build", dir); code != 0 || !strings.Contains(out, "3 assets") || !strings.Contains(out, "0 files written") {
		t.Errorf("rebuild: %d %q %q", code, out, errs)
	}

	// What Load serves from the directory.
	set, err := assets.Load(os.DirFS(dir), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/static/"+m.Assets["js/app.js"], nil)
	r.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	w := httptest.NewRecorder()
	set.ServeHTTP(w, r)
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "br" || w.Header().Get("Vary") != "Accept-Encoding" ||
		w.Header().Get("Cache-Control") != assets.CacheImmutable || decodeBody(t, "br", w.Body.Bytes()) != js {
		t.Errorf("served: %d %v", w.Code, w.Header())
	}

	// -compress none writes none; -out -query writes them beside the
	// logical copies.
	plain := t.TempDir()
	writeAssetTree(t, plain, "js/app.js", js)
	if code, _, errs := runHoard("assets", "build", "-compress", "none", plain); code != 0 {
		t.Fatal(errs)
	}
	if m := readManifestFile(t, filepath.Join(plain, "manifest.json")); m.Encodings != nil {
		t.Errorf("-compress none: encodings %v", m.Encodings)
	}
	out2 := t.TempDir()
	if code, _, errs := runHoard("assets", "build", "-compress", "fast", "-out", out2, "-query", plain); code != 0 {
		t.Fatal(errs)
	}
	if _, err := os.Stat(filepath.Join(out2, "js", "app.js.br")); err != nil {
		t.Errorf("-query: %v", err)
	}
}

// decodeBody decodes body from coding.
func decodeBody(t *testing.T, coding string, body []byte) string {
	t.Helper()
	var r io.Reader
	switch coding {
	case assets.Brotli:
		r = brotli.NewReader(bytes.NewReader(body))
	case assets.Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", coding, err)
	}
	return string(data)
}

// A url() to a file DIR does not have fails the build, naming it; with
// -allow-missing the build goes on and warns.
func TestAssetsBuildMissingReference(t *testing.T) {
	dir := t.TempDir()
	writeAssetTree(t, dir, "css/site.css", "a{b:url(../img/ok.png)}\nc{d:url(../img/gone.png)}", "img/ok.png", "PNG")
	want := "css/site.css:2: url(../img/gone.png): img/gone.png is not in the set"
	code, _, errs := runHoard("assets", "build", dir)
	if code != 1 || !strings.Contains(errs, "hoard: assets: reference to a missing file: "+want) || !strings.Contains(errs, "-allow-missing") {
		t.Errorf("build: %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		t.Error("a failed build wrote its manifest")
	}
	code, out, errs := runHoard("assets", "build", "-allow-missing", dir)
	if code != 0 || errs != "hoard assets build: warning: "+want+"\n" || !strings.Contains(out, "2 assets") {
		t.Errorf("build -allow-missing: %d %q %q", code, out, errs)
	}
}

func TestAssetsUsage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	writeAssetTree(t, dir, "f", "x", "bad.json", "{")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"assets"}, 2, "usage: hoard assets"},
		{[]string{"assets", "nope"}, 2, `unknown command "nope"`},
		{[]string{"assets", "build"}, 2, "want one DIR"},
		{[]string{"assets", "build", dir, dir}, 2, "want one DIR"},
		{[]string{"assets", "build", "-query", dir}, 2, "-query needs -out"},
		{[]string{"assets", "build", "-hash-len", "3", dir}, 1, "HashLen 3"},
		{[]string{"assets", "build", "-compress", "max", dir}, 2, `-compress "max": want best, fast or none`},
		{[]string{"assets", "build", "-bogus", dir}, 2, "flag provided but not defined"},
		{[]string{"assets", "build", file}, 1, "not a directory"},
		{[]string{"assets", "build", filepath.Join(dir, "missing")}, 1, "no such file"},
		{[]string{"assets", "ls"}, 2, "usage: hoard assets"},
		{[]string{"assets", "ls", filepath.Join(dir, "missing.json")}, 1, "no such file"},
		{[]string{"assets", "ls", filepath.Join(dir, "bad.json")}, 1, "hoard: assets: invalid manifest"},
	} {
		code, _, errs := runHoard(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: %d %q, want %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	if code, out, _ := runHoard("assets", "help"); code != 0 || !strings.Contains(out, "hoard assets build") {
		t.Errorf("help: %d %q", code, out)
	}
	if code, out, _ := runHoard("help"); code != 0 || !strings.Contains(out, "assets") {
		t.Errorf("hoard help does not list assets: %q", out)
	}
}
