package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hoard-cache/hoard"
)

// load is one Get's loader: it renders the response with the handler,
// for the client waiting on sink. It is also the ctx given to Get: the
// client's, which also yields the load itself under loadKey{}, so the
// shared tier's refusals can name the request (see watchedTier).
type load struct {
	context.Context // the client's request ctx

	c      *Cache
	r      *http.Request // the client's request
	next   http.Handler
	in     requestInputs
	scheme string // the keyed scheme
	sink   sink
	ran    atomic.Bool // Load was called

	mu       sync.Mutex
	done     chan struct{} // closed when the first Load returns; guarded by mu
	rendered *Response     // the first Load's response; guarded by mu
}

var _ hoard.Loader[*Response] = (*load)(nil)

// Value is the client's ctx's, and the load itself under loadKey{}.
func (l *load) Value(key any) any {
	if key == (loadKey{}) {
		return l
	}
	return l.Context.Value(key)
}

func (l *load) doneChan() chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

// result is the response the first Load rendered, nil before.
func (l *load) result() *Response {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rendered
}

// Load renders the response with the handler, in the flight's goroutine.
// The handler gets the request rebuilt from the keyed inputs
// (renderRequest) with a ctx of its own (renderContext), canceled only
// when every waiter has left. Only the first call may pass its response
// through to the client; a later one (a background refresh) renders for
// the cache alone.
func (l *load) Load(ctx context.Context, _ string) (*Response, error) {
	c := l.c
	var s *sink
	if l.ran.CompareAndSwap(false, true) {
		done := make(chan struct{})
		l.mu.Lock()
		l.done = done
		l.mu.Unlock()
		defer close(done)
		s = &l.sink
	}
	rctx, state, release := c.renderContext(ctx, l.r.Context(), &l.in)
	defer release()
	req := c.renderRequest(rctx, l.r, l.scheme)
	if c.mode == invalidateTag {
		hoard.SetTags(ctx, c.uriTag(req.Host, req.URL.EscapedPath()))
	}
	if c.tags != nil {
		state.tag(c.tags(req)...)
	}
	rec := newRecorder(c.maxBody, c.maxShared, s)
	defer rec.release()
	l.next.ServeHTTP(rec, req)
	if rec.spoiled && rec.body == nil {
		c.skipped(l.r, ReasonTooLarge)
		return nil, &notStored{reason: ReasonTooLarge}
	}
	status := rec.statusCode()
	h := rec.finalHeader()
	p := &Response{Status: status, Header: h, Body: rec.bodyCopy(), StoredAt: c.clock.Now()}
	if s != nil {
		l.mu.Lock()
		l.rendered = p
		l.mu.Unlock()
	}
	headerReason := c.unstorableHeaders(h)
	if rec.spoiled {
		// Too large to store, kept whole for the requests that waited
		// on this render: they get it rather than render their own.
		c.skipped(l.r, ReasonTooLarge)
		return nil, &notStored{resp: p, reason: ReasonTooLarge, shareable: headerReason == ""}
	}
	if status >= 500 && !c.statuses[status] {
		// A failure: with a fail-safe, Get serves the stale response.
		return nil, &notStored{resp: p, reason: ReasonStatus, failed: true, shareable: headerReason == ""}
	}
	if reason := c.unstorable(status, h); reason != "" {
		c.skipped(l.r, reason)
		// Only the status keeps it out: the waiters may share it.
		return nil, &notStored{resp: p, reason: reason, shareable: headerReason == ""}
	}
	c.prepare(ctx, p, req, l.r, state)
	return p, nil
}

// prepare readies a storable response: its Cache-Control (the policy,
// when the handler set neither it nor Expires), its freshness lifetime
// as TTL, its ETag, Vary variant, CDN headers and compression.
func (c *Cache) prepare(ctx context.Context, p *Response, req, client *http.Request, state *renderState) {
	h := p.Header
	_, hasCC := h["Cache-Control"]
	_, hasExpires := h["Expires"]
	if !hasCC && !hasExpires && c.policy != nil {
		h["Cache-Control"] = c.policy
	}
	if lifetime, ok := lifetimeOf(h, p.StoredAt); ok && lifetime > 0 {
		hoard.SetTTL(ctx, lifetime)
		p.Lifetime = lifetime
	} else {
		p.Lifetime = c.ttl
	}
	if p.Status == http.StatusOK && len(h["Etag"]) == 0 {
		h["Etag"] = []string{StrongETag(p.Body)}
	}
	if p.Vary = c.responseVary(h); len(p.Vary) > 0 {
		p.VaryValues = make([]string, len(p.Vary))
		for i, name := range p.Vary {
			p.VaryValues[i] = headerValue(req.Header, name)
		}
	}
	if !c.cdnHeaders(h, state.collected()) {
		c.skipped(client, ReasonCDNTags)
	}
	if c.compress.wants(h, len(p.Body)) {
		if enc := c.compress.compress(p.Body); enc != nil {
			p.Encoding, p.IdentityLength = c.compress.encoding, len(p.Body)
			if etag := firstValue(h, "Etag"); etag != "" {
				p.IdentityETag = etag
				if e := encodedETag(etag, p.Encoding); e != "" {
					h["Etag"] = []string{e}
				} else {
					delete(h, "Etag")
				}
			}
			p.Body = enc
			h["Content-Encoding"] = []string{p.Encoding}
			h["Content-Length"] = []string{strconv.Itoa(len(enc))}
			addVary(h, "Accept-Encoding")
		}
	}
	c.stripForStorage(h)
}

// skipped reports a skip to the OnSkip hook.
func (c *Cache) skipped(r *http.Request, reason string) {
	if c.onSkip != nil {
		c.onSkip(r, reason)
	}
}

// notStored is a render whose response is not stored. Unless it is a
// failure, it wraps hoard.ErrNotFound: the Aside keeps the key as "pass"
// for its NegativeTTL and does not apply the fail-safe.
type notStored struct {
	resp   *Response // nil when the response streamed through
	reason string
	// failed marks a 5xx: an error for the Aside, which serves a stale
	// response when its fail-safe has one.
	failed bool
	// shareable marks a response whose headers allow storing: the
	// requests that waited on the same render may get it rather than
	// render again.
	shareable bool
}

func (e *notStored) Error() string {
	if e.failed {
		return fmt.Sprintf("httpcache: the handler answered %d", e.resp.Status)
	}
	return "httpcache: response not stored: " + e.reason
}

func (e *notStored) Unwrap() error {
	if e.failed {
		return nil
	}
	return hoard.ErrNotFound
}
