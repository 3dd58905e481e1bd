package httpcache_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/httpcache"
)

// A page stored under the policy's max-age=60 with a 5-minute TTL is
// fresh for 60s: never a HIT whose Age passes the max-age it carries
// (RFC 9111 §4.2).
func TestPolicyMaxAgeBoundsHits(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page") })
		f.aside.TTL = 5 * time.Minute
		mw := newCache(t, httpcache.Options{Aside: f.aside,
			CacheControl: httpcache.CacheControl{MaxAge: httpcache.For(time.Minute)}}).Middleware(h)
		get(t, mw, "/p").expect(t, http.StatusOK, "MISS")
		f.clock.Advance(59 * time.Second)
		hit := get(t, mw, "/p")
		hit.expect(t, http.StatusOK, "HIT")
		if hit.header.Get("Age") != "59" || hit.header.Get("Cache-Control") != "max-age=60" {
			t.Errorf("hit: Age %q, Cache-Control %q", hit.header.Get("Age"), hit.header.Get("Cache-Control"))
		}
		f.clock.Advance(91 * time.Second) // 150s old
		res := get(t, mw, "/p")
		res.expect(t, http.StatusOK, "MISS")
		if res.header.Get("Age") != "" {
			t.Errorf("a page 150s old with max-age=60 was served with Age %q", res.header.Get("Age"))
		}
		if n := h.n.Load(); n != 2 {
			t.Errorf("handler ran %d times, want 2", n)
		}
	})
}

// Expires in the past, or not a date ("0", "-1"), without max-age, is
// an expired response: not stored (RFC 9111 §5.3). A future Expires
// gives the lifetime Expires minus Date.
func TestExpires(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		expired := []string{"0", "-1", "yesterday", f.clock.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)}
		for _, exp := range expired {
			h := func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Expires", exp)
				fmt.Fprint(w, "x")
			}
			stored, skips := storedAfter(t, f, httpcache.Options{
				CacheControl: httpcache.CacheControl{Public: true, MaxAge: httpcache.For(time.Minute)}}, h)
			if stored || len(skips) == 0 || skips[0] != httpcache.ReasonExpired {
				t.Errorf("Expires %q: stored %v, skips %q", exp, stored, skips)
			}
		}
		f.aside.Name = uniqueName()
		f.aside.TTL = time.Hour
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := f.clock.Now().UTC()
			w.Header().Set("Date", now.Format(http.TimeFormat))
			w.Header().Set("Expires", now.Add(2*time.Minute).Format(http.TimeFormat))
			fmt.Fprint(w, "x")
		}))
		get(t, mw, "/e")
		f.clock.Advance(119 * time.Second)
		get(t, mw, "/e").expect(t, http.StatusOK, "HIT")
		f.clock.Advance(2 * time.Second)
		get(t, mw, "/e").expect(t, http.StatusOK, "MISS")
	})
}

// failing is a handler that renders with the given Cache-Control until
// told to fail, then answers 503.
type failing struct {
	cc    string
	fail  atomic.Bool
	calls atomic.Int64
}

func (f *failing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if f.fail.Load() {
		http.Error(w, "database down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Cache-Control", f.cc)
	fmt.Fprint(w, "good")
}

// The fail-safe does not serve a stale response whose headers forbid it
// (must-revalidate, proxy-revalidate, s-maxage: RFC 9111 §5.2.2.2, .8,
// .10); stale-if-error allows it within its window (RFC 5861).
func TestFailSafeHonoursRevalidation(t *testing.T) {
	cases := []struct {
		cc         string
		staleAt90  bool // 30s stale
		staleAt200 bool // 140s stale
	}{
		{"max-age=60", true, true},
		{"max-age=60, must-revalidate", false, false},
		{"max-age=60, proxy-revalidate", false, false},
		{"max-age=600, s-maxage=60", false, false},
		{"max-age=60, must-revalidate, stale-if-error=100", true, false},
	}
	eachBackend(t, func(t *testing.T, f *fixture) {
		for _, tc := range cases {
			for _, at := range []struct {
				advance time.Duration
				stale   bool
			}{{90 * time.Second, tc.staleAt90}, {200 * time.Second, tc.staleAt200}} {
				h := &failing{cc: tc.cc}
				o := f.aside
				o.Name, o.TTL, o.FailSafe = uniqueName(), time.Hour, &hoard.FailSafe{Window: time.Hour, Throttle: time.Minute}
				mw := newCache(t, httpcache.Options{Aside: o}).Middleware(h)
				get(t, mw, "/p").expect(t, http.StatusOK, "MISS")
				f.clock.Advance(at.advance)
				h.fail.Store(true)
				res := get(t, mw, "/p")
				if at.stale {
					res.expect(t, http.StatusOK, "STALE")
				} else if res.status != http.StatusServiceUnavailable {
					t.Errorf("%q, %v later: %d %s %q, want the handler's 503", tc.cc, at.advance, res.status, res.header.Get("X-Cache"), res.body)
				}
			}
		}
	})
}

// A stale response the fail-safe served is kept for FailSafeThrottle; a
// hit on it past stale-if-error's window is not served: it is dropped,
// and the handler asked again.
func TestFailSafeThrottleHonoursStaleIfError(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := &failing{cc: "max-age=60, must-revalidate, stale-if-error=100"}
		f.aside.TTL, f.aside.FailSafe = time.Hour, &hoard.FailSafe{Window: time.Hour, Throttle: time.Minute}
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		get(t, mw, "/p")
		f.clock.Advance(120 * time.Second) // 60s stale
		h.fail.Store(true)
		stale := get(t, mw, "/p")
		stale.expect(t, http.StatusOK, "STALE")
		if got := stale.header.Get("Cache-Status"); got != "hoard; fwd=stale; fwd-status=503; ttl=-60" {
			t.Errorf("Cache-Status %q", got)
		}
		f.clock.Advance(30 * time.Second) // 90s stale, within the throttle
		throttled := get(t, mw, "/p")
		throttled.expect(t, http.StatusOK, "STALE")
		if got := throttled.header.Get("Cache-Status"); got != "hoard; hit; ttl=-90" {
			t.Errorf("Cache-Status %q", got)
		}
		calls := h.calls.Load()
		f.clock.Advance(20 * time.Second) // 110s stale: past stale-if-error
		if res := get(t, mw, "/p"); res.status != http.StatusServiceUnavailable {
			t.Errorf("past stale-if-error: %d %s %q, want the handler's 503", res.status, res.header.Get("X-Cache"), res.body)
		}
		if h.calls.Load() == calls {
			t.Error("the handler was not asked again")
		}
	})
}
