package httpcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/httpcache"
)

// Tags go out in the CDN tag headers, on misses and hits; the CDN's
// freshness goes in CDN-Cache-Control and Surrogate-Control, apart from
// the browser's Cache-Control.
func TestCDNHeaders(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		f.aside.Invalidator = f.inv
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpcache.Tag(r, "product:42", "category:7")
			fmt.Fprint(w, "page")
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside,
			Tags:             func(r *http.Request) []string { return []string{"page:" + r.URL.Path} },
			CacheControl:     httpcache.CacheControl{Public: true, NoCache: true},
			CDNCacheControl:  httpcache.CacheControl{MaxAge: httpcache.For(time.Hour)},
			SurrogateControl: httpcache.CacheControl{MaxAge: httpcache.For(time.Hour), StaleIfError: httpcache.For(time.Minute)},
			TagHeaders:       []httpcache.TagHeader{httpcache.SurrogateKey, httpcache.CacheTag},
		}).Middleware(h)
		for _, res := range []result{get(t, mw, "/p/42"), get(t, mw, "/p/42")} {
			want := map[string]string{
				"Surrogate-Key":     "page:/p/42 product:42 category:7",
				"Cache-Tag":         "page:/p/42,product:42,category:7",
				"Cache-Control":     "public, no-cache",
				"Cdn-Cache-Control": "max-age=3600",
				"Surrogate-Control": "max-age=3600, stale-if-error=60",
			}
			for name, v := range want {
				if got := res.header.Get(name); got != v {
					t.Errorf("%s %s: %q, want %q", res.header.Get("X-Cache"), name, got, v)
				}
			}
		}
	})
}

// Tags a CDN cannot take (too long, with the separator, over the
// header's limit) keep the response out of CDNs rather than cached there
// without them.
func TestCDNTagsOverLimits(t *testing.T) {
	cases := map[string][]string{
		"a tag over 1024 bytes": {strings.Repeat("t", 1025)},
		"a tag with a space":    {"two words"},
		"over 16 KiB in all":    longTags(40, 500),
	}
	eachBackend(t, func(t *testing.T, f *fixture) {
		f.aside.Invalidator = f.inv
		for name, tags := range cases {
			h := func(w http.ResponseWriter, r *http.Request) {
				httpcache.Tag(r, tags...)
				fmt.Fprint(w, "page")
			}
			stored, skips := storedAfter(t, f, httpcache.Options{TagHeaders: []httpcache.TagHeader{httpcache.SurrogateKey}}, h)
			if !stored {
				t.Errorf("%s: not stored here", name)
			}
			if len(skips) == 0 || skips[0] != httpcache.ReasonCDNTags {
				t.Errorf("%s: skips %q", name, skips)
			}
		}
		mw := newCache(t, httpcache.Options{Aside: f.aside, TagHeaders: []httpcache.TagHeader{httpcache.SurrogateKey}}).Middleware(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { httpcache.Tag(r, "a b"); fmt.Fprint(w, "x") }))
		res := get(t, mw, "/x")
		if res.header.Get("Surrogate-Key") != "" || res.header.Get("Surrogate-Control") != "no-store" || res.header.Get("Cdn-Cache-Control") != "no-store" {
			t.Errorf("headers %v: want no tags and no-store for CDNs", res.header)
		}
	})
}

func longTags(n, size int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%0*d", size, i)
	}
	return out
}

func manyTags(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("product:%08d", i)
	}
	return out
}

// fakeCDN is a local stand-in for a CDN's purge API: it records what it
// was sent and answers as the CDN does.
type fakeCDN struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	fail     bool
}

func (f *fakeCDN) handler(answer func(w http.ResponseWriter, fail bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, r)
		f.bodies = append(f.bodies, string(body))
		fail := f.fail
		f.mu.Unlock()
		answer(w, fail)
	})
}

func TestFastlyPurger(t *testing.T) {
	cdn := &fakeCDN{}
	srv := httptest.NewServer(cdn.handler(func(w http.ResponseWriter, fail bool) {
		if fail {
			http.Error(w, `{"msg":"Provided credentials are missing or invalid"}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"product:1":"108-1391560174-974124"}`)
	}))
	defer srv.Close()
	p, err := httpcache.NewFastlyPurger(&httpcache.FastlyOptions{ServiceID: "svc 1", Token: "tok", Soft: true, Endpoint: srv.URL, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	tags := manyTags(300)
	if err := p.PurgeTags(context.Background(), tags...); err != nil {
		t.Fatal(err)
	}
	if len(cdn.requests) != 2 {
		t.Fatalf("%d requests, want 2 (256 keys at most in one)", len(cdn.requests))
	}
	var got []string
	for i, r := range cdn.requests {
		if r.Method != http.MethodPost || r.URL.EscapedPath() != "/service/svc%201/purge" {
			t.Errorf("request %d: %s %s", i, r.Method, r.URL.EscapedPath())
		}
		if r.Header.Get("Fastly-Key") != "tok" || r.Header.Get("Fastly-Soft-Purge") != "1" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %d headers: %v", i, r.Header)
		}
		var body struct {
			Keys []string `json:"surrogate_keys"`
		}
		if err := json.Unmarshal([]byte(cdn.bodies[i]), &body); err != nil {
			t.Fatal(err)
		}
		got = append(got, body.Keys...)
	}
	if strings.Join(got, " ") != strings.Join(tags, " ") {
		t.Errorf("purged %d keys, want the %d given", len(got), len(tags))
	}
	cdn.fail = true
	if err := p.PurgeTags(context.Background(), "x"); !errors.Is(err, httpcache.ErrPurge) || !strings.Contains(err.Error(), "401") {
		t.Errorf("a refused purge: %v", err)
	}
	if _, err := httpcache.NewFastlyPurger(&httpcache.FastlyOptions{ServiceID: "s"}); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("no token: %v", err)
	}
}

func TestCloudflarePurger(t *testing.T) {
	cdn := &fakeCDN{}
	srv := httptest.NewServer(cdn.handler(func(w http.ResponseWriter, fail bool) {
		if fail {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"success":false,"errors":[{"code":1012,"message":"Request must contain one of \"purge_everything\", \"files\", \"tags\", \"hosts\" or \"prefixes\""}],"messages":[],"result":null}`)
			return
		}
		fmt.Fprint(w, `{"success":true,"errors":[],"messages":[],"result":{"id":"9a7806061c88ada191ed06f989cc3dac"}}`)
	}))
	defer srv.Close()
	p, err := httpcache.NewCloudflarePurger(&httpcache.CloudflareOptions{ZoneID: "zone", Token: "tok", Endpoint: srv.URL, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PurgeTags(context.Background(), manyTags(45)...); err != nil {
		t.Fatal(err)
	}
	if len(cdn.requests) != 2 {
		t.Fatalf("%d requests, want 2 (30 tags at most in one)", len(cdn.requests))
	}
	r := cdn.requests[0]
	if r.Method != http.MethodPost || r.URL.Path != "/zones/zone/purge_cache" || r.Header.Get("Authorization") != "Bearer tok" {
		t.Errorf("request: %s %s %v", r.Method, r.URL.Path, r.Header)
	}
	var body struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(cdn.bodies[1]), &body); err != nil || len(body.Tags) != 15 || body.Tags[0] != "product:00000030" {
		t.Errorf("second body %q: %v", cdn.bodies[1], err)
	}
	cdn.fail = true
	if err := p.PurgeTags(context.Background(), "x"); !errors.Is(err, httpcache.ErrPurge) || !strings.Contains(err.Error(), "1012") {
		t.Errorf("a refused purge: %v", err)
	}
}

// A tag invalidation drops the page from hoard first, then purges the
// CDN: a CDN refilling during its purge finds the new page.
func TestPurgingInvalidator(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		f.aside.Invalidator = f.inv
		version := 1
		var mu sync.Mutex
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpcache.Tag(r, "product:42")
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(w, "v%d", version)
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside, TagHeaders: []httpcache.TagHeader{httpcache.SurrogateKey}}).Middleware(h)
		get(t, mw, "/p/42")
		var purged []string
		var refill string
		cdn := httpcache.PurgerFunc(func(ctx context.Context, tags ...string) error {
			purged = append(purged, tags...)
			refill = get(t, mw, "/p/42").body // the CDN refetches at once
			return nil
		})
		failing := httpcache.PurgerFunc(func(ctx context.Context, tags ...string) error { return httpcache.ErrPurge })
		inv, err := httpcache.NewPurgingInvalidator(&httpcache.PurgingOptions{Invalidator: f.inv, Purgers: []httpcache.Purger{cdn, failing},
			Tags: func(tag string) bool { return strings.HasPrefix(tag, "product:") }})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		version = 2
		mu.Unlock()
		err = inv.InvalidateTags(context.Background(), "product:42", "internal:x")
		if !errors.Is(err, httpcache.ErrPurge) {
			t.Errorf("a failed purge was not reported: %v", err)
		}
		if strings.Join(purged, ",") != "product:42" {
			t.Errorf("purged %q", purged)
		}
		if refill != "v2" {
			t.Errorf("the CDN refilled with %q during its purge, want v2", refill)
		}
		if _, err := httpcache.NewPurgingInvalidator(&httpcache.PurgingOptions{Invalidator: f.inv}); !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("no purgers: %v", err)
		}
	})
}
