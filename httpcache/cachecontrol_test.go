package httpcache_test

import (
	"testing"
	"time"

	"github.com/hoard-cache/hoard/httpcache"
)

func TestCacheControlString(t *testing.T) {
	cases := []struct {
		cc   httpcache.CacheControl
		want string
	}{
		{httpcache.CacheControl{}, ""},
		{httpcache.CacheControl{Public: true, MaxAge: httpcache.For(time.Minute)}, "public, max-age=60"},
		{httpcache.CacheControl{Private: true, NoCache: true}, "private, no-cache"},
		{httpcache.CacheControl{NoStore: true}, "no-store"},
		{httpcache.CacheControl{MaxAge: httpcache.For(0)}, "max-age=0"},
		{httpcache.CacheControl{Public: true, MaxAge: httpcache.For(365 * 24 * time.Hour), Immutable: true}, "public, max-age=31536000, immutable"},
		{httpcache.CacheControl{
			Public: true, MaxAge: httpcache.For(90 * time.Second), SMaxAge: httpcache.For(10 * time.Minute),
			MustRevalidate: true, ProxyRevalidate: true, NoTransform: true,
			StaleWhileRevalidate: httpcache.For(30 * time.Second), StaleIfError: httpcache.For(time.Hour),
		}, "public, max-age=90, s-maxage=600, must-revalidate, proxy-revalidate, no-transform, stale-while-revalidate=30, stale-if-error=3600"},
		{httpcache.CacheControl{MaxAge: httpcache.For(-time.Second)}, "max-age=0"},
		{httpcache.CacheControl{MaxAge: httpcache.For(1500 * time.Millisecond)}, "max-age=1"},
	}
	for _, tc := range cases {
		if got := tc.cc.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.cc, got, tc.want)
		}
		if back := httpcache.ParseCacheControl(tc.cc.String()); back.String() != tc.want {
			t.Errorf("round trip of %q: %q", tc.want, back.String())
		}
	}
}

func TestParseCacheControl(t *testing.T) {
	d := func(s int) httpcache.Delta { return httpcache.For(time.Duration(s) * time.Second) }
	cases := []struct {
		in   []string
		want httpcache.CacheControl
	}{
		{nil, httpcache.CacheControl{}},
		{[]string{""}, httpcache.CacheControl{}},
		{[]string{"PUBLIC, Max-Age=60"}, httpcache.CacheControl{Public: true, MaxAge: d(60)}},
		{[]string{`max-age="120"`}, httpcache.CacheControl{MaxAge: d(120)}},
		{[]string{"public", "no-store"}, httpcache.CacheControl{Public: true, NoStore: true}},
		{[]string{`no-cache="Set-Cookie", private="X-User"`}, httpcache.CacheControl{NoCache: true, Private: true}},
		{[]string{"max-age=60, max-age=10"}, httpcache.CacheControl{MaxAge: d(10)}},
		{[]string{"max-age=abc"}, httpcache.CacheControl{MaxAge: d(0)}},
		{[]string{"max-age=-5"}, httpcache.CacheControl{MaxAge: d(0)}},
		{[]string{"max-age"}, httpcache.CacheControl{MaxAge: d(0)}},
		{[]string{"s-maxage=99999999999999999999999"}, httpcache.CacheControl{SMaxAge: d(1 << 31)}},
		{[]string{" , ,immutable,,unknown=1, stale-if-error=5 "}, httpcache.CacheControl{Immutable: true, StaleIfError: d(5)}},
		{[]string{"stale-while-revalidate=7, must-revalidate, proxy-revalidate, no-transform"},
			httpcache.CacheControl{StaleWhileRevalidate: d(7), MustRevalidate: true, ProxyRevalidate: true, NoTransform: true}},
	}
	for _, tc := range cases {
		if got := httpcache.ParseCacheControl(tc.in...); got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if v, ok := httpcache.ParseCacheControl("max-age=30").MaxAge.Duration(); !ok || v != 30*time.Second {
		t.Errorf("MaxAge.Duration() = %v, %v", v, ok)
	}
	if httpcache.ParseCacheControl("public").MaxAge.IsSet() {
		t.Error("an absent max-age is set")
	}
}

func FuzzParseCacheControl(f *testing.F) {
	f.Add("public, max-age=60, s-maxage=\"5\"")
	f.Add("no-cache=\"a,b\", private")
	f.Fuzz(func(t *testing.T, s string) {
		cc := httpcache.ParseCacheControl(s)
		if again := httpcache.ParseCacheControl(cc.String()); again != cc {
			t.Fatalf("%q parsed to %+v, rendered %q, parsed back to %+v", s, cc, cc.String(), again)
		}
	})
}
