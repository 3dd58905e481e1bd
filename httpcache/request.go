package httpcache

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/hoard-cache/hoard"
)

// renderRequest is the request the handler renders a response to store
// from, rebuilt from the keyed inputs alone (see the package
// documentation, "What a handler rendering to store sees"): GET, origin
// form, the keyed scheme, host, path and query parameters, the passed
// headers, no body, no connection (RemoteAddr, TLS state), and ctx,
// which carries the render's cancellation and deadline but none of the
// caller's values. Nothing that is not in the key can reach the stored
// response.
func (c *Cache) renderRequest(ctx context.Context, r *http.Request, scheme string) *http.Request {
	u := &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: c.key.keyedQuery(r.URL.RawQuery)}
	req := (&http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, len(c.passed)),
		Body:       http.NoBody,
		Host:       r.Host,
		RequestURI: u.RequestURI(),
		Pattern:    r.Pattern,
	}).WithContext(ctx)
	for _, name := range c.passed {
		if vs, ok := r.Header[name]; ok {
			req.Header[name] = append([]string(nil), vs...)
		}
	}
	// The scheme is keyed: https shows as URL.Scheme "https" and a TLS
	// state that says so and nothing of the connection (no peer
	// certificates, no SNI name of the client's choosing); http as an
	// origin-form request over plain HTTP (no scheme, no TLS).
	if scheme == "https" {
		u.Scheme = scheme
		req.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: hostOnly(r.Host)}
	}
	// Path values come from the path, which is keyed: those of the
	// pattern's wildcards are kept; values a middleware set under other
	// names are not.
	for _, name := range patternWildcards(r.Pattern) {
		req.SetPathValue(name, r.PathValue(name))
	}
	return req
}

// requestScheme is the scheme of r's target URI: the request line's in
// absolute form, or as a proxy-headers middleware in front set it in
// URL.Scheme (from X-Forwarded-Proto, say), else https over TLS, else
// http.
func requestScheme(r *http.Request) string {
	switch s := strings.ToLower(r.URL.Scheme); {
	case s != "":
		return s
	case r.TLS != nil:
		return "https"
	}
	return "http"
}

// hostOnly is host without its port.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// patternWildcards returns the names of the wildcards of a ServeMux
// pattern ("GET /items/{id}/{rest...}" gives id and rest).
func patternWildcards(pattern string) []string {
	var names []string
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			return names
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			return names
		}
		name := strings.TrimSuffix(pattern[i+1:i+j], "...")
		if name != "" && name != "$" {
			names = append(names, name)
		}
		pattern = pattern[i+j+1:]
	}
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
// and its ETag with it; with Options.TagHeaders the tags are also sent to
// CDNs (Surrogate-Key, Cache-Tag). It needs an Invalidator in
// Options.Aside, and does nothing when the response is not being rendered
// for storage. (The render's ctx is not the load's: hoard.SetTags on it
// does nothing; use Tag.)
func Tag(r *http.Request, tags ...string) {
	if s := renderStateOf(r.Context()); s != nil {
		s.tag(tags...)
		return
	}
	hoard.SetTags(r.Context(), tags...)
}
