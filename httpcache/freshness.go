package httpcache

import (
	"net/http"
	"time"
)

// Freshness as RFC 9111 §4.2 computes it for a shared cache, and when a
// stored response may be served stale (§4.2.4, §5.2.2).
//
// A stored response is fresh for its freshness lifetime: s-maxage, else
// max-age, else Expires minus Date (§4.2.1); a response that gives none
// is fresh for the Aside's TTL (a heuristic lifetime, §4.2.2). The
// lifetime is the entry's TTL, so no hit carries an Age past it.

// lifetimeOf returns the freshness lifetime the headers of a response
// give a shared cache, and whether they give one. now stands for Date
// when the response has none. An Expires that is not a valid date counts
// as one in the past (§5.3).
func lifetimeOf(h http.Header, now time.Time) (time.Duration, bool) {
	if cc, ok := h["Cache-Control"]; ok {
		if d, ok := ParseCacheControl(cc...).freshness(); ok {
			return d, true
		}
	}
	exp, ok := h["Expires"]
	if !ok {
		return 0, false
	}
	if len(exp) != 1 {
		return 0, true
	}
	expires, err := http.ParseTime(exp[0])
	if err != nil {
		return 0, true
	}
	date := now
	if d, err := http.ParseTime(firstValue(h, "Date")); err == nil {
		date = d
	}
	return max(expires.Sub(date), 0), true
}

// mayServeStale reports whether a response with header h, staleness past its freshness
// lifetime may be served. must-revalidate, proxy-revalidate and s-maxage
// (which implies proxy-revalidate for a shared cache) forbid it (RFC 9111
// §5.2.2.2, §5.2.2.8, §5.2.2.10); stale-if-error allows it within its
// window whatever else the response says (RFC 5861 §4). Otherwise the
// Aside's FailSafe window, this cache's configuration, decides.
func mayServeStale(h http.Header, staleness time.Duration) bool {
	cc, ok := h["Cache-Control"]
	if !ok {
		return true
	}
	d := ParseCacheControl(cc...)
	if sie, ok := d.StaleIfError.Duration(); ok && staleness <= sie {
		return true
	}
	return !d.MustRevalidate && !d.ProxyRevalidate && !d.SMaxAge.IsSet()
}

// staleness is how far past its freshness lifetime p is at now; 0 or less
// when fresh.
func (p *Response) staleness(now time.Time) time.Duration {
	return now.Sub(p.StoredAt) - p.Lifetime
}
