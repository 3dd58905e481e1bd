package httpcache

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/hoard-cache/hoard"
)

// Defaults of [Options].
const (
	// defaultMaxBodyBytes bounds the bodies recorded for storage.
	defaultMaxBodyBytes = 1 << 20
	// defaultStatusHeader names the header saying HIT, MISS, STALE or
	// BYPASS.
	defaultStatusHeader = "X-Cache"
	// defaultName is the cache's name, and so its key prefix, when
	// Aside.Name is empty.
	defaultName = "httpcache"
)

// Options configure a [Cache]: one per endpoint (or group of endpoints
// with one key and policy). The zero Options are valid once a tier is
// given in Aside.
type Options struct {
	// Aside configures storage and the caching patterns, as for any
	// hoard.Aside: the tiers (Memory, Shared or both, memory or Redis),
	// TTL and Jitter, FailSafe (a stale response served when the handler
	// answers 5xx), EarlyRefresh (XFetch), Stampede (one render per key
	// across processes), Invalidator (tags), Bus, Metrics and Clock.
	//
	// NegativeTTL has a meaning of its own here: when a response cannot
	// be stored (it sets a cookie, is private, too large...), its key is
	// remembered as "pass" for NegativeTTL, and requests for it go
	// straight to the handler instead of queuing behind one render (what
	// Varnish calls hit-for-pass). A negative NegativeTTL turns that off.
	// Default Name: "httpcache".
	Aside hoard.AsideOptions[*Response]

	// Key says what responses vary on. Default: method, host and path.
	Key Key

	// CacheControl is the endpoint's policy: the Cache-Control header
	// given to stored responses whose handler set none (the handler's own
	// wins). Its s-maxage, if any, is the stored response's TTL. It may
	// not forbid storing (no-store, or private on a shared endpoint); use
	// no-cache to make browsers revalidate every time, which this cache
	// answers with 304s. Default: none.
	CacheControl CacheControl

	// Statuses are the statuses stored. Default: DefaultStatuses. 206,
	// 304 and 1xx are never stored. Other 5xx are failures: with
	// Aside.FailSafe, a stale response is served instead.
	Statuses []int

	// MaxBodyBytes bounds a stored body: a larger response streams
	// through to its client and is not stored. Default:
	// 1 << 20. A Redis tier refuses values over its own
	// MaxValueBytes (the JSON codec writes bodies in base64, a third
	// larger): such responses are served but not stored there.
	MaxBodyBytes int

	// StatusHeader names the response header saying HIT, MISS, STALE or
	// BYPASS. Default: "X-Cache"; see HideStatus.
	StatusHeader string

	// HideStatus leaves the status header out.
	HideStatus bool

	// Authenticated reports whether a request carries credentials. On a
	// shared endpoint (no Key.User), such requests bypass the cache; on a
	// per-user one, such a request for which Key.User gives "" does.
	// Default: it has an Authorization or a Cookie header.
	Authenticated func(*http.Request) bool

	// Tags, when set, returns tags for the response rendered for a
	// request (the handler can add its own with [Tag]); it needs
	// Aside.Invalidator. Default: none.
	Tags func(*http.Request) []string

	// OnSkip, when set, is called with the reason (one of the Reason
	// constants) when a request bypasses the cache or a response is not
	// stored. Default: nil.
	OnSkip func(r *http.Request, reason string)

	// OnInvalidateError, when set, is called when dropping the stored
	// responses of the URIs an unsafe request changed fails (see the
	// package documentation, "Invalidation"): they may then be served
	// until their TTL. The answer to the request is sent regardless.
	// Default: nil.
	OnInvalidateError func(r *http.Request, err error)
}

func (o *Options) validate() error {
	name := o.Aside.Name
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: httpcache %q: %s", hoard.ErrInvalidOption, name, fmt.Sprintf(format, args...))
	}
	if o.MaxBodyBytes < 0 {
		return bad("MaxBodyBytes %d is negative", o.MaxBodyBytes)
	}
	for _, s := range o.Statuses {
		if s < 200 || s > 599 || s == http.StatusPartialContent || s == http.StatusNotModified {
			return bad("status %d cannot be stored", s)
		}
	}
	if o.CacheControl.NoStore {
		return bad("CacheControl has no-store: nothing would be stored")
	}
	if o.CacheControl.Private && o.Key.User == nil {
		return bad("CacheControl has private but Key.User is nil: a shared cache stores no private response")
	}
	if o.Key.AllQuery && len(o.Key.Query) > 0 {
		return bad("Key.AllQuery and Key.Query are both set")
	}
	for _, v := range o.Key.Vary {
		for _, h := range o.Key.Headers {
			if http.CanonicalHeaderKey(v) == http.CanonicalHeaderKey(h) {
				return bad("header %q is in both Key.Headers and Key.Vary", h)
			}
		}
	}
	return nil
}

// passedHeaders are the request headers the handler sees when its
// response may be stored: the keyed ones, Key.Vary, and on a per-user
// endpoint the credentials the user key covers.
func (s *keySpec) passedHeaders() []string {
	out := slices.Concat(s.headers, s.vary)
	if s.user != nil {
		out = append(out, "Authorization", "Cookie")
	}
	slices.Sort(out)
	return slices.Compact(out)
}
