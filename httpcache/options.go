package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

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
	// defaultCacheStatus names this cache in the Cache-Status header.
	defaultCacheStatus = "hoard"
	// defaultMaxSharedBodyBytes bounds the body of a response too large
	// to store that is kept for the requests waiting on its render.
	defaultMaxSharedBodyBytes = 8 << 20
	// defaultNegativeTTL is the Aside's NegativeTTL default, the time a
	// key stays "pass".
	defaultNegativeTTL = 30 * time.Second
)

// DefaultUnsafeMethods are the methods whose successful answer drops the
// stored responses of the URIs they changed (RFC 9111 §4.4).
var DefaultUnsafeMethods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

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
	// given to stored responses whose handler set neither Cache-Control
	// nor Expires (the handler's own wins). The freshness lifetime it
	// gives a shared cache (s-maxage, else max-age) is the stored
	// response's TTL, so no hit carries an Age past it; without either,
	// Aside.TTL applies. To keep pages here longer than browsers do, give
	// SMaxAge (and StaleIfError, for the fail-safe: s-maxage forbids
	// serving stale otherwise, as must-revalidate does). It may not forbid
	// storing (no-store, or private on a shared endpoint); use no-cache to
	// make browsers revalidate every time, which this cache answers with
	// 304s. Default: none.
	CacheControl CacheControl

	// CDNCacheControl, when set, is sent as CDN-Cache-Control (RFC 9213)
	// with stored responses whose handler set none: the freshness CDNs
	// use in place of Cache-Control's, so a CDN may keep a page for an
	// hour that browsers revalidate on every use. This cache does not
	// read it. Default: none.
	CDNCacheControl CacheControl

	// SurrogateControl, when set, is sent as Surrogate-Control with stored
	// responses whose handler set none, for CDNs that read it (Fastly):
	// max-age, stale-while-revalidate, stale-if-error and no-store only.
	// Default: none.
	SurrogateControl CacheControl

	// TagHeaders are the headers the tags of a stored response ([Tag],
	// Options.Tags) are sent in, for CDNs that purge by tag: SurrogateKey
	// for Fastly, CacheTag for Cloudflare, or one of your own. Tags that
	// do not fit a header's limits keep the response out of CDNs (see
	// [TagHeader]). Default: none.
	TagHeaders []TagHeader

	// Compression configures how stored bodies are compressed. Default:
	// gzip for text, JSON, JavaScript, XML and SVG of 1 KiB or more.
	Compression Compression

	// RenderContext, when set, chooses what of the caller's ctx the
	// render of a response to store may see. The render's ctx (render)
	// carries the render's cancellation and deadline and this package's
	// values, none of the caller's: whoever a middleware in front says
	// the caller is cannot reach a page stored for everyone. RenderContext
	// returns render with the values it carries over from caller (whose
	// cancellation it must not take: the render outlives the client that
	// started it), such as a trace span:
	//
	//	RenderContext: func(render, caller context.Context) context.Context {
	//		return trace.ContextWithSpan(render, trace.SpanFromContext(caller))
	//	},
	//
	// or a router's parameters ([CarryValues](chi.RouteCtxKey)). It must
	// return a ctx derived from render. Whatever it carries must not
	// change the response unless the key covers it. Default: nil, nothing
	// carried over.
	RenderContext func(render, caller context.Context) context.Context

	// UnsafeMethods are the methods whose 2xx or 3xx answer drops the
	// stored responses of the URIs they changed (see the package
	// documentation, "Invalidation"). Requests with any other method but
	// GET, HEAD, OPTIONS and TRACE are served by the handler and drop
	// nothing: RFC 9111 §4.4 asks a cache to invalidate on methods of
	// unknown safety too, but on a route registered without a method
	// that would let anyone evict any page with "FOO /page". Default:
	// DefaultUnsafeMethods.
	UnsafeMethods []string

	// MaxSharedBodyBytes bounds the body kept of a response too large to
	// store (over MaxBodyBytes) for the requests that waited on its
	// render: it streams to the client that started the render and goes
	// whole to the others, up to this size; past it they render their
	// own. Default: 8 << 20.
	MaxSharedBodyBytes int

	// Statuses are the statuses stored. Default: those RFC 9110 §15.1
	// calls heuristically cacheable (200, 203, 204, 300, 301, 308, 404,
	// 405, 410, 414, 501). 206,
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

	// HideStatus leaves the status header and Cache-Status out.
	HideStatus bool

	// CacheStatus names this cache in the RFC 9211 Cache-Status header
	// added to every answer ("hoard; hit; ttl=42"). Default: "hoard".
	CacheStatus string

	// Debug adds to Cache-Status the cache id of the request (key=) and
	// why it bypassed the cache or its response was not stored
	// (detail=). The id holds the keyed inputs: the user of a per-user
	// endpoint among them. Default: false.
	Debug bool

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
	if o.MaxSharedBodyBytes < 0 {
		return bad("MaxSharedBodyBytes %d is negative", o.MaxSharedBodyBytes)
	}
	if err := o.Compression.validate(); err != nil {
		return bad("%v", err)
	}
	if err := validateSurrogateControl(o.SurrogateControl); err != nil {
		return bad("%v", err)
	}
	for _, th := range o.TagHeaders {
		if err := th.validate(); err != nil {
			return bad("%v", err)
		}
	}
	for _, m := range o.UnsafeMethods {
		if m == "" || safeMethod(m) {
			return bad("UnsafeMethods has %q, a safe method", m)
		}
	}
	if o.CacheStatus != "" && !sfToken(o.CacheStatus) {
		return bad("CacheStatus %q is not a structured-field token", o.CacheStatus)
	}
	return nil
}

// sfToken reports whether s is a structured-field token (RFC 8941
// §3.3.4), as a Cache-Status cache name must be.
func sfToken(s string) bool {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		alpha := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z'
		if i == 0 && !alpha && ch != '*' {
			return false
		}
		if !alpha && !(ch >= '0' && ch <= '9') && !strings.ContainsRune("!#$%&'*+-.^_`|~:/", rune(ch)) {
			return false
		}
	}
	return s != ""
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
