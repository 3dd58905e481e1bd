package assets

import (
	"errors"
	"strings"
	"testing"
)

// cssTree is the file set the rewriting cases run in; {name} in a case's
// want stands for the hash of name.
func cssTree(site string) map[string]string {
	return map[string]string{
		"css/site.css":    site,
		"css/other.css":   "p{color:red}",
		"img/logo.png":    "PNG-logo",
		"img/bg.svg":      "<svg/>",
		"img/my logo.png": "PNG-spaced",
		"fonts/f.woff2":   "WOFF2",
	}
}

func TestRewriteCSS(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"unquoted", "a{background:url(../img/logo.png)}", "a{background:url(../img/logo.{img/logo.png}.png)}"},
		{"double quoted", `a{background:url("../img/logo.png")}`, `a{background:url("../img/logo.{img/logo.png}.png")}`},
		{"single quoted", `a{background:url('../img/logo.png')}`, `a{background:url('../img/logo.{img/logo.png}.png')}`},
		{"spaces kept", "a{b:url(  ../img/logo.png\t)}", "a{b:url(  ../img/logo.{img/logo.png}.png\t)}"},
		{"spaces around quoted", `a{b:url( "../img/logo.png" )}`, `a{b:url( "../img/logo.{img/logo.png}.png" )}`},
		{"upper case", "a{b:URL(../img/logo.png)}", "a{b:URL(../img/logo.{img/logo.png}.png)}"},
		{"query and fragment kept", "a{b:url(../img/logo.png?x=1#y)}", "a{b:url(../img/logo.{img/logo.png}.png?x=1#y)}"},
		{"svg fragment", "a{b:url(../img/bg.svg#icon)}", "a{b:url(../img/bg.{img/bg.svg}.svg#icon)}"},
		{"font iefix", "@font-face{src:url('../fonts/f.woff2?#iefix') format('woff2')}", "@font-face{src:url('../fonts/f.{fonts/f.woff2}.woff2?#iefix') format('woff2')}"},
		{"dot slash", "a{b:url(./../img/logo.png)}", "a{b:url(./../img/logo.{img/logo.png}.png)}"},
		{"same directory", "a{b:url(other.css)}", "a{b:url(other.{css/other.css}.css)}"},
		{"percent escaped", "a{b:url(../img/my%20logo.png)}", "a{b:url(../img/my%20logo.{img/my logo.png}.png)}"},
		{"under the prefix", "a{b:url(/static/img/logo.png)}", "a{b:url(/static/img/logo.{img/logo.png}.png)}"},
		{"several", "a{b:url(../img/logo.png)}c{d:url(../img/bg.svg)}", "a{b:url(../img/logo.{img/logo.png}.png)}c{d:url(../img/bg.{img/bg.svg}.svg)}"},
		{"import string", `@import "other.css";`, `@import "other.{css/other.css}.css";`},
		{"import url", `@import url(other.css) screen;`, `@import url(other.{css/other.css}.css) screen;`},
		{"IMPORT upper", `@IMPORT 'other.css';`, `@IMPORT 'other.{css/other.css}.css';`},

		{"data URI", "a{b:url(data:image/png;base64,AAAA)}", ""},
		{"quoted data URI", `a{b:url("data:image/svg+xml;utf8,<svg></svg>")}`, ""},
		{"http", "a{b:url(http://example.com/img/logo.png)}", ""},
		{"https", "a{b:url(HTTPS://example.com/img/logo.png)}", ""},
		{"network path", "a{b:url(//cdn.example.com/img/logo.png)}", ""},
		{"fragment only", "a{filter:url(#blur)}", ""},
		{"other absolute path", "a{b:url(/elsewhere/img/logo.png)}", ""},
		{"leaves the root", "a{b:url(../../img/logo.png)}", ""},
		{"directory", "a{b:url(../img/)}", ""},
		{"in a comment", "/* url(../img/logo.png) */a{}", ""},
		{"unterminated comment", "a{} /* url(../img/logo.png)", ""},
		{"in a string", `a{content:"url(../img/logo.png)"}`, ""},
		{"another function", "a{b:myurl(../img/logo.png)}", ""},
		{"escaped", `a{b:url(../img/lo\go.png)}`, ""},
		{"escaped quoted", `a{b:url("../img/lo\"go.png")}`, ""},
		{"space inside", "a{b:url(../img/my logo.png)}", ""},
		{"unterminated", "a{b:url(../img/logo.png", ""},
		{"unterminated quoted", `a{b:url("../img/logo.png`, ""},
		{"newline in string", "a{b:url(\"../img/logo.png\n\")}", ""},
		{"empty", "a{b:url()}c{d:url('')}", ""},
		{"bad url", "a{b:url(a(b).png)}", ""},
		{"import without string", "@import foo;", ""},
		{"imports not an import", "@imports 'other.css';", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := cssTree(tc.in)
			var kv []string
			for k, v := range tree {
				kv = append(kv, k, v)
			}
			s := mustBuild(t, files(kv...), nil)
			want := tc.want
			if want == "" {
				want = tc.in // left alone
			}
			want = expand(t, s, want)
			if got := mustContent(t, s, "css/site.css"); got != want {
				t.Errorf("rewritten:\n got %s\nwant %s", got, want)
			}
			// The stylesheet's own hash is over what it serves.
			if got, want := s.logical["css/site.css"].hash, short(want); got != want {
				t.Errorf("hash %s, want %s (of the rewritten content)", got, want)
			}
		})
	}
}

func TestRewriteCSSQueryNaming(t *testing.T) {
	s := mustBuild(t, files(
		"css/site.css", "a{b:url(../img/logo.png?x=1#y)}c{d:url(../img/bg.svg#i)}",
		"img/logo.png", "PNG", "img/bg.svg", "<svg/>",
	), &Options{Naming: HashInQuery})
	want := expand(t, s, "a{b:url(../img/logo.png?v={img/logo.png}&x=1#y)}c{d:url(../img/bg.svg?v={img/bg.svg}#i)}")
	if got := mustContent(t, s, "css/site.css"); got != want {
		t.Errorf("rewritten:\n got %s\nwant %s", got, want)
	}
	if got, _ := s.URL("css/site.css"); got != "/static/css/site.css?v="+short(want) {
		t.Errorf("URL = %s", got)
	}
}

func TestCSSHashFollowsItsImages(t *testing.T) {
	css := "a{background:url(../img/logo.png)}"
	before := mustBuild(t, files("css/site.css", css, "img/logo.png", "v1"), nil)
	after := mustBuild(t, files("css/site.css", css, "img/logo.png", "v2"), nil)
	b, _ := before.URL("css/site.css")
	a, _ := after.URL("css/site.css")
	if a == b {
		t.Errorf("the image changed but the stylesheet's URL did not: %s", a)
	}
}

func TestCSSDependencyOrder(t *testing.T) {
	// a.css imports b.css imports c.css uses the image: a change at the
	// bottom must reach the top.
	tree := func(img string) []string {
		return []string{
			"a.css", `@import "b.css";`,
			"b.css", `@import url(sub/c.css);`,
			"sub/c.css", "x{y:url(../i.png)}",
			"i.png", img,
		}
	}
	s1 := mustBuild(t, files(tree("1")...), nil)
	s2 := mustBuild(t, files(tree("2")...), nil)
	for _, name := range []string{"a.css", "b.css", "sub/c.css"} {
		u1, _ := s1.URL(name)
		u2, _ := s2.URL(name)
		if u1 == u2 {
			t.Errorf("%s kept URL %s after i.png changed", name, u1)
		}
	}
	want := expand(t, s1, `@import "b.{b.css}.css";`)
	if got := mustContent(t, s1, "a.css"); got != want {
		t.Errorf("a.css = %s, want %s", got, want)
	}
}

func TestCSSCycle(t *testing.T) {
	_, err := Build(files(
		"a.css", `@import "b.css";`,
		"b.css", `x{y:url(c/c.css)}`,
		"c/c.css", `@import "../a.css";`,
	), nil)
	if !errors.Is(err, ErrCycle) {
		t.Fatalf("err = %v, want ErrCycle", err)
	}
	if want := "hoard: assets: CSS reference cycle: a.css -> b.css -> c/c.css -> a.css"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	_, err = Build(files("self.css", "a{b:url(self.css)}"), nil)
	if !errors.Is(err, ErrCycle) || !strings.Contains(err.Error(), "self.css -> self.css") {
		t.Errorf("self reference: err = %v", err)
	}
}

func TestResolveRef(t *testing.T) {
	for _, tc := range []struct {
		css, ref, logical string
		ok                bool
	}{
		{"css/a.css", "../img/x.png", "img/x.png", true},
		{"a.css", "img/x.png?q#f", "img/x.png", true},
		{"a.css", "/static/img/x.png", "img/x.png", true},
		{"a.css", "/static/../x.png", "", false},
		{"a.css", "mailto:x", "", false},
		{"a.css", "blob:x", "", false},
		{"a.css", "c:x", "", false},
		{"a.css", "%zz", "", false},
		{"a.css", "?q", "", false},
		{"a.css", "a\\b.png", "", false},
	} {
		got, ok := resolveRef(tc.css, tc.ref, "/static/")
		if ok != tc.ok || got.logical != tc.logical {
			t.Errorf("resolveRef(%q, %q) = %q, %v, want %q, %v", tc.css, tc.ref, got.logical, ok, tc.logical, tc.ok)
		}
	}
}
