package assets

import "testing"

func TestHashedName(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"css/site.css", "css/site.3f2a9c1e.css"},
		{"app.min.js", "app.min.3f2a9c1e.js"},
		{"LICENSE", "LICENSE.3f2a9c1e"},
		{"dir.v2/LICENSE", "dir.v2/LICENSE.3f2a9c1e"},
		{"a/b/c.tar.gz", "a/b/c.tar.3f2a9c1e.gz"},
	} {
		if got := hashedName(tc.name, "3f2a9c1e"); got != tc.want {
			t.Errorf("hashedName(%q) = %q, want %q", tc.name, got, tc.want)
		}
		a, b := nameHashes(tc.want)
		if a != "3f2a9c1e" && b != "3f2a9c1e" {
			t.Errorf("nameHashes(%q) = %q, %q: the hash is not found again", tc.want, a, b)
		}
	}
	if got := queryName("css/site.css", "3f2a9c1e"); got != "css/site.css?v=3f2a9c1e" {
		t.Errorf("queryName = %q", got)
	}
}

func TestNameHashes(t *testing.T) {
	for _, tc := range []struct{ name, a, b string }{
		{"css/site.css", "", ""},
		{"css/site.3f2a9c1e.css", "3f2a9c1e", ""},
		{"css/site.3F2A9C1E.css", "", ""}, // only lowercase hex
		{"css/site.3f2a9c1.css", "", ""},  // too short
		{"LICENSE.3f2a9c1e", "", "3f2a9c1e"},
		{".3f2a9c1e", "", ""},
		{"x.deadbeefdeadbeef.deadbeef", "deadbeefdeadbeef", "deadbeef"},
	} {
		if a, b := nameHashes(tc.name); a != tc.a || b != tc.b {
			t.Errorf("nameHashes(%q) = %q, %q, want %q, %q", tc.name, a, b, tc.a, tc.b)
		}
	}
}

func TestIsBuildOutput(t *testing.T) {
	full := sum([]byte("body{}"))
	if !isBuildOutput("css/site."+full[:8]+".css", full) {
		t.Error("a copy named by its own hash is not recognized")
	}
	if !isBuildOutput("css/site."+full[:20]+".css", full) {
		t.Error("a longer hash (other HashLen) is not recognized")
	}
	if isBuildOutput("css/site.deadbeef.css", full) {
		t.Error("a name whose hash does not match the content is taken for a build output")
	}
	if isBuildOutput("css/site.css", full) {
		t.Error("a plain name is taken for a build output")
	}
}

func TestHashIsContentNotTime(t *testing.T) {
	a := mustBuild(t, files("a.js", "x=1"), nil)
	b := mustBuild(t, files("a.js", "x=1"), nil)
	c := mustBuild(t, files("a.js", "x=2"), nil)
	ua, _ := a.URL("a.js")
	ub, _ := b.URL("a.js")
	uc, _ := c.URL("a.js")
	if ua != ub {
		t.Errorf("same content, different URLs: %s, %s", ua, ub)
	}
	if ua == uc {
		t.Errorf("different content, same URL %s", ua)
	}
	if want := "/static/a." + short("x=1") + ".js"; ua != want {
		t.Errorf("URL = %s, want %s", ua, want)
	}
}
