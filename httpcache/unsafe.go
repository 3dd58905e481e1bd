package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Invalidation by unsafe requests (RFC 9111 §4.4): a request with an
// unsafe method (one of Options.UnsafeMethods: POST, PUT, PATCH and DELETE
// by default; methods of unknown safety invalidate nothing) that passes
// through the middleware and gets a non-error answer (2xx or 3xx) has
// changed its target, so the stored responses for the target URI are
// dropped, every variant of it (query, headers, user, locale, Vary), and
// so are those of the Location and Content-Location URIs when they are on
// the request's host.
//
// How the variants are found depends on the key (invalidationMode):
//
//   - a Key with no variant part (no query, headers, user, locale or Vary)
//     stores one entry per URI and scheme: Aside.Delete of its ids, exact, O(1), safe
//     against renders in flight (compare-and-set), and sent over the bus;
//   - otherwise, with an Invalidator, every stored response carries an
//     internal tag of its URI (host and path), and InvalidateTags of it
//     drops them all, in O(1), on every tier and instance, renders in
//     flight included (their tag epoch predates the stamp). Each
//     invalidated URI keeps one small stamp key in Redis, as every tag does;
//   - otherwise Aside.DeletePrefix of the URI's id: on Redis a SCAN of the
//     keyspace per unsafe request, so give such an endpoint an Invalidator.

// invalidationMode is how a Cache drops the responses of a URI.
type invalidationMode int

const (
	invalidateExact  invalidationMode = iota // Aside.Delete of the one id
	invalidateTag                            // InvalidateTags of the URI's tag
	invalidatePrefix                         // Aside.DeletePrefix of the URI's id
)

// invalidateTimeout bounds the invalidation after an unsafe request. It
// runs without the request's cancellation: the change is made, so the
// stored responses must go even when the client has left.
const invalidateTimeout = 5 * time.Second

// safeMethod reports whether method is safe (RFC 9110 §9.2.1). Of the
// others, only Options.UnsafeMethods invalidate (see serveUnsafe).
func safeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// hasVariants reports whether the key can give one URI several ids.
func (s *keySpec) hasVariants() bool {
	return s.allQuery || len(s.query) > 0 || len(s.headers) > 0 || len(s.vary) > 0 || s.user != nil || s.locale != nil
}

// appendBase appends the part of an id every variant of a URI shares: the
// method, the host and the path. appendID starts with it.
func appendBase(dst []byte, host, escapedPath string) []byte {
	dst = appendPart(dst, "GET") // HEAD is answered from GET's entry
	dst = appendPart(dst, host)
	return appendPart(dst, escapedPath)
}

// uriTag is the internal tag every response stored for host and path
// carries in invalidateTag mode. It starts with the cache's key prefix
// (Aside.Keys, else Aside.Name), which keeps it apart from the tags of
// other caches and services on the same Redis, and from the application's
// own tags unless they start with that prefix and ":uri:".
func (c *Cache) uriTag(host, escapedPath string) string {
	b := make([]byte, 0, len(c.tagPrefix)+len(host)+len(escapedPath)+16)
	b = append(b, c.tagPrefix...)
	b = appendPart(b, "uri")
	b = appendPart(b, host)
	return string(appendPart(b, escapedPath))
}

// target is a URI whose stored responses an unsafe request drops.
type target struct{ host, escapedPath string }

// serveUnsafe serves a request with an unsafe method: the handler gets it
// untouched (its ResponseWriter wrapped to see the status, with Flush and
// Unwrap, so http.ResponseController reaches the rest), nothing is looked
// up or stored, and a 2xx or 3xx answer drops the stored responses of the
// URIs it changed before its status line goes out, so a client that saw
// the answer never gets the old page from this cache.
func (c *Cache) serveUnsafe(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if !c.unsafeMethods[r.Method] {
		// Of unknown safety ("FOO", "PURGE", "get"): served, but it drops
		// nothing, or anyone could evict any page of a route registered
		// without a method.
		c.skipped(r, ReasonUnknownMethod)
		c.statusHeaders(w.Header(), &outcome{label: StatusBypass, fwd: fwdMethod, detail: ReasonUnknownMethod})
		next.ServeHTTP(w, c.withInputs(r, nil))
		return
	}
	c.skipped(r, ReasonMethod)
	c.statusHeaders(w.Header(), &outcome{label: StatusBypass, fwd: fwdMethod, detail: ReasonMethod})
	uw := &unsafeWriter{ResponseWriter: w, c: c, r: r}
	next.ServeHTTP(uw, c.withInputs(r, nil))
	if !uw.wrote { // nothing written: net/http answers 200
		uw.wrote = true
		c.invalidateAfter(r, w.Header())
	}
}

// invalidateAfter drops the stored responses of r's target URI and of the
// same-host URIs in the response's Location and Content-Location, and
// reports a failure to Options.OnInvalidateError.
func (c *Cache) invalidateAfter(r *http.Request, h http.Header) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), invalidateTimeout)
	defer cancel()
	if err := c.invalidate(ctx, unsafeTargets(r, h)); err != nil && c.onInvalidateError != nil {
		c.onInvalidateError(r, err)
	}
}

// unsafeTargets are the URIs an unsafe request's answer invalidates: the
// request's own, then Location and Content-Location resolved against it
// when they are on the same host, without duplicates.
func unsafeTargets(r *http.Request, h http.Header) []target {
	out := []target{{r.Host, r.URL.EscapedPath()}}
	for _, name := range [...]string{"Location", "Content-Location"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		u, err := r.URL.Parse(v)
		if err != nil || (u.Host != "" && !strings.EqualFold(u.Host, r.Host)) {
			continue
		}
		if t := (target{r.Host, u.EscapedPath()}); !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// invalidate drops every stored response of the targets, as the cache's
// mode says.
func (c *Cache) invalidate(ctx context.Context, targets []target) error {
	var errs []error
	switch c.mode {
	case invalidateExact:
		ids := make([]string, 0, 2*len(targets))
		for _, t := range targets {
			base := appendBase(nil, t.host, t.escapedPath)
			for _, scheme := range [...]string{"http", "https"} {
				ids = append(ids, string(appendPart(slices.Clip(base), scheme)))
			}
		}
		errs = append(errs, c.aside.Delete(ctx, ids...))
	case invalidateTag:
		tags := make([]string, len(targets))
		for i, t := range targets {
			tags[i] = c.uriTag(t.host, t.escapedPath)
		}
		errs = append(errs, c.inv.InvalidateTags(ctx, tags...))
	case invalidatePrefix:
		for _, t := range targets {
			base := appendBase(nil, t.host, t.escapedPath)
			// The id itself, and every id extending it by a part: not
			// the ids of longer paths ("/a" must not drop "/ab").
			errs = append(errs, c.aside.Delete(ctx, string(base)))
			_, err := c.aside.DeletePrefix(ctx, string(append(base, ':')))
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("httpcache %q: invalidate after an unsafe request: %w", c.name, err)
	}
	return nil
}

// unsafeWriter is the ResponseWriter of a handler serving an unsafe
// request: it invalidates when the handler sends a 2xx or 3xx status,
// before the status goes out.
type unsafeWriter struct {
	http.ResponseWriter
	c     *Cache
	r     *http.Request
	wrote bool // a final status was sent
}

var _ http.Flusher = (*unsafeWriter)(nil)

// WriteHeader invalidates on the first final status of 2xx or 3xx, then
// sends it.
func (w *unsafeWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		if code < 400 {
			w.c.invalidateAfter(w.r, w.Header())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write sends the status (200 unless set) first, as net/http does.
func (w *unsafeWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends the status (200 unless set), then flushes.
func (w *unsafeWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the client's ResponseWriter.
func (w *unsafeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
