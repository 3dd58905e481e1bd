package httpcache

import (
	"net/http"
	"strconv"
	"strings"
)

// The Cache-Status response header of RFC 9211: one list member naming
// this cache with parameters saying what it did.
//
//	Cache-Status: hoard; hit; ttl=42
//	Cache-Status: hoard; fwd=miss; stored; ttl=60
//	Cache-Status: hoard; fwd=stale; fwd-status=503; ttl=-30
//	Cache-Status: hoard; fwd=bypass
//
// hit: served from storage; fwd: the request went to the handler, and
// why (miss, vary-miss, bypass, method, request, stale); fwd-status: the
// handler's status when it differs from the one sent; stored: the
// handler's response was stored; collapsed: the request waited for
// another's render; ttl: the response's remaining freshness in seconds,
// negative once stale. With Options.Debug, key (the cache id) and detail
// (why the cache was bypassed or the response not stored) are added. The
// member is appended to any Cache-Status the handler set (caches nearer
// the origin come first).

// outcome is how one request was answered, for the status headers.
type outcome struct {
	label     string // StatusHit, StatusMiss, StatusStale or StatusBypass
	fwd       string // RFC 9211 fwd, "" for a hit
	fwdStatus int    // the handler's status, 0 when not worth saying
	stored    bool
	collapsed bool
	ttl       int64
	hasTTL    bool
	detail    string // Debug only
	id        string // Debug only
}

// The fwd values used.
const (
	fwdMiss     = "miss"
	fwdVaryMiss = "vary-miss"
	fwdBypass   = "bypass"
	fwdMethod   = "method"
	fwdRequest  = "request"
	fwdStale    = "stale"
)

// statusHeaders sets the X-Cache (or Options.StatusHeader) and
// Cache-Status headers of an answer.
func (c *Cache) statusHeaders(h http.Header, o *outcome) {
	if c.statusHeader == "" {
		return
	}
	h[c.statusHeader] = statusValue(o.label)
	v := c.cacheStatusValue(o)
	if have := h["Cache-Status"]; len(have) > 0 {
		h["Cache-Status"] = append(have[:len(have):len(have)], v...)
		return
	}
	h["Cache-Status"] = v
}

// cacheStatusValue renders o as a Cache-Status list member.
func (c *Cache) cacheStatusValue(o *outcome) []string {
	var b strings.Builder
	b.Grow(len(c.cacheName) + 48)
	b.WriteString(c.cacheName)
	if o.fwd == "" {
		b.WriteString("; hit")
	} else {
		b.WriteString("; fwd=")
		b.WriteString(o.fwd)
		if o.fwdStatus != 0 {
			b.WriteString("; fwd-status=")
			b.WriteString(strconv.Itoa(o.fwdStatus))
		}
		if o.stored {
			b.WriteString("; stored")
		}
	}
	if o.collapsed {
		b.WriteString("; collapsed")
	}
	if o.hasTTL {
		b.WriteString("; ttl=")
		b.WriteString(strconv.FormatInt(o.ttl, 10))
	}
	if c.debug {
		if o.id != "" {
			b.WriteString("; key=")
			writeSFString(&b, o.id)
		}
		if o.detail != "" {
			b.WriteString("; detail=")
			writeSFString(&b, o.detail)
		}
	}
	return []string{b.String()}
}

// writeSFString writes s as a structured-field string (RFC 8941 §3.3.3):
// quoted, with '"' and '\' escaped; bytes outside printable ASCII, which
// it cannot hold, are percent-encoded.
func writeSFString(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"' || ch == '\\':
			b.WriteByte('\\')
			b.WriteByte(ch)
		case ch < 0x20 || ch > 0x7e || ch == '%':
			b.WriteByte('%')
			b.WriteByte(hex[ch>>4])
			b.WriteByte(hex[ch&15])
		default:
			b.WriteByte(ch)
		}
	}
	b.WriteByte('"')
}

// hitMemo is the Cache-Status value of a plain hit for one ttl: hits in
// the same second share it.
type hitMemo struct {
	ttl int64
	v   []string
}

// hitStatus sets the status headers of a plain hit of p with ttl
// seconds of freshness left, reusing the value of the previous hit of p
// when its ttl was the same.
func (c *Cache) hitStatus(h http.Header, p *Response, ttl int64) {
	if c.statusHeader == "" {
		return
	}
	h[c.statusHeader] = hitValue
	m := p.hitMemo.Load()
	if m == nil || m.ttl != ttl {
		m = &hitMemo{ttl: ttl, v: c.cacheStatusValue(&outcome{label: StatusHit, ttl: ttl, hasTTL: true})}
		p.hitMemo.Store(m)
	}
	if have := h["Cache-Status"]; len(have) > 0 {
		h["Cache-Status"] = append(have[:len(have):len(have)], m.v...)
		return
	}
	h["Cache-Status"] = m.v
}
