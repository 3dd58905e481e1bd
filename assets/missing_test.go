package assets

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// A reference to a file the set does not have is an error by default,
// naming every such reference with its stylesheet and line; with
// AllowMissing the set is built and lists them.
func TestMissingReference(t *testing.T) {
	tree := files(
		"css/site.css", "a{b:url(../img/logo.png)}\n"+
			"c{d:url(../img/missing.png?x#y)}\n"+
			"@import \"gone.css\";\n"+
			"e{f:url(/static/img/nope.svg)}\n"+
			"g{h:url(../img/.hidden.png)}",
		"img/logo.png", "PNG",
		"img/.hidden.png", "hidden",
		// Not missing: outside the set, or hashed copies on disk.
		"css/ok.css", "a{b:url(/elsewhere/x.png)}c{d:url(https://cdn/x.png)}e{f:url(#i)}g{h:url(../../up.png)}i{j:url(../img/logo."+short("old")+".png)}",
		"img/logo."+short("old")+".png", "old",
	)
	_, err := Build(tree, nil)
	if !errors.Is(err, ErrMissingReference) {
		t.Fatalf("err = %v, want ErrMissingReference", err)
	}
	for _, want := range []string{
		"css/site.css:2: url(../img/missing.png?x#y): img/missing.png is not in the set",
		`css/site.css:3: "gone.css": css/gone.css is not in the set`,
		"css/site.css:4: url(/static/img/nope.svg): img/nope.svg is not in the set",
		"css/site.css:5: url(../img/.hidden.png): img/.hidden.png is not in the set",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "ok.css") {
		t.Errorf("error %q names references outside the set", err)
	}

	s := mustBuild(t, tree, &Options{AllowMissing: true})
	var got []string
	for _, m := range s.Missing() {
		got = append(got, m.String())
	}
	want := []string{
		"css/site.css:2: url(../img/missing.png?x#y): img/missing.png is not in the set",
		`css/site.css:3: "gone.css": css/gone.css is not in the set`,
		"css/site.css:4: url(/static/img/nope.svg): img/nope.svg is not in the set",
		"css/site.css:5: url(../img/.hidden.png): img/.hidden.png is not in the set",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Missing() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m := s.Missing()[0]; m.Stylesheet != "css/site.css" || m.Line != 2 || m.Ref != "../img/missing.png?x#y" || m.Name != "img/missing.png" {
		t.Errorf("Missing()[0] = %+v", m)
	}
	// Left as written; the rest is rewritten.
	css := mustContent(t, s, "css/site.css")
	if !strings.Contains(css, "url(../img/missing.png?x#y)") || !strings.Contains(css, "url(../img/logo."+short("PNG")+".png)") {
		t.Errorf("rewritten %q", css)
	}
	if n := len(mustBuild(t, files("a.css", "a{b:url(x.png)}", "x.png", "X"), nil).Missing()); n != 0 {
		t.Errorf("Missing() of a complete set has %d entries", n)
	}
}

// The error stays readable for a stylesheet with many broken references.
func TestMissingReferenceManyIsBounded(t *testing.T) {
	var css strings.Builder
	for i := range 100 {
		css.WriteString("a{b:url(img/" + strings.Repeat("x", i+1) + ".png)}\n")
	}
	_, err := Build(files("site.css", css.String()), nil)
	if !errors.Is(err, ErrMissingReference) {
		t.Fatalf("err = %v", err)
	}
	if n := strings.Count(err.Error(), "\n"); n > maxMissingInError+1 {
		t.Errorf("error has %d lines", n+1)
	}
	if !strings.Contains(err.Error(), "and 80 more") {
		t.Errorf("error does not say how many it left out: %q", err.Error()[len(err.Error())-80:])
	}
}
