package httpcache

import (
	"context"
	"errors"
	"net/http"

	"github.com/hoard-cache/hoard"
)

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
	c.serveID(w, r, next, id, &in, true)
}

// serveID answers r from the entry id, rendering it on a miss. retry
// allows one more lookup after a stale response that may not be served
// was dropped.
func (c *Cache) serveID(w http.ResponseWriter, r *http.Request, next http.Handler, id string, in *requestInputs, retry bool) {
	p, l, done, err := c.lookup(w, r, next, id, in)
	if done {
		return
	}
	fwd := fwdMiss
	if err == nil && !p.matches(r) {
		// A variant for other values of the headers it varies on: look
		// up (or render) this request's own.
		id = varyID(id, p.Vary, r)
		p, l, done, err = c.lookup(w, r, next, id, in)
		if done {
			return
		}
		fwd = fwdVaryMiss
		if err == nil && !p.matches(r) { // the handler changed what it varies on
			c.pass(w, r, next, in, "the response varies on other headers than the stored one")
			return
		}
	}
	if err == nil {
		c.answer(w, r, next, in, p, l, id, fwd, retry)
		return
	}
	c.answerError(w, r, next, in, p, err, l, id)
}

// lookup gets id from the cache, rendering on a miss. done reports that
// the response has been sent already (streamed by the render, or the
// client left).
func (c *Cache) lookup(w http.ResponseWriter, r *http.Request, next http.Handler, id string, in *requestInputs) (p *Response, l *load, done bool, err error) {
	l = &load{Context: r.Context(), c: c, r: r, next: next, in: *in, scheme: keyScheme(r)}
	l.sink.w, l.sink.open = w, true
	l.sink.onPass = c.onPass
	// l is the ctx: the shared tier's refusals find the request in it.
	p, err = c.aside.Get(l, id, l)
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

// passedThrough sets the status headers of a response a render passes
// through to its client unrecorded.
func (c *Cache) passedThrough(h http.Header) {
	c.statusHeaders(h, &outcome{label: StatusMiss, fwd: fwdMiss, detail: ReasonTooLarge})
}

// errNoResponse guards against a nil value without an error.
var errNoResponse = errors.New("httpcache: the cache gave no response")

// answer sends a response Get gave without error: rendered for this
// request (a miss), or stored (a hit, or a stale response the fail-safe
// keeps serving while the handler fails, which is dropped instead when
// its headers forbid serving it stale).
func (c *Cache) answer(w http.ResponseWriter, r *http.Request, next http.Handler, in *requestInputs, p *Response, l *load, id, fwd string, retry bool) {
	now := c.clock.Now()
	if p == l.result() {
		c.write(w, r, p, &outcome{label: StatusMiss, fwd: fwd, stored: true, id: id}, false, now)
		return
	}
	if st := p.staleness(now); p.Lifetime > 0 && st >= 0 {
		if !mayServeStale(p.Header, st) {
			c.dropStale(r, id)
			if retry {
				c.serveID(w, r, next, id, in, false)
			} else {
				c.pass(w, r, next, in, "a stale response that may not be served stale")
			}
			return
		}
		c.write(w, r, p, &outcome{label: StatusStale, id: id}, true, now)
		return
	}
	c.write(w, r, p, &outcome{label: StatusHit, id: id}, true, now)
}

// answerError sends the answer when Get gave an error: a stale response,
// a response not stored, a pass, a panic.
func (c *Cache) answerError(w http.ResponseWriter, r *http.Request, next http.Handler, in *requestInputs, p *Response, err error, l *load, id string) {
	var ns *notStored
	var pe *hoard.PanicError
	hasNS := errors.As(err, &ns)
	switch {
	case p != nil && errors.Is(err, hoard.ErrServedStale):
		c.answerStale(w, r, next, in, p, err, l, id)
	case hasNS:
		mine := ns.resp != nil && ns.resp == l.result()
		if mine || (ns.resp != nil && ns.shareable) {
			c.writeRaw(w, ns.resp, &outcome{label: StatusMiss, fwd: fwdMiss, collapsed: !mine, detail: ns.reason, id: id})
			return
		}
		c.pass(w, r, next, in, ns.reason)
	case errors.As(err, &pe):
		if l.ran.Load() { // this request's render panicked: let the server see it
			if pe.Value == http.ErrAbortHandler { //nolint:errorlint // net/http compares it so
				panic(http.ErrAbortHandler)
			}
			panic(pe)
		}
		c.pass(w, r, next, in, "the render this request waited for panicked")
	case errors.Is(err, hoard.ErrLockTimeout):
		http.Error(w, "the response is being rendered elsewhere; try again", http.StatusServiceUnavailable)
	case errors.Is(err, hoard.ErrNotFound):
		c.pass(w, r, next, in, "pass: the response was not storable a moment ago (hit-for-pass)")
	default: // a failing cache
		c.pass(w, r, next, in, err.Error())
	}
}

// answerStale sends the stale response the fail-safe gave when the
// handler failed, unless its headers forbid serving it stale: then the
// handler's failure is the answer (or a 504 when there is none to give),
// and the stale response, which the fail-safe keeps for its throttle, is
// dropped.
func (c *Cache) answerStale(w http.ResponseWriter, r *http.Request, next http.Handler, in *requestInputs, p *Response, err error, l *load, id string) {
	now := c.clock.Now()
	var ns *notStored
	hasNS := errors.As(err, &ns) && ns.resp != nil
	if mayServeStale(p.Header, p.staleness(now)) {
		o := &outcome{label: StatusStale, fwd: fwdStale, id: id}
		if hasNS {
			o.fwdStatus = ns.resp.Status
		}
		c.write(w, r, p, o, true, now)
		return
	}
	c.dropStale(r, id)
	if hasNS {
		mine := ns.resp == l.result()
		if mine || ns.shareable {
			c.writeRaw(w, ns.resp, &outcome{label: StatusMiss, fwd: fwdMiss, collapsed: !mine, id: id,
				detail: "the handler failed; the stored response may not be served stale"})
			return
		}
		c.pass(w, r, next, in, "the handler failed; the stored response may not be served stale")
		return
	}
	c.statusHeaders(w.Header(), &outcome{label: StatusMiss, fwd: fwdStale, id: id, detail: err.Error()})
	http.Error(w, "the response could not be rendered, and the stored one may not be served stale", http.StatusGatewayTimeout)
}

// dropStale deletes the entry id, a stale response its headers forbid
// serving stale, which the fail-safe keeps serving during its throttle.
// A failure goes to Options.OnInvalidateError.
func (c *Cache) dropStale(r *http.Request, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), invalidateTimeout)
	defer cancel()
	if err := c.aside.Delete(ctx, id); err != nil && c.onInvalidateError != nil {
		c.onInvalidateError(r, err)
	}
}

// bypass serves a request not eligible for the cache: the handler gets it
// and the ResponseWriter untouched (Flusher, Hijacker and all).
func (c *Cache) bypass(w http.ResponseWriter, r *http.Request, next http.Handler, reason string) {
	c.skipped(r, reason)
	fwd := fwdBypass
	if reason == ReasonRequestNoStore {
		fwd = fwdRequest
	}
	c.statusHeaders(w.Header(), &outcome{label: StatusBypass, fwd: fwd, detail: reason})
	next.ServeHTTP(w, c.withInputs(r, nil))
}

// pass serves a request whose response is not taken from the cache: the
// handler gets it untouched, and its response is not stored.
func (c *Cache) pass(w http.ResponseWriter, r *http.Request, next http.Handler, in *requestInputs, detail string) {
	c.statusHeaders(w.Header(), &outcome{label: StatusMiss, fwd: fwdBypass, detail: detail})
	next.ServeHTTP(w, c.withInputs(r, in))
}
