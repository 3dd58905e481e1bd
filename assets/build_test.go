package assets

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	for _, o := range []*Options{
		{Prefix: "/static"},
		{Prefix: "static/"},
		{Prefix: "/static/?x=1/"},
		{Prefix: "/a/#f/"},
		{Prefix: "%zz/"},
		{Naming: Naming(7)},
		{HashLen: 7},
		{HashLen: 65},
		{MaxBytes: -1},
		{Compress: Compression(3)},
		{Compress: -1},
		{Previous: []*Set{nil}},
	} {
		if _, err := Build(files("a.js", "1"), o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("Build(%+v): err = %v, want ErrInvalidOption", *o, err)
		}
		if _, err := Load(files(), &Manifest{Version: 1}, o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("Load(%+v): err = %v, want ErrInvalidOption", *o, err)
		}
	}
	for _, o := range []*Options{nil, {}, {Prefix: "/"}, {Prefix: "https://cdn.example.com/s/"}, {HashLen: 64}} {
		if _, err := Build(files("a.js", "1"), o); err != nil {
			t.Errorf("Build(%+v): %v", o, err)
		}
	}
	if HashInName.String() != "name" || HashInQuery.String() != "query" || Naming(9).String() != "Naming(9)" {
		t.Error("Naming.String")
	}
	if CompressNone.String() != "none" || CompressFast.String() != "fast" || CompressBest.String() != "best" || Compression(9).String() != "Compression(9)" {
		t.Error("Compression.String")
	}
}

func TestBuildManifest(t *testing.T) {
	s := mustBuild(t, files(
		"css/site.css", "body{}",
		"js/app.min.js", "go()",
		"LICENSE", "MIT",
	), &Options{HashLen: 12})
	want := map[string]string{
		"LICENSE":       "LICENSE." + sum([]byte("MIT"))[:12],
		"css/site.css":  "css/site." + sum([]byte("body{}"))[:12] + ".css",
		"js/app.min.js": "js/app.min." + sum([]byte("go()"))[:12] + ".js",
	}
	m := s.Manifest()
	if len(m.Assets) != len(want) || m.Version != ManifestVersion {
		t.Fatalf("manifest %v, want %v", m, want)
	}
	for k, v := range want {
		if m.Assets[k] != v {
			t.Errorf("%s -> %s, want %s", k, m.Assets[k], v)
		}
	}
	if got := m.Names(); !slices.Equal(got, []string{"LICENSE", "css/site.css", "js/app.min.js"}) {
		t.Errorf("Names() = %v", got)
	}
	m.Assets["LICENSE"] = "changed"
	if s.Manifest().Assets["LICENSE"] == "changed" {
		t.Error("Manifest() returned the set's own map")
	}
}

func TestBuildSkips(t *testing.T) {
	out := "css/site." + short("body{}") + ".css"
	s := mustBuild(t, files(
		"css/site.css", "body{}",
		out, "body{}", // a copy from an earlier build
		"css/site.deadbeef.css", "not that hash", // looks hashed, is a source
		".env", "SECRET=1",
		".git/config", "[core]",
		"css/.DS_Store", "x",
		"manifest.json", `{"version":1,"assets":{}}`,
	), &Options{Skip: func(name string) bool { return name == "manifest.json" }})
	if got, want := s.Manifest().Names(), []string{"css/site.css", "css/site.deadbeef.css"}; !slices.Equal(got, want) {
		t.Errorf("assets %v, want %v", got, want)
	}
}

func TestBuildMaxBytes(t *testing.T) {
	_, err := Build(files("a.js", strings.Repeat("x", 600), "b.js", strings.Repeat("y", 600)), &Options{MaxBytes: 1000})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
	if _, err := Build(files("a.js", strings.Repeat("x", 600)), &Options{MaxBytes: 1000}); err != nil {
		t.Errorf("under the bound: %v", err)
	}
}

func TestBuildDirFS(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("css/site.css", "a{b:url(../img/x.png)}")
	write("img/x.png", "PNG")
	if err := os.Symlink(filepath.Join(dir, "img", "x.png"), filepath.Join(dir, "img", "link.png")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if err := os.Symlink(filepath.Join(dir, "img"), filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	s, err := Build(os.DirFS(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Manifest().Names(), []string{"css/site.css", "img/link.png", "img/x.png"}; !slices.Equal(got, want) {
		t.Errorf("assets %v, want %v (a link to a file counts, to a directory not)", got, want)
	}
	if _, err := Build(os.DirFS(filepath.Join(dir, "nope")), nil); err == nil || !strings.HasPrefix(err.Error(), "hoard: assets: ") {
		t.Errorf("missing directory: err = %v", err)
	}
}
