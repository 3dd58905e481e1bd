package httpcache

import (
	"strconv"
	"strings"
	"time"
)

// Delta is the value of a delta-seconds directive (max-age, s-maxage,
// stale-while-revalidate, stale-if-error): a whole number of seconds, or
// absent. The zero Delta is absent; [For] makes a present one.
type Delta struct {
	secs int64
	set  bool
}

// For returns a Delta of d, rounded down to whole seconds; a negative d
// gives 0 seconds.
func For(d time.Duration) Delta {
	return Delta{secs: max(int64(d/time.Second), 0), set: true}
}

// Duration returns the delta and whether the directive is present.
func (d Delta) Duration() (time.Duration, bool) {
	return time.Duration(d.secs) * time.Second, d.set
}

// IsSet reports whether the directive is present.
func (d Delta) IsSet() bool { return d.set }

// CacheControl is a Cache-Control header as its directives (RFC 9111
// §5.2). Build a policy with a literal and render it with
// [CacheControl.String]; read a response's header with [ParseCacheControl].
// The zero CacheControl has no directive and renders as "".
type CacheControl struct {
	// Public lets any cache store the response, even one to an
	// authenticated request.
	Public bool
	// Private keeps the response out of shared caches; a browser may store
	// it.
	Private bool
	// NoCache lets caches store the response but not reuse it without
	// revalidating it first (for a browser: a conditional request, which
	// this package answers with a 304 from its cache).
	NoCache bool
	// NoStore forbids storing the response anywhere.
	NoStore bool
	// MustRevalidate forbids serving the response stale.
	MustRevalidate bool
	// ProxyRevalidate is MustRevalidate for shared caches only.
	ProxyRevalidate bool
	// NoTransform forbids intermediaries to change the body.
	NoTransform bool
	// Immutable says the body never changes while fresh: browsers skip
	// revalidation on reload (RFC 8246). Use it for content-hashed URLs.
	Immutable bool

	// MaxAge is how long the response stays fresh, in any cache.
	MaxAge Delta
	// SMaxAge is how long it stays fresh in shared caches, over MaxAge.
	SMaxAge Delta
	// StaleWhileRevalidate is how long past freshness a cache may serve it
	// while revalidating in the background (RFC 5861).
	StaleWhileRevalidate Delta
	// StaleIfError is how long past freshness a cache may serve it when
	// the origin fails (RFC 5861).
	StaleIfError Delta
}

// String renders the directives in a fixed order, comma separated:
// "public, max-age=60, stale-while-revalidate=30". The zero CacheControl
// renders as "".
func (c CacheControl) String() string {
	var b strings.Builder
	flag := func(on bool, name string) {
		if on {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(name)
		}
	}
	delta := func(d Delta, name string) {
		if d.set {
			flag(true, name)
			b.WriteByte('=')
			b.WriteString(strconv.FormatInt(d.secs, 10))
		}
	}
	flag(c.Public, "public")
	flag(c.Private, "private")
	flag(c.NoCache, "no-cache")
	flag(c.NoStore, "no-store")
	delta(c.MaxAge, "max-age")
	delta(c.SMaxAge, "s-maxage")
	flag(c.MustRevalidate, "must-revalidate")
	flag(c.ProxyRevalidate, "proxy-revalidate")
	flag(c.NoTransform, "no-transform")
	flag(c.Immutable, "immutable")
	delta(c.StaleWhileRevalidate, "stale-while-revalidate")
	delta(c.StaleIfError, "stale-if-error")
	return b.String()
}

// IsZero reports whether c has no directive.
func (c CacheControl) IsZero() bool { return c == CacheControl{} }

// ParseCacheControl reads the directives of Cache-Control field values
// (several lines are one comma-separated list). Names are matched without
// regard to case; unknown directives are ignored. It errs on the side of
// not storing, as RFC 9111 asks:
//
//   - "private" and "no-cache" with a field-name list (no-cache="Set-Cookie")
//     count as the unqualified directive;
//   - a delta-seconds value that is not a non-negative integer counts as 0
//     (RFC 9111 §4.2.1: an invalid max-age makes the response stale), and
//     a value too large for int64 seconds counts as 2^31 seconds
//     (§1.2.2);
//   - a directive given twice keeps its smaller value.
func ParseCacheControl(values ...string) CacheControl {
	var c CacheControl
	for _, v := range values {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			name, arg, hasArg := strings.Cut(item, "=")
			name = strings.TrimSpace(name)
			arg = strings.Trim(strings.TrimSpace(arg), `"`)
			switch strings.ToLower(name) {
			case "public":
				c.Public = true
			case "private":
				c.Private = true
			case "no-cache":
				c.NoCache = true
			case "no-store":
				c.NoStore = true
			case "must-revalidate":
				c.MustRevalidate = true
			case "proxy-revalidate":
				c.ProxyRevalidate = true
			case "no-transform":
				c.NoTransform = true
			case "immutable":
				c.Immutable = true
			case "max-age":
				c.MaxAge = minDelta(c.MaxAge, parseDelta(arg, hasArg))
			case "s-maxage":
				c.SMaxAge = minDelta(c.SMaxAge, parseDelta(arg, hasArg))
			case "stale-while-revalidate":
				c.StaleWhileRevalidate = minDelta(c.StaleWhileRevalidate, parseDelta(arg, hasArg))
			case "stale-if-error":
				c.StaleIfError = minDelta(c.StaleIfError, parseDelta(arg, hasArg))
			}
		}
	}
	return c
}

// maxDeltaSeconds is what a delta-seconds too large to hold counts as
// (RFC 9111 §1.2.2).
const maxDeltaSeconds = 1 << 31

// parseDelta reads a delta-seconds argument; anything but digits is 0.
func parseDelta(arg string, hasArg bool) Delta {
	if !hasArg || arg == "" {
		return Delta{set: true}
	}
	var n int64
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		if c < '0' || c > '9' {
			return Delta{set: true}
		}
		if n < maxDeltaSeconds {
			n = n*10 + int64(c-'0')
		}
	}
	return Delta{secs: min(n, maxDeltaSeconds), set: true}
}

// minDelta is the more restrictive of two values of one directive.
func minDelta(a, b Delta) Delta {
	if !a.set || (b.set && b.secs < a.secs) {
		return b
	}
	return a
}

// freshness returns how long a shared cache may keep a response with
// these directives fresh: s-maxage over max-age (RFC 9111 §4.2.1).
func (c CacheControl) freshness() (time.Duration, bool) {
	if d, ok := c.SMaxAge.Duration(); ok {
		return d, true
	}
	return c.MaxAge.Duration()
}
