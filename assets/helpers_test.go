package assets

import (
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// files returns a MapFS of name/content pairs.
func files(kv ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1]), Mode: 0o644}
	}
	return m
}

// short returns the default-length hash of content.
func short(content string) string {
	return sum([]byte(content))[:defaultHashLen]
}

func mustBuild(t testing.TB, fsys fstest.MapFS, opts *Options) *Set {
	t.Helper()
	s, err := Build(fsys, opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return s
}

func mustContent(t testing.TB, s *Set, name string) string {
	t.Helper()
	data, err := s.Content(name)
	if err != nil {
		t.Fatalf("Content(%q): %v", name, err)
	}
	return string(data)
}

var placeholder = regexp.MustCompile(`\{[a-z]+/[^{}]*\}`)

// expand replaces {name} in tmpl by the hash of name in s.
func expand(t testing.TB, s *Set, tmpl string) string {
	t.Helper()
	for _, name := range s.Manifest().Names() {
		tmpl = strings.ReplaceAll(tmpl, "{"+name+"}", s.logical[name].hash)
	}
	if m := placeholder.FindString(tmpl); m != "" {
		t.Fatalf("unknown placeholder %s in %q", m, tmpl)
	}
	return tmpl
}
