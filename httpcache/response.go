package httpcache

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Response is a stored response: the value type of the cache, for
// hoard.AsideOptions[*Response]. A Response read from a cache is shared
// with its other readers: treat it as read-only.
type Response struct {
	// Status is the status code.
	Status int `json:"status"`
	// Header holds the end-to-end headers as stored: no hop-by-hop
	// headers, no Date, Age or cache-status header, and a Content-Length
	// matching Body. An ETag is added to 200 responses without one.
	Header http.Header `json:"header"`
	// Body is the body.
	Body []byte `json:"body"`
	// StoredAt is when the response was recorded; Age counts from it.
	StoredAt time.Time `json:"storedAt"`
	// Vary lists the headers of Key.Vary that the response's Vary names,
	// canonical and sorted: it is served only to requests whose values of
	// them equal VaryValues.
	Vary []string `json:"vary,omitempty"`
	// VaryValues are the values of the Vary headers in the request the
	// response was rendered for.
	VaryValues []string `json:"varyValues,omitempty"`
	// Lifetime is the response's freshness lifetime (RFC 9111 §4.2.1): the
	// one its headers give a shared cache, else the Aside's TTL. Past it,
	// the response is stale.
	Lifetime time.Duration `json:"lifetime,omitempty"`
	// Encoding is the content coding this cache compressed Body in
	// (EncodingGzip or EncodingZstd), "" for a body as the handler wrote
	// it. Header then describes the encoded representation
	// (Content-Encoding, Content-Length, ETag), and IdentityLength and
	// IdentityETag the decompressed one.
	Encoding string `json:"encoding,omitempty"`
	// IdentityLength is the decompressed body's length, when Encoding is
	// set.
	IdentityLength int `json:"identityLength,omitempty"`
	// IdentityETag is the decompressed representation's ETag, when
	// Encoding is set and the response has an ETag.
	IdentityETag string `json:"identityETag,omitempty"`

	// derived holds header values computed from the fields above once,
	// for every hit of this value.
	derived atomic.Pointer[derivedValues]
	// hitMemo is the Cache-Status value of the last hit.
	hitMemo atomic.Pointer[hitMemo]
}

// derivedValues are a response's header values for its answers.
type derivedValues struct {
	identityLength []string // Content-Length of the decompressed body
	identityETag   []string // its ETag, nil for none
	lifetimeSecs   int64    // Lifetime in whole seconds
}

// values returns p's derived header values, computing them on first use.
func (p *Response) values() *derivedValues {
	if d := p.derived.Load(); d != nil {
		return d
	}
	d := &derivedValues{
		identityLength: []string{strconv.Itoa(p.IdentityLength)},
		lifetimeSecs:   int64(p.Lifetime / time.Second),
	}
	if p.IdentityETag != "" {
		d.identityETag = []string{p.IdentityETag}
	}
	p.derived.Store(d)
	return d
}

// Size is the response's size in bytes, roughly: the body, the headers and
// the Vary values; 0 for nil. The memory backend weighs entries with it.
func (p *Response) Size() int {
	if p == nil { // a negative entry: the key is remembered as "pass"
		return 0
	}
	n := len(p.Body) + 64
	for k, vs := range p.Header {
		n += len(k) + 16
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	for i := range p.Vary {
		n += len(p.Vary[i]) + len(p.VaryValues[i]) + 32
	}
	return n + len(p.Encoding) + len(p.IdentityETag)
}

// matches reports whether the response may be served to r as far as Vary
// goes: r's values of every header the response varies on are its own.
func (p *Response) matches(r *http.Request) bool {
	if len(p.Vary) != len(p.VaryValues) {
		return false
	}
	for i, name := range p.Vary {
		if headerValue(r.Header, name) != p.VaryValues[i] {
			return false
		}
	}
	return true
}

// The values of the cache-status header.
const (
	// StatusHit: served from the cache.
	StatusHit = "HIT"
	// StatusMiss: rendered by the handler for this request (and stored, or
	// not storable).
	StatusMiss = "MISS"
	// StatusStale: served from the cache past its freshness, because the
	// handler failed (the fail-safe).
	StatusStale = "STALE"
	// StatusBypass: the request was not eligible for the cache (a method
	// other than GET or HEAD, credentials on a shared endpoint, no-store).
	// An unsafe method's answer also drops the URI's stored responses.
	StatusBypass = "BYPASS"
)

// Shared header values, so a hit allocates none. Their capacity equals
// their length: an Add by a later handler copies instead of writing into
// them.
var (
	hitValue    = []string{StatusHit}
	missValue   = []string{StatusMiss}
	staleValue  = []string{StatusStale}
	bypassValue = []string{StatusBypass}
	ageValues   = func() [][]string {
		v := make([][]string, maxSharedAge+1)
		for i := range v {
			v[i] = []string{strconv.Itoa(i)}
		}
		return v
	}()
)

// maxSharedAge is the largest Age with a shared value.
const maxSharedAge = 600

// statusValue returns the shared value of a cache status.
func statusValue(s string) []string {
	switch s {
	case StatusHit:
		return hitValue
	case StatusStale:
		return staleValue
	case StatusBypass:
		return bypassValue
	}
	return missValue
}

// ageValue is the Age header value of a response stored at storedAt.
func ageValue(now, storedAt time.Time) []string {
	secs := int64(now.Sub(storedAt) / time.Second)
	if secs < 0 {
		secs = 0
	}
	if secs <= maxSharedAge {
		return ageValues[secs]
	}
	return []string{strconv.FormatInt(secs, 10)}
}
