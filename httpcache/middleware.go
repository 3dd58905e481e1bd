package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/defaults"
)

// Cache is response-caching middleware for one endpoint, on a
// hoard.Aside of [*Response]: see the package documentation. It is safe
// for concurrent use; Close it to wait for background renders.
type Cache struct {
	aside         *hoard.Aside[*Response]
	key           keySpec
	passed        []string // headers the handler sees when rendering to store
	policy        []string // the rendered CacheControl, nil for none
	policyTTL     CacheControl
	statuses      map[int]bool
	maxBody       int
	statusHeader  string
	authenticated func(*http.Request) bool
	tags          func(*http.Request) []string
	onSkip        func(*http.Request, string)
	clock         hoard.Clock

	name              string             // Aside.Name
	tagPrefix         string             // of URI tags: the key prefix, else the name
	mode              invalidationMode   // how an unsafe request drops a URI
	inv               *hoard.Invalidator // Aside.Invalidator, nil for none
	onInvalidateError func(*http.Request, error)
}

// New returns the middleware configured by options (copied; the Aside's
// tiers are required, so nil is refused). Bad options give an error
// wrapping hoard.ErrInvalidOption.
func New(options *Options) (*Cache, error) {
	if options == nil {
		return nil, fmt.Errorf("%w: httpcache: nil options (Aside.Memory or Aside.Shared is required)", hoard.ErrInvalidOption)
	}
	opts := *options
	if opts.Aside.Name == "" {
		opts.Aside.Name = defaultName
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.Aside.Clock = defaults.Clock(opts.Aside.Clock)
	aside, err := hoard.NewAside(&opts.Aside)
	if err != nil {
		return nil, fmt.Errorf("httpcache: %w", err)
	}
	c := &Cache{
		aside:         aside,
		key:           opts.Key.compile(),
		policyTTL:     opts.CacheControl,
		statuses:      make(map[int]bool),
		maxBody:       opts.MaxBodyBytes,
		statusHeader:  http.CanonicalHeaderKey(opts.StatusHeader),
		authenticated: opts.Authenticated,
		tags:          opts.Tags,
		onSkip:        opts.OnSkip,
		clock:         opts.Aside.Clock,

		name:              opts.Aside.Name,
		tagPrefix:         opts.Aside.Keys.Prefix(),
		inv:               opts.Aside.Invalidator,
		onInvalidateError: opts.OnInvalidateError,
	}
	if c.tagPrefix == "" {
		c.tagPrefix = c.name
	}
	switch {
	case !c.key.hasVariants():
		c.mode = invalidateExact
	case c.inv != nil:
		c.mode = invalidateTag
	default:
		c.mode = invalidatePrefix
	}
	c.passed = c.key.passedHeaders()
	if !opts.CacheControl.IsZero() {
		c.policy = []string{opts.CacheControl.String()}
	}
	statuses := opts.Statuses
	if statuses == nil {
		statuses = DefaultStatuses
	}
	for _, s := range statuses {
		c.statuses[s] = true
	}
	if c.maxBody == 0 {
		c.maxBody = defaultMaxBodyBytes
	}
	if c.statusHeader == "" {
		c.statusHeader = defaultStatusHeader
	}
	if opts.HideStatus {
		c.statusHeader = ""
	}
	if c.authenticated == nil {
		c.authenticated = defaultAuthenticated
	}
	return c, nil
}

// Middleware wraps next with the cache: it has the type of standard
// middleware, func(http.Handler) http.Handler, for net/http, chi and any
// router that takes it.
func (c *Cache) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serve(w, r, next) })
}

// Aside returns the cache-aside the responses are stored in, for its
// metrics, Delete and Close.
func (c *Cache) Aside() *hoard.Aside[*Response] { return c.aside }

// Close waits until background renders (early refreshes, loads past a
// soft timeout) have finished, or ctx ends.
func (c *Cache) Close(ctx context.Context) error { return c.aside.Close(ctx) }

// idBuffers are reused buffers for building ids.
var idBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// serve answers one request.
func (c *Cache) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if !safeMethod(r.Method) {
		c.serveUnsafe(w, r, next)
		return
	}
	if reason := c.requestBypass(r); reason != "" {
		c.bypass(w, r, next, reason)
		return
	}
	var in requestInputs
	if c.key.user != nil {
		in.user = c.key.user(r)
		if in.user == "" && c.authenticated(r) {
			c.bypass(w, r, next, ReasonNoUser)
			return
		}
	}
	if c.key.locale != nil {
		in.locale = c.key.locale(r)
	}
	buf := idBuffers.Get().(*[]byte)
	*buf = c.key.appendID((*buf)[:0], r, &in)
	id := string(*buf)
	if cap(*buf) <= 4096 {
		idBuffers.Put(buf)
	}

	p, l, done, err := c.lookup(w, r, next, id, &in)
	if done {
		return
	}
	if err == nil && !p.matches(r) {
		// A variant for other values of the headers it varies on: look
		// up (or render) this request's own.
		p, l, done, err = c.lookup(w, r, next, varyID(id, p.Vary, r), &in)
		if done {
			return
		}
		if err == nil && !p.matches(r) { // the handler changed what it varies on
			c.pass(w, r, next, &in)
			return
		}
	}
	c.answer(w, r, next, &in, p, err, l)
}

// lookup gets id from the cache, rendering on a miss. done reports that
// the response has been sent already (streamed by the render, or the
// client left).
func (c *Cache) lookup(w http.ResponseWriter, r *http.Request, next http.Handler, id string, in *requestInputs) (p *Response, l *load, done bool, err error) {
	l = &load{c: c, r: r, next: next, in: *in}
	l.sink.w, l.sink.open, l.sink.status = w, true, c.statusHeader
	p, err = c.aside.Get(r.Context(), id, l)
	if l.sink.closeUnlessClaimed() {
		// The render passes its response through to this client: wait
		// until it is done writing (Get may have returned early).
		select {
		case <-l.doneChan():
		case <-r.Context().Done():
		}
		l.sink.close()
		return nil, l, true, nil
	}
	if err != nil && r.Context().Err() != nil {
		return nil, l, true, err // the client left: nobody to answer
	}
	if p == nil && err == nil {
		err = errNoResponse
	}
	return p, l, false, err
}

// errNoResponse guards against a nil value without an error.
var errNoResponse = errors.New("httpcache: the cache gave no response")

// answer sends Get's result to the client.
func (c *Cache) answer(w http.ResponseWriter, r *http.Request, next http.Handler, in *requestInputs, p *Response, err error, l *load) {
	if err == nil {
		if p == l.result() {
			c.write(w, r, p, StatusMiss, false, c.clock.Now())
		} else {
			c.write(w, r, p, StatusHit, true, c.clock.Now())
		}
		return
	}
	c.answerError(w, r, next, in, p, err, l)
}

// answerError sends the answer when Get gave an error: a stale response,
// a response not stored, a pass, a panic.
func (c *Cache) answerError(w http.ResponseWriter, r *http.Request, next http.Handler, in *requestInputs, p *Response, err error, l *load) {
	var ns *notStored
	var pe *hoard.PanicError
	switch {
	case p != nil && errors.Is(err, hoard.ErrServedStale):
		c.write(w, r, p, StatusStale, true, c.clock.Now())
	case errors.As(err, &ns):
		mine := ns.resp != nil && ns.resp == l.result()
		if mine || (ns.resp != nil && ns.shareable) {
			c.writeRaw(w, ns.resp)
			return
		}
		c.pass(w, r, next, in)
	case errors.As(err, &pe):
		if l.ran.Load() { // this request's render panicked: let the server see it
			if pe.Value == http.ErrAbortHandler { //nolint:errorlint // net/http compares it so
				panic(http.ErrAbortHandler)
			}
			panic(pe)
		}
		c.pass(w, r, next, in)
	case errors.Is(err, hoard.ErrLockTimeout):
		http.Error(w, "the response is being rendered elsewhere; try again", http.StatusServiceUnavailable)
	default: // a remembered pass (hit-for-pass), or a failing cache
		c.pass(w, r, next, in)
	}
}

// writeRaw sends a rendered response as it is, to the client it was
// rendered for (or a waiter for the same key).
func (c *Cache) writeRaw(w http.ResponseWriter, p *Response) {
	h := w.Header()
	for k, v := range p.Header {
		h[k] = v
	}
	if c.statusHeader != "" {
		h[c.statusHeader] = missValue
	}
	w.WriteHeader(p.Status)
	if len(p.Body) > 0 {
		_, _ = w.Write(p.Body)
	}
}

// bypass serves a request not eligible for the cache: the handler gets it
// and the ResponseWriter untouched (Flusher, Hijacker and all).
func (c *Cache) bypass(w http.ResponseWriter, r *http.Request, next http.Handler, reason string) {
	if c.onSkip != nil {
		c.onSkip(r, reason)
	}
	if c.statusHeader != "" {
		w.Header()[c.statusHeader] = bypassValue
	}
	next.ServeHTTP(w, c.withInputs(r, nil))
}

// pass serves a request whose response is not taken from the cache: the
// handler gets it untouched, and its response is not stored.
func (c *Cache) pass(w http.ResponseWriter, r *http.Request, next http.Handler, in *requestInputs) {
	if c.statusHeader != "" {
		w.Header()[c.statusHeader] = missValue
	}
	next.ServeHTTP(w, c.withInputs(r, in))
}

// load is one Get's loader: it renders the response with the handler,
// for the client waiting on sink.
type load struct {
	c    *Cache
	r    *http.Request // the client's request
	next http.Handler
	in   requestInputs
	sink sink
	ran  atomic.Bool // Load was called

	mu       sync.Mutex
	done     chan struct{} // closed when the first Load returns; guarded by mu
	rendered *Response     // the first Load's response; guarded by mu
}

var _ hoard.Loader[*Response] = (*load)(nil)

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

// Load renders the response with the handler, in the flight's goroutine,
// with ctx (the request's values, canceled only when every waiter has
// left). Only the first call may pass its response through to the client;
// a later one (there is none today) renders for the cache alone.
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
	req := c.renderRequest(ctx, l.r, &l.in)
	if c.mode == invalidateTag {
		hoard.SetTags(ctx, c.uriTag(req.Host, req.URL.EscapedPath()))
	}
	if c.tags != nil {
		hoard.SetTags(ctx, c.tags(req)...)
	}
	rec := newRecorder(c.maxBody, s)
	defer rec.release()
	l.next.ServeHTTP(rec, req)
	if rec.spoiled {
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
	if status >= 500 && !c.statuses[status] {
		// A failure: with a fail-safe, Get serves the stale response.
		return nil, &notStored{resp: p, reason: ReasonStatus, failed: true, shareable: headerReason == ""}
	}
	if reason := c.unstorable(status, h); reason != "" {
		c.skipped(l.r, reason)
		return nil, &notStored{resp: p, reason: reason}
	}
	cc, hasCC := h["Cache-Control"]
	if !hasCC && c.policy != nil {
		h["Cache-Control"] = c.policy
	}
	if ttl, ok := ParseCacheControl(cc...).freshness(); ok {
		hoard.SetTTL(ctx, ttl)
	} else if ttl, ok := c.policyTTL.SMaxAge.Duration(); ok && !hasCC && ttl > 0 {
		hoard.SetTTL(ctx, ttl)
	}
	if status == http.StatusOK && len(h["Etag"]) == 0 {
		h["Etag"] = []string{StrongETag(p.Body)}
	}
	if p.Vary = c.responseVary(h); len(p.Vary) > 0 {
		p.VaryValues = make([]string, len(p.Vary))
		for i, name := range p.Vary {
			p.VaryValues[i] = headerValue(req.Header, name)
		}
	}
	c.stripForStorage(h)
	return p, nil
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
	// shareable marks a failure whose headers allow storing: waiters for
	// the same key may get it rather than render again.
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
