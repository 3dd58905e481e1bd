package assets

import (
	"bytes"
	"testing"
)

// FuzzRewriteCSS checks that the url() scanner and rewriter never panic,
// whatever the stylesheet: references lie in bounds, in order, without
// overlap; rewriting every reference with its own text gives the input
// back; and a Build over the stylesheet and a few files it may reference
// either succeeds or fails with a hoard: error. Seeds are in
// testdata/fuzz/FuzzRewriteCSS and below.
func FuzzRewriteCSS(f *testing.F) {
	for _, seed := range []string{
		"a{background:url(../img/logo.png)}",
		`a{b:url("x.png?v=1#f") c:url('y.svg#i')}`,
		"@import 'b.css'; @import url(b.css) screen;",
		"/* url(x.png) */ a{content:\"url(x.png)\"}",
		"a{b:url(data:image/png;base64,AAAA)}",
		"a{b:url(", "a{b:url(\"", "url(\\", "/*", "@import", "@import '", "u", "URL(  )",
		"a{b:url(a(b).png)}", "url(x.png\x00)", "url(\"x\n\")",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		refs := scanCSS(src)
		last := 0
		for _, r := range refs {
			if r.start < last || r.end < r.start || r.end > len(src) {
				t.Fatalf("bad reference bounds %d:%d after %d in %d bytes", r.start, r.end, last, len(src))
			}
			last = r.end
		}
		same := rewriteCSS(src, refs, func(ref string) (string, bool) { return ref, true })
		if !bytes.Equal(same, src) {
			t.Fatalf("identity rewrite changed the input:\n%q\n%q", src, same)
		}
		for _, r := range refs {
			resolveRef("css/site.css", string(src[r.start:r.end]), "/static/")
		}
		tree := files(
			"css/site.css", string(src),
			"css/b.css", "p{}",
			"img/logo.png", "PNG",
			"x.png", "X",
		)
		_, err := Build(tree, nil)
		if err != nil && !bytes.HasPrefix([]byte(err.Error()), []byte("hoard: assets: ")) {
			t.Fatalf("error without the hoard: assets: prefix: %v", err)
		}
		s, err := Build(tree, &Options{AllowMissing: true})
		if err != nil && !bytes.HasPrefix([]byte(err.Error()), []byte("hoard: assets: ")) {
			t.Fatalf("error without the hoard: assets: prefix: %v", err)
		}
		if s == nil {
			return
		}
		lines := bytes.Count(src, []byte("\n")) + 1
		for _, m := range s.Missing() {
			if m.Stylesheet != "css/site.css" || m.Line < 1 || m.Line > lines || !bytes.Contains(src, []byte(m.Ref)) {
				t.Fatalf("bad missing reference %+v in %d lines", m, lines)
			}
		}
	})
}
