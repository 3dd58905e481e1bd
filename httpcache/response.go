package httpcache

import (
	"net/http"
	"strconv"
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
	return n
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

// notModifiedHeaders are the headers a 304 carries (RFC 9110 §15.4.5).
var notModifiedHeaders = []string{"Cache-Control", "Content-Location", "Etag", "Expires", "Vary", "Last-Modified"}

// write sends p to w as the answer to r: a 304 when r's conditions say the
// client's copy is current, no body for HEAD. status is the cache-status
// value, "" for none; withAge adds the Age header.
func (c *Cache) write(w http.ResponseWriter, r *http.Request, p *Response, status string, withAge bool, now time.Time) {
	h := w.Header()
	if p.Status == http.StatusOK && notModified(r, p.Header) {
		for _, name := range notModifiedHeaders {
			if v, ok := p.Header[name]; ok {
				h[name] = v[:len(v):len(v)]
			}
		}
		c.cacheHeaders(h, p, status, withAge, now)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	for k, v := range p.Header {
		h[k] = v[:len(v):len(v)] // shared with other readers: an Add must copy
	}
	c.cacheHeaders(h, p, status, withAge, now)
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead && len(p.Body) > 0 {
		_, _ = w.Write(p.Body)
	}
}

func (c *Cache) cacheHeaders(h http.Header, p *Response, status string, withAge bool, now time.Time) {
	if c.statusHeader != "" && status != "" {
		h[c.statusHeader] = statusValue(status)
	}
	if withAge {
		h["Age"] = ageValue(now, p.StoredAt)
	}
}
