package httpcache

import (
	"net/http"
	"slices"
	"strings"
)

// The rules of RFC 9111 for a shared cache, and this package's own against
// web cache poisoning and deception. Requests that fail requestBypass are
// served by the handler untouched, not looked up, not stored. Responses
// that fail unstorable reach the client that asked but are not stored.

// defaultStatuses are the statuses stored by default: those RFC 9110
// §15.1 calls heuristically cacheable, the ones a cache may store without
// explicit freshness.
var defaultStatuses = []int{
	http.StatusOK,                   // 200
	http.StatusNonAuthoritativeInfo, // 203
	http.StatusNoContent,            // 204
	http.StatusMultipleChoices,      // 300
	http.StatusMovedPermanently,     // 301
	http.StatusPermanentRedirect,    // 308
	http.StatusNotFound,             // 404
	http.StatusMethodNotAllowed,     // 405
	http.StatusGone,                 // 410
	http.StatusRequestURITooLong,    // 414
	http.StatusNotImplemented,       // 501
}

// Reasons a request bypasses the cache or a response is not stored; the
// Options.OnSkip hook gets one of them.
const (
	ReasonMethod         = "method not GET or HEAD"
	ReasonRequestNoStore = "request Cache-Control: no-store"
	ReasonAuthenticated  = "authenticated request on a shared (not per-user) endpoint"
	ReasonNoUser         = "authenticated request for which Key.User gives no user"
	ReasonUpgrade        = "protocol upgrade request"
	ReasonStatus         = "status not in Options.Statuses"
	ReasonNoStore        = "response Cache-Control: no-store"
	ReasonPrivate        = "response Cache-Control: private on a shared endpoint"
	ReasonNoCache        = "response Cache-Control: no-cache"
	ReasonZeroFreshness  = "response s-maxage or max-age of 0"
	ReasonSetCookie      = "response sets a cookie"
	ReasonVaryStar       = "response Vary: *"
	ReasonTrailer        = "response has trailers"
	ReasonTooLarge       = "response body over Options.MaxBodyBytes, or flushed (streamed)"
	// ReasonExpired: the response has no max-age or s-maxage, and an
	// Expires that is not after its Date, or not a date at all ("0",
	// "-1"), which RFC 9111 §5.3 reads as already expired.
	ReasonExpired = "response Expires not after its Date, or invalid"
	// ReasonSharedTooLarge: the shared tier (Redis) refused the response
	// for its size (its MaxValueBytes): it is stored in the memory tier
	// only, or, without one, not at all (the key is then "pass" for
	// NegativeTTL).
	ReasonSharedTooLarge = "response too large for the shared tier: stored in the memory tier only, if any"
	// ReasonCDNTags: the response's tags do not fit a TagHeader's limits:
	// it is stored here but kept out of CDNs (no-store for them), which
	// would not find it by those tags to purge it.
	ReasonCDNTags = "response tags over a CDN tag header's limits: kept out of CDNs"
	// ReasonUnknownMethod: a method neither safe nor in
	// Options.UnsafeMethods was served by the handler, and dropped
	// nothing.
	ReasonUnknownMethod = "method neither safe nor in Options.UnsafeMethods: served without invalidating"
)

// requestBypass returns why r may not use the cache at all, or "".
func (c *Cache) requestBypass(r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return ReasonMethod
	}
	if cc, ok := r.Header["Cache-Control"]; ok && ParseCacheControl(cc...).NoStore {
		return ReasonRequestNoStore
	}
	if _, ok := r.Header["Upgrade"]; ok {
		return ReasonUpgrade
	}
	if c.key.user == nil {
		// RFC 9111 §3.5: a shared cache does not store the response to an
		// authenticated request. Cache deception: /account/x.css fetched
		// with a session is never stored for others.
		if c.authenticated(r) {
			return ReasonAuthenticated
		}
	}
	return ""
}

// defaultAuthenticated is Options.Authenticated's default: the request
// carries credentials, an Authorization header or any cookie.
func defaultAuthenticated(r *http.Request) bool {
	_, auth := r.Header["Authorization"]
	_, cookie := r.Header["Cookie"]
	return auth || cookie
}

// unstorable returns why a response (its status and headers as the
// handler set them) may not be stored, or "".
func (c *Cache) unstorable(status int, h http.Header) string {
	if reason := c.unstorableHeaders(h); reason != "" {
		return reason
	}
	if !c.statuses[status] {
		return ReasonStatus
	}
	return ""
}

// unstorableHeaders is unstorable without the status rule.
func (c *Cache) unstorableHeaders(h http.Header) string {
	if _, ok := h["Set-Cookie"]; ok {
		return ReasonSetCookie
	}
	if cc, ok := h["Cache-Control"]; ok {
		d := ParseCacheControl(cc...)
		switch {
		case d.NoStore:
			return ReasonNoStore
		case d.Private && c.key.user == nil:
			return ReasonPrivate
		case d.NoCache:
			// Stored, it could only be reused after asking the handler
			// again; this cache does not revalidate with its handler.
			return ReasonNoCache
		}
		if f, ok := d.freshness(); ok && f <= 0 {
			return ReasonZeroFreshness
		}
	}
	if _, ok := h["Expires"]; ok {
		if f, _ := lifetimeOf(h, c.clock.Now()); f <= 0 {
			return ReasonExpired
		}
	}
	for _, v := range h["Vary"] {
		for name := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(name) == "*" {
				return ReasonVaryStar
			}
		}
	}
	if _, ok := h["Trailer"]; ok {
		return ReasonTrailer
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return ReasonTrailer
		}
	}
	return ""
}

// hopByHop are the headers that concern one connection (RFC 9110 §7.6.1),
// never stored, with the ones a stored copy recomputes.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Date", "Age",
}

// stripForStorage removes from h the hop-by-hop headers, those the
// Connection header names, and the cache-status header.
func (c *Cache) stripForStorage(h http.Header) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				delete(h, http.CanonicalHeaderKey(name))
			}
		}
	}
	for _, name := range hopByHop {
		delete(h, name)
	}
	if c.statusHeader != "" {
		delete(h, c.statusHeader)
	}
	for k, vs := range h {
		h[k] = vs[:len(vs):len(vs)] // an Add by a reader copies
	}
}

// responseVary returns the headers of Key.Vary that h's Vary names,
// canonical and sorted. Names outside Key.Vary and the keyed headers
// were not passed to the handler, so the response cannot depend on them.
func (c *Cache) responseVary(h http.Header) []string {
	var out []string
	for _, v := range h["Vary"] {
		for name := range strings.SplitSeq(v, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if slices.Contains(c.key.vary, name) && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}
