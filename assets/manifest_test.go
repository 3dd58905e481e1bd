package assets

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestManifestRoundTrip(t *testing.T) {
	for _, naming := range []Naming{HashInName, HashInQuery} {
		s := mustBuild(t, files("css/site.css", "a{b:url(x.png)}", "css/x.png", "X", "LICENSE", "MIT"), &Options{Naming: naming})
		var buf bytes.Buffer
		n, err := s.Manifest().WriteTo(&buf)
		if err != nil || n != int64(buf.Len()) {
			t.Fatalf("WriteTo = %d, %v (wrote %d)", n, err, buf.Len())
		}
		first := buf.String()
		m, err := LoadManifest(&buf)
		if err != nil {
			t.Fatalf("%v: LoadManifest: %v\n%s", naming, err, first)
		}
		var again bytes.Buffer
		if _, err := m.WriteTo(&again); err != nil {
			t.Fatal(err)
		}
		if again.String() != first {
			t.Errorf("%v: not stable:\n%s\n%s", naming, first, again.String())
		}
		if got, want := m.Assets["css/x.png"], s.Manifest().Assets["css/x.png"]; got != want {
			t.Errorf("%v: css/x.png -> %s, want %s", naming, got, want)
		}
	}
	var buf bytes.Buffer
	if _, err := (&Manifest{}).WriteTo(&buf); err != nil || buf.String() != "{\n  \"version\": 2,\n  \"assets\": {}\n}\n" {
		t.Errorf("empty manifest: %q, %v", buf.String(), err)
	}
}

func TestLoadManifestInvalid(t *testing.T) {
	for name, in := range map[string]string{
		"not JSON":             `{`,
		"no version":           `{"assets":{}}`,
		"future version":       `{"version":3,"assets":{}}`,
		"encodings in v1":      `{"version":1,"assets":{"x.css":"x.3f2a9c1e.css"},"encodings":{"x.css":["br"]}}`,
		"unknown encoding":     `{"version":2,"assets":{"x.css":"x.3f2a9c1e.css"},"encodings":{"x.css":["zstd"]}}`,
		"encoding twice":       `{"version":2,"assets":{"x.css":"x.3f2a9c1e.css"},"encodings":{"x.css":["br","br"]}}`,
		"encoding of no asset": `{"version":2,"assets":{"x.css":"x.3f2a9c1e.css"},"encodings":{"y.css":["br"]}}`,
		"unknown field":        `{"version":1,"assets":{},"x":1}`,
		"traversal":            `{"version":1,"assets":{"../x.css":"../x.3f2a9c1e.css"}}`,
		"absolute":             `{"version":1,"assets":{"/x.css":"/x.3f2a9c1e.css"}}`,
		"hidden":               `{"version":1,"assets":{".env":".env.3f2a9c1e"}}`,
		"not hashed":           `{"version":1,"assets":{"x.css":"x.css"}}`,
		"other file":           `{"version":1,"assets":{"x.css":"y.3f2a9c1e.css"}}`,
		"upper hex":            `{"version":1,"assets":{"x.css":"x.3F2A9C1E.css"}}`,
		"short hash":           `{"version":1,"assets":{"x.css":"x.3f2a.css"}}`,
		"query of other":       `{"version":1,"assets":{"x.css":"y.css?v=3f2a9c1e"}}`,
		"hashed traversal":     `{"version":1,"assets":{"x.css":"../x.3f2a9c1e.css"}}`,
		"backslash":            `{"version":1,"assets":{"a\\b.css":"a\\b.3f2a9c1e.css"}}`,
		"assets not an object": `{"version":1,"assets":[]}`,
	} {
		_, err := LoadManifest(strings.NewReader(in))
		if !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("%s: err = %v, want ErrInvalidManifest", name, err)
		}
	}
}

func TestReadManifestAndLoad(t *testing.T) {
	good := `{"version":1,"assets":{"x.css":"x.3f2a9c1e.css","y.js":"y.js?v=0123456789ab"}}`
	fsys := files("manifest.json", good, "x.3f2a9c1e.css", "a{}", "y.js", "1")
	m, err := ReadManifest(fsys, "manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(fsys, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"x.css": "/static/x.3f2a9c1e.css", "y.js": "/static/y.js?v=0123456789ab"} {
		if got, err := s.URL(name); got != want || err != nil {
			t.Errorf("URL(%s) = %s, %v, want %s", name, got, err, want)
		}
	}
	if got := mustContent(t, s, "x.3f2a9c1e.css"); got != "a{}" {
		t.Errorf("Content = %q", got)
	}

	if _, err := ReadManifest(fsys, "nope.json"); err == nil || !strings.HasPrefix(err.Error(), "hoard: assets: ") {
		t.Errorf("missing manifest: %v", err)
	}
	if _, err := ReadManifest(files("m.json", "[]"), "m.json"); !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), "m.json") {
		t.Errorf("bad manifest: %v", err)
	}
	if _, err := Load(files("manifest.json", good, "y.js", "1"), m, nil); !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), "x.css") {
		t.Errorf("Load with a file missing: err = %v, want ErrInvalidManifest naming x.css", err)
	}
	if _, err := Load(fsys, nil, nil); !errors.Is(err, ErrInvalidManifest) {
		t.Errorf("Load(nil manifest): %v", err)
	}
	if _, err := Load(fsys, &Manifest{Version: 1, Assets: map[string]string{"../a": "../a.3f2a9c1e"}}, nil); !errors.Is(err, ErrInvalidManifest) {
		t.Errorf("Load(bad manifest): %v", err)
	}
}
