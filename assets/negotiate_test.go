package assets

import (
	"net/http"
	"strings"
	"testing"
)

func TestChooseEncoding(t *testing.T) {
	both := []*variant{{coding: Brotli, size: 10}, {coding: Gzip, size: 12}} // smallest first
	gzipOnly := []*variant{{coding: Gzip, size: 12}}
	for _, tc := range []struct {
		ae   []string // field values; nil for no header
		vs   []*variant
		want string // "" for the original
	}{
		{nil, both, ""},
		{[]string{""}, both, ""},
		{[]string{"gzip"}, both, Gzip},
		{[]string{"gzip, deflate, br, zstd"}, both, Brotli}, // Chromium's
		{[]string{"gzip, deflate, br"}, gzipOnly, Gzip},
		{[]string{"br"}, gzipOnly, ""},
		{[]string{"br;q=0, gzip"}, both, Gzip},
		{[]string{"gzip;q=0.5, br;q=0.4"}, both, Gzip},
		{[]string{"br;q=0.5, gzip;q=0.5"}, both, Brotli}, // equal weights: the smaller
		{[]string{"br;q=0.001"}, both, Brotli},
		{[]string{"identity"}, both, ""},
		{[]string{"deflate, zstd"}, both, ""},
		{[]string{"*"}, both, Brotli},
		{[]string{"*;q=0"}, both, ""},
		{[]string{"*;q=0, gzip"}, both, Gzip},
		{[]string{"br;q=0.5, identity"}, both, ""},      // identity weighs more
		{[]string{"br;q=0.5, gzip;q=0.5, *"}, both, ""}, // so does "*", which covers identity
		{[]string{"br;q=0.5, *"}, both, Gzip},           // "*" covers gzip, at 1
		{[]string{"gzip, identity"}, both, Gzip},        // equal: the copy
		{[]string{"gzip, identity;q=0.5"}, both, Gzip},
		{[]string{"gzip, identity;q=0"}, both, Gzip},
		{[]string{"x-gzip"}, both, Gzip},
		{[]string{"GZIP;Q=0.8, BR;q=0.9"}, both, Brotli},
		{[]string{" br ;q=0.9 , gzip ;q=1 "}, both, Gzip},
		{[]string{"gzip;q=0.1", "br"}, both, Brotli}, // two header lines
		{[]string{"br;q=1.5, gzip;q=0.2"}, both, Gzip},
		{[]string{"br;q=abc, gzip;q=0.2"}, both, Gzip},
		{[]string{"br;q=0.0001, gzip;q=0.2"}, both, Gzip},
		{[]string{"br;q=.5, gzip;q=0.2"}, both, Gzip},
		{[]string{"br;level=5, gzip;q=0.2"}, both, Gzip},
		{[]string{"br;q=1.000, gzip"}, both, Brotli},
		{[]string{"br;q=0., gzip;q=0.2"}, both, Gzip},
		{[]string{"br, br;q=0"}, both, Brotli}, // the first weight counts
		{[]string{",,;q=1, gzip"}, both, Gzip},
	} {
		got := ""
		if v := choose(tc.ae, tc.vs); v != nil {
			got = v.coding
		}
		if got != tc.want {
			t.Errorf("Accept-Encoding %q over %d copies: chose %q, want %q", tc.ae, len(tc.vs), got, tc.want)
		}
	}
}

func TestAddVary(t *testing.T) {
	for _, tc := range []struct{ before, want []string }{
		{nil, []string{"Accept-Encoding"}},
		{[]string{"Origin"}, []string{"Origin", "Accept-Encoding"}},
		{[]string{"Origin, accept-encoding"}, []string{"Origin, accept-encoding"}},
		{[]string{"*"}, []string{"*"}},
	} {
		h := http.Header{}
		for _, v := range tc.before {
			h.Add("Vary", v)
		}
		addVary(h, "Accept-Encoding")
		if got := h.Values("Vary"); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Vary %q + Accept-Encoding = %q, want %q", tc.before, got, tc.want)
		}
	}
}
