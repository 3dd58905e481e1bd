package httpcache

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hoard-cache/hoard"
)

// Key says what a cached response varies on: everything that changes the
// response must be in it. The method (HEAD shares GET's entries), the host
// and the path are always in it; the fields add the rest.
//
// The scheme of the target URI is keyed too (https or http: see
// [requestScheme]), as RFC 9111 §4.1's cache key is the target URI: a
// redirect to https stored for an http request never reaches https
// clients.
//
// What is not in the key never reaches the handler when it renders a
// response to store: the request it gets carries only the keyed query
// parameters and headers (and the Vary and credential headers said below),
// so an unkeyed input cannot end up in a cached body (web cache
// poisoning). Requests served without storing get the request untouched.
type Key struct {
	// Query names the query parameters in the key. They are keyed sorted
	// by name, each with its values in request order, so "?a=1&b=2" and
	// "?b=2&a=1" share an entry; other parameters are ignored, and
	// dropped from the request the handler sees. Default: none.
	Query []string

	// AllQuery keys every query parameter (sorted by name) instead of the
	// Query list.
	AllQuery bool

	// Headers names the request headers in the key, with all their
	// values. Default: none.
	Headers []string

	// Vary names request headers the handler may read without keying
	// them up front: a response whose Vary header names one of them is
	// stored as a variant, served only to requests with the same values
	// of every header its Vary names, as a shared cache does (RFC 9111
	// §4.1). Default: none.
	Vary []string

	// User, when set, makes the cache per user: it returns the identity
	// of the request's user ("" for anonymous), which is keyed. Per-user
	// endpoints store responses to authenticated requests and "private"
	// responses, and the handler sees the request's Authorization and
	// Cookie headers: User must identify every credential the handler
	// reads. Default: nil, a shared cache; authenticated requests (see
	// Options.Authenticated) then bypass it.
	User func(*http.Request) string

	// Locale, when set, returns the request's locale, which is keyed. The
	// handler reads it with [LocaleOf], since the headers it may come
	// from (Accept-Language) are not passed unless keyed. Default: nil.
	Locale func(*http.Request) string
}

// keySpec is a Key compiled: sorted, canonical, without duplicates.
type keySpec struct {
	query    []string // sorted
	allQuery bool
	headers  []string // canonical, sorted
	vary     []string // canonical, sorted
	user     func(*http.Request) string
	locale   func(*http.Request) string
}

func (k *Key) compile() keySpec {
	s := keySpec{allQuery: k.AllQuery, user: k.User, locale: k.Locale}
	s.query = sortedSet(k.Query, func(s string) string { return s })
	s.headers = sortedSet(k.Headers, http.CanonicalHeaderKey)
	s.vary = sortedSet(k.Vary, http.CanonicalHeaderKey)
	return s
}

func sortedSet(in []string, canon func(string) string) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		out = append(out, canon(v))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// parts is the zero KeyBuilder: AppendKey(dst, p) appends ":" and p
// escaped, so a sequence of calls writes one tuple, and distinct tuples
// never give the same bytes (hoard.KeyBuilder's guarantee).
var parts hoard.KeyBuilder

// appendPart appends one escaped part.
func appendPart(dst []byte, p string) []byte { return parts.AppendKey(dst, p) }

// appendCount appends a count as a part (digits need no escaping).
func appendCount(dst []byte, n int) []byte {
	return strconv.AppendInt(append(dst, ':'), int64(n), 10)
}

// requestInputs are the per-request values of a key that come from
// functions, computed once.
type requestInputs struct {
	user, locale string
}

// appendID appends the request's id: its keyed parts as a tuple. Every
// list is preceded by its length, so the tuple reads back one way only,
// and two requests get the same id exactly when their keyed parts are
// equal (FuzzKey checks it).
func (s *keySpec) appendID(dst []byte, r *http.Request, in *requestInputs) []byte {
	dst = appendBase(dst, r.Host, r.URL.EscapedPath())
	dst = appendPart(dst, keyScheme(r))
	raw := r.URL.RawQuery
	if s.allQuery {
		dst = appendAllQuery(dst, raw)
	} else {
		for _, name := range s.query {
			n := 0
			for k := range queryPairs(raw) {
				if k == name {
					n++
				}
			}
			dst = appendCount(appendPart(dst, name), n)
			if n == 0 {
				continue
			}
			for k, v := range queryPairs(raw) {
				if k == name {
					dst = appendPart(dst, v)
				}
			}
		}
	}
	for _, name := range s.headers {
		vs := r.Header[name]
		dst = appendCount(appendPart(dst, name), len(vs))
		for _, v := range vs {
			dst = appendPart(dst, v)
		}
	}
	if s.user != nil {
		dst = appendPart(dst, in.user)
	}
	if s.locale != nil {
		dst = appendPart(dst, in.locale)
	}
	return dst
}

// appendAllQuery appends every parameter: their number, then each name
// (sorted) with its number of values and the values in order.
func appendAllQuery(dst []byte, raw string) []byte {
	type pair struct{ k, v string }
	var ps []pair
	for k, v := range queryPairs(raw) {
		ps = append(ps, pair{k, v})
	}
	slices.SortStableFunc(ps, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	names := 0
	for i := range ps {
		if i == 0 || ps[i].k != ps[i-1].k {
			names++
		}
	}
	dst = appendCount(dst, names)
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].k == ps[i].k {
			j++
		}
		dst = appendCount(appendPart(dst, ps[i].k), j-i)
		for _, p := range ps[i:j] {
			dst = appendPart(dst, p.v)
		}
		i = j
	}
	return dst
}

// queryPairs yields the decoded name-value pairs of a raw query as
// url.ParseQuery reads them: pairs with a ';', an empty name or a bad
// escape are skipped. It allocates only to decode escapes.
func queryPairs(raw string) func(yield func(k, v string) bool) {
	return func(yield func(k, v string) bool) {
		for raw != "" {
			var item string
			item, raw, _ = strings.Cut(raw, "&")
			if item == "" || strings.Contains(item, ";") {
				continue
			}
			k, v, _ := strings.Cut(item, "=")
			k, err := url.QueryUnescape(k)
			if err != nil {
				continue
			}
			v, err = url.QueryUnescape(v)
			if err != nil {
				continue
			}
			if !yield(k, v) {
				return
			}
		}
	}
}

// keyedQuery returns the raw query the handler sees: the keyed
// parameters, sorted by name, each with its values in order.
func (s *keySpec) keyedQuery(raw string) string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	if s.allQuery {
		type pair struct{ k, v string }
		var ps []pair
		for k, v := range queryPairs(raw) {
			ps = append(ps, pair{k, v})
		}
		slices.SortStableFunc(ps, func(a, b pair) int { return strings.Compare(a.k, b.k) })
		for _, p := range ps {
			add(p.k, p.v)
		}
		return b.String()
	}
	for _, name := range s.query {
		for k, v := range queryPairs(raw) {
			if k == name {
				add(k, v)
			}
		}
	}
	return b.String()
}

// varyID is the id of the variant of primary that a response varying on
// names (canonical, sorted) has for r: the primary id, then the names with
// the request's values of them.
func varyID(primary string, names []string, r *http.Request) string {
	dst := make([]byte, 0, len(primary)+64)
	dst = append(dst, primary...)
	dst = appendCount(appendPart(dst, "vary"), len(names))
	for _, name := range names {
		dst = appendPart(appendPart(dst, name), headerValue(r.Header, name))
	}
	return string(dst)
}

// headerValue is a request header's field value as Vary compares them
// (RFC 9111 §4.1): its lines joined by ", ", trimmed; "" when absent.
func headerValue(h http.Header, name string) string {
	vs := h[name]
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return strings.TrimSpace(vs[0])
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.TrimSpace(v)
	}
	return strings.Join(out, ", ")
}

// keyScheme is the keyed scheme of r: "https" or "http".
func keyScheme(r *http.Request) string {
	if requestScheme(r) == "https" {
		return "https"
	}
	return "http"
}
