package httpcache

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

// keyedParts is what a key must distinguish, computed independently of
// appendID: the reference FuzzKey checks ids against.
type keyedParts struct {
	Host, Path     string
	Scheme         string
	Query, Headers map[string][]string
	User, Locale   string
}

func referenceParts(s *keySpec, r *http.Request, in *requestInputs) keyedParts {
	p := keyedParts{Host: r.Host, Path: r.URL.EscapedPath(), Scheme: keyScheme(r), Query: map[string][]string{}, Headers: map[string][]string{}}
	q, _ := url.ParseQuery(r.URL.RawQuery)
	for k, vs := range q {
		if s.allQuery || containsString(s.query, k) {
			p.Query[k] = vs
		}
	}
	for _, h := range s.headers {
		if vs := r.Header[h]; len(vs) > 0 {
			p.Headers[h] = vs
		}
	}
	if s.user != nil {
		p.User = in.user
	}
	if s.locale != nil {
		p.Locale = in.locale
	}
	return p
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// fuzzRequest builds a request from raw parts, as a server could receive
// it.
func fuzzRequest(host, path, rawQuery, header string, extra string) *http.Request {
	r := &http.Request{Method: http.MethodGet, Host: host, URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: http.Header{}}
	if header != "" {
		r.Header["X-V"] = []string{header}
	}
	if extra != "" {
		r.Header["X-V"] = append(r.Header["X-V"], extra)
	}
	return r
}

func specFor(allQuery bool) keySpec {
	k := Key{Query: []string{"b", "a", "a b"}, AllQuery: false, Headers: []string{"x-v"},
		User: func(*http.Request) string { return "" }, Locale: func(*http.Request) string { return "" }}
	if allQuery {
		k.Query, k.AllQuery = nil, true
	}
	return k.compile()
}

// FuzzKey: building a key never panics, and two requests get the same id
// exactly when their keyed parts are equal; then the handler sees the
// same query too, and that query holds exactly the keyed parameters.
func FuzzKey(f *testing.F) {
	f.Add("shop.example", "/p", "a=1&b=2", "v1", "ann", "en", uint8(0), "b=2&a=1")
	f.Add("shop.example", "/p", "a=1&b=2&utm=x", "v1", "ann", "en", uint8(0), "a=1&b=2")
	f.Add("shop.example", "/p", "a=1:2", "", "", "", uint8(0), "a=1%3A2")
	f.Add("h", "/a:b", "a=%zz&b=;", "x", "u:1", "l", uint8(1), "/a%3Ab")
	f.Add("h", "/x", "a+b=1&a%20b=2", "", "", "", uint8(8), "a b=1&a b=2")
	f.Add("h", "/x", "", "", "", "", uint8(2), "v")
	f.Add("h", "/x", "", "", "a", "", uint8(3), "")
	f.Fuzz(func(t *testing.T, host, path, rawQuery, header, user, locale string, mutate uint8, alt string) {
		s := specFor(mutate&8 != 0)
		a := fuzzRequest(host, path, rawQuery, header, "")
		inA := requestInputs{user: user, locale: locale}
		b := fuzzRequest(host, path, rawQuery, header, "")
		inB := inA
		switch mutate % 8 {
		case 0:
			b.URL.RawQuery = alt
		case 1:
			b.URL.Path = alt
		case 2:
			b.Header["X-V"] = []string{alt}
		case 3:
			inB.user = alt
		case 4:
			inB.locale = alt
		case 5:
			b.Host = alt
		case 6:
			b.Header["X-V"] = append(b.Header["X-V"], alt)
		case 7:
			b.Header["X-Other"] = []string{alt} // unkeyed
		}
		idA := string(s.appendID(nil, a, &inA))
		idB := string(s.appendID(nil, b, &inB))
		same := reflect.DeepEqual(referenceParts(&s, a, &inA), referenceParts(&s, b, &inB))
		if same != (idA == idB) {
			t.Fatalf("parts equal %v but ids equal %v:\n%q\n%q", same, idA == idB, idA, idB)
		}
		qa, qb := s.keyedQuery(a.URL.RawQuery), s.keyedQuery(b.URL.RawQuery)
		if same && qa != qb {
			t.Fatalf("same key, but the handler sees %q and %q", qa, qb)
		}
		seen, _ := url.ParseQuery(qa)
		if want := referenceParts(&s, a, &inA).Query; !reflect.DeepEqual(map[string][]string(seen), want) {
			t.Fatalf("the handler sees %v, the key holds %v", seen, want)
		}
	})
}

func TestKeyQueryOrder(t *testing.T) {
	s := specFor(false)
	id := func(q string) string {
		return string(s.appendID(nil, fuzzRequest("h", "/p", q, "", ""), &requestInputs{}))
	}
	if id("a=1&b=2") != id("b=2&a=1") || id("a=1&b=2") != id("b=2&zz=9&a=1") {
		t.Error("parameter order or an unkeyed parameter changed the id")
	}
	for _, q := range []string{"a=1&a=2", "a=2&a=1", "a=1", "a=", "", "a=1&b=2"} {
		for _, q2 := range []string{"a=1&a=2", "a=2&a=1", "a=1", "a=", "", "a=1&b=2"} {
			if q != q2 && id(q) == id(q2) {
				t.Errorf("%q and %q share an id", q, q2)
			}
		}
	}
	all := specFor(true)
	allID := func(q string) string {
		return string(all.appendID(nil, fuzzRequest("h", "/p", q, "", ""), &requestInputs{}))
	}
	if allID("x=1&y=2") != allID("y=2&x=1") || allID("x=1") == allID("x=1&y=2") {
		t.Error("AllQuery: order mattered or a parameter was ignored")
	}
	if got := all.keyedQuery("y=2&x=1&x=0"); got != "x=1&x=0&y=2" {
		t.Errorf("AllQuery: the handler sees %q", got)
	}
}

func TestKeyEscapesParts(t *testing.T) {
	s := specFor(false)
	// A part holding the separator cannot pass for two parts.
	a := fuzzRequest("h", "/p", "a=1:2", "", "")
	b := fuzzRequest("h", "/p", "a=1&a=2", "", "")
	if string(s.appendID(nil, a, &requestInputs{})) == string(s.appendID(nil, b, &requestInputs{})) {
		t.Error("a value with ':' collided with two values")
	}
	u1, u2 := requestInputs{user: "ann:en"}, requestInputs{user: "ann", locale: "en"}
	c := fuzzRequest("h", "/p", "", "", "")
	if string(s.appendID(nil, c, &u1)) == string(s.appendID(nil, c, &u2)) {
		t.Error("user and locale collided")
	}
}

func BenchmarkAppendID(b *testing.B) {
	s := specFor(false)
	r := fuzzRequest("shop.example", "/products/42", "b=2&a=1&utm=x", "v1", "")
	in := requestInputs{user: "ann"}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = s.appendID(buf[:0], r, &in)
	}
}
