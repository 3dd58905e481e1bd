package httpcache

import (
	"context"
	"net/http"

	"github.com/hoard-cache/hoard"
)

// renderRequest is the request the handler renders a response to store
// from: GET, with ctx, only the keyed query parameters (in RequestURI
// too), only the passed headers and no body. What is not in the key
// cannot reach the stored response.
func (c *Cache) renderRequest(ctx context.Context, r *http.Request, in *requestInputs) *http.Request {
	if c.key.user != nil || c.key.locale != nil {
		v := *in
		ctx = context.WithValue(ctx, inputsKey{}, &v)
	}
	req := r.WithContext(ctx)
	req.Method = http.MethodGet
	u := *r.URL
	u.RawQuery = c.key.keyedQuery(r.URL.RawQuery)
	u.ForceQuery, u.Fragment, u.RawFragment = false, "", ""
	req.URL = &u
	req.RequestURI = u.RequestURI()
	h := make(http.Header, len(c.passed))
	for _, name := range c.passed {
		if vs, ok := r.Header[name]; ok {
			h[name] = append([]string(nil), vs...)
		}
	}
	req.Header = h
	req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	req.TransferEncoding, req.Trailer = nil, nil
	req.Form, req.PostForm, req.MultipartForm = nil, nil, nil
	return req
}

type inputsKey struct{}

// withInputs returns r with the keyed user and locale in its ctx, for
// [UserOf] and [LocaleOf]; r itself when the key has neither.
func (c *Cache) withInputs(r *http.Request, in *requestInputs) *http.Request {
	if c.key.user == nil && c.key.locale == nil {
		return r
	}
	if in == nil {
		in = &requestInputs{}
		if c.key.user != nil {
			in.user = c.key.user(r)
		}
		if c.key.locale != nil {
			in.locale = c.key.locale(r)
		}
	}
	v := *in
	return r.WithContext(context.WithValue(r.Context(), inputsKey{}, &v))
}

// UserOf returns the user Key.User gave the request, as keyed; "" outside
// a per-user cache.
func UserOf(r *http.Request) string {
	if in, ok := r.Context().Value(inputsKey{}).(*requestInputs); ok {
		return in.user
	}
	return ""
}

// LocaleOf returns the locale Key.Locale gave the request, as keyed: a
// handler renders in it, since the headers it came from are not passed
// unless keyed. "" outside a cache with a Locale.
func LocaleOf(r *http.Request) string {
	if in, ok := r.Context().Value(inputsKey{}).(*requestInputs); ok {
		return in.locale
	}
	return ""
}

// Tag tags the response being rendered for r (for example "product:42"),
// so that hoard.Invalidator.InvalidateTags of any of its tags drops it,
// and its ETag with it. It is hoard.SetTags on the request's ctx: it needs
// an Invalidator in Options.Aside, and does nothing when the response is
// not being rendered for storage.
func Tag(r *http.Request, tags ...string) {
	hoard.SetTags(r.Context(), tags...)
}
