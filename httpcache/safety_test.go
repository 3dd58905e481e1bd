package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/hoard-cache/hoard/httpcache"
)

// storedAfter renders target once with the handler and reports whether a
// second request was answered from the cache.
func storedAfter(t *testing.T, f *fixture, o httpcache.Options, h http.HandlerFunc, header ...string) (stored bool, skips []string) {
	t.Helper()
	o.Aside = f.aside
	o.Aside.Name = uniqueName()
	o.OnSkip = func(r *http.Request, reason string) { skips = append(skips, reason) }
	mw := newCache(t, o).Middleware(h)
	get(t, mw, "/r", header...)
	res := get(t, mw, "/r", header...)
	return res.header.Get("X-Cache") == httpcache.StatusHit, skips
}

func TestSafetyRules(t *testing.T) {
	body := func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "body") }
	withHeader := func(k, v string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(k, v)
			body(w, r)
		}
	}
	withStatus := func(s int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(s) }
	}
	perUser := httpcache.Key{User: func(r *http.Request) string { return r.Header.Get("Authorization") }}
	cases := []struct {
		name   string
		opts   httpcache.Options
		h      http.HandlerFunc
		header []string
		stored bool
		reason string
	}{
		{"plain 200", httpcache.Options{}, body, nil, true, ""},
		{"request no-store", httpcache.Options{}, body, []string{"Cache-Control", "no-store"}, false, httpcache.ReasonRequestNoStore},
		{"response no-store", httpcache.Options{}, withHeader("Cache-Control", "no-store"), nil, false, httpcache.ReasonNoStore},
		{"response NO-STORE, listed late", httpcache.Options{}, withHeader("Cache-Control", "public, max-age=60, NO-STORE"), nil, false, httpcache.ReasonNoStore},
		{"private on a shared endpoint", httpcache.Options{}, withHeader("Cache-Control", "private, max-age=60"), nil, false, httpcache.ReasonPrivate},
		{"private with a field list", httpcache.Options{}, withHeader("Cache-Control", `private="Set-Cookie"`), nil, false, httpcache.ReasonPrivate},
		{"private on a per-user endpoint", httpcache.Options{Key: perUser}, withHeader("Cache-Control", "private"), []string{"Authorization", "Bearer ann"}, true, ""},
		{"response no-cache", httpcache.Options{}, withHeader("Cache-Control", "no-cache"), nil, false, httpcache.ReasonNoCache},
		{"max-age=0", httpcache.Options{}, withHeader("Cache-Control", "max-age=0"), nil, false, httpcache.ReasonZeroFreshness},
		{"s-maxage=0 over max-age", httpcache.Options{}, withHeader("Cache-Control", "max-age=60, s-maxage=0"), nil, false, httpcache.ReasonZeroFreshness},
		{"max-age invalid", httpcache.Options{}, withHeader("Cache-Control", "max-age=soon"), nil, false, httpcache.ReasonZeroFreshness},
		{"Authorization on a shared endpoint", httpcache.Options{}, body, []string{"Authorization", "Bearer ann"}, false, httpcache.ReasonAuthenticated},
		{"Cookie on a shared endpoint", httpcache.Options{}, body, []string{"Cookie", "session=abc"}, false, httpcache.ReasonAuthenticated},
		{"Authorization on a per-user endpoint", httpcache.Options{Key: perUser}, body, []string{"Authorization", "Bearer ann"}, true, ""},
		{"authenticated without a user", httpcache.Options{Key: perUser}, body, []string{"Cookie", "session=abc"}, false, httpcache.ReasonNoUser},
		{"Set-Cookie", httpcache.Options{}, withHeader("Set-Cookie", "s=1"), nil, false, httpcache.ReasonSetCookie},
		{"Set-Cookie per user", httpcache.Options{Key: perUser}, withHeader("Set-Cookie", "s=1"), []string{"Authorization", "Bearer ann"}, false, httpcache.ReasonSetCookie},
		{"Vary: *", httpcache.Options{}, withHeader("Vary", "Accept, *"), nil, false, httpcache.ReasonVaryStar},
		{"trailers", httpcache.Options{}, withHeader("Trailer", "X-Checksum"), nil, false, httpcache.ReasonTrailer},
		{"upgrade", httpcache.Options{}, body, []string{"Upgrade", "websocket", "Connection", "Upgrade"}, false, httpcache.ReasonUpgrade},
		{"204", httpcache.Options{}, withStatus(http.StatusNoContent), nil, true, ""},
		{"301", httpcache.Options{}, withStatus(http.StatusMovedPermanently), nil, true, ""},
		{"404", httpcache.Options{}, withStatus(http.StatusNotFound), nil, true, ""},
		{"410", httpcache.Options{}, withStatus(http.StatusGone), nil, true, ""},
		{"501", httpcache.Options{}, withStatus(http.StatusNotImplemented), nil, true, ""},
		{"302", httpcache.Options{}, withStatus(http.StatusFound), nil, false, httpcache.ReasonStatus},
		{"206", httpcache.Options{}, withStatus(http.StatusPartialContent), nil, false, httpcache.ReasonStatus},
		{"400", httpcache.Options{}, withStatus(http.StatusBadRequest), nil, false, httpcache.ReasonStatus},
		{"302 when listed", httpcache.Options{Statuses: []int{200, 302}}, withStatus(http.StatusFound), nil, true, ""},
		{"404 when not listed", httpcache.Options{Statuses: []int{200}}, withStatus(http.StatusNotFound), nil, false, httpcache.ReasonStatus},
		{"too large", httpcache.Options{MaxBodyBytes: 3}, body, nil, false, httpcache.ReasonTooLarge},
	}
	eachBackend(t, func(t *testing.T, f *fixture) {
		for _, tc := range cases {
			stored, skips := storedAfter(t, f, tc.opts, tc.h, tc.header...)
			if stored != tc.stored {
				t.Errorf("%s: stored %v, want %v (skips %q)", tc.name, stored, tc.stored, skips)
			}
			if tc.reason != "" && (len(skips) == 0 || skips[0] != tc.reason) {
				t.Errorf("%s: skips %q, want %q", tc.name, skips, tc.reason)
			}
		}
	})
}

func TestOnlyGetAndHeadCached(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := count(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Method) })
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
			for range 2 {
				res := do(t, mw, request(m, "/m"))
				res.expect(t, http.StatusOK, "BYPASS")
				if res.body != m {
					t.Errorf("%s: body %q", m, res.body)
				}
			}
		}
		if n := h.n.Load(); n != 10 {
			t.Errorf("handler ran %d times, want 10", n)
		}
	})
}

// Web cache poisoning: an unkeyed header or query parameter reflected in
// the body never reaches a cached body, because the handler rendering a
// response to store sees only keyed inputs.
func TestPoisoningUnkeyedInputs(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host := r.Host
			if fwd := r.Header.Get("X-Forwarded-Host"); fwd != "" {
				host = fwd
			}
			fmt.Fprintf(w, `<script src="//%s/app.js"></script> cb=%s uri=%s page=%s`,
				host, r.URL.Query().Get("callback"), r.RequestURI, r.URL.Query().Get("page"))
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside, Key: httpcache.Key{Query: []string{"page"}}}).Middleware(h)

		attack := get(t, mw, "http://shop.example/p?page=1&callback=alert(1)", "X-Forwarded-Host", "evil.example", "X-Original-URL", "/admin")
		clean := get(t, mw, "http://shop.example/p?page=1")
		clean.expect(t, http.StatusOK, "HIT")
		want := `<script src="//shop.example/app.js"></script> cb= uri=/p?page=1 page=1`
		if attack.body != want || clean.body != want {
			t.Errorf("attacker got %q\nclean client got %q\nwant %q", attack.body, clean.body, want)
		}
		// The Host is keyed: a forged Host gets an entry of its own.
		forged := get(t, mw, "http://evil.example/p?page=1")
		forged.expect(t, http.StatusOK, "MISS")
		if again := get(t, mw, "http://shop.example/p?page=1"); again.body != want {
			t.Errorf("after a forged Host, the clean client got %q", again.body)
		}
	})
}

// Cache deception: /account/x.css fetched with a session must not be
// stored for others, whether the session is a header or was turned into a
// ctx value by auth middleware in front of the cache.
func TestCacheDeception(t *testing.T) {
	type userKey struct{}
	account := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The user a middleware in front put in the ctx reaches a render
		// only as keyed, through UserOf; on requests the cache passes
		// (bypass), the ctx is the caller's.
		user := httpcache.UserOf(r)
		if user == "" {
			user, _ = r.Context().Value(userKey{}).(string)
		}
		if c, err := r.Cookie("session"); err == nil {
			user = "cookie-" + c.Value
		}
		if user == "" {
			http.Error(w, "log in", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/css") // the router matched /account/*
		fmt.Fprintf(w, "account of %s: card 4242", user)
	})
	auth := func(next http.Handler) http.Handler { // session cookie → ctx
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c, err := r.Cookie("sid"); err == nil {
				r = r.WithContext(context.WithValue(r.Context(), userKey{}, "ctx-"+c.Value))
			}
			next.ServeHTTP(w, r)
		})
	}
	eachBackend(t, func(t *testing.T, f *fixture) {
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(account)
		victim := get(t, mw, "/account/x.css", "Cookie", "session=alice")
		victim.expect(t, http.StatusOK, "BYPASS")
		attacker := get(t, mw, "/account/x.css")
		if attacker.status != http.StatusUnauthorized {
			t.Errorf("an anonymous client got %d %q", attacker.status, attacker.body)
		}

		f.aside.Name = uniqueName()
		behindAuth := auth(newCache(t, httpcache.Options{Aside: f.aside}).Middleware(account))
		get(t, behindAuth, "/account/y.css", "Cookie", "sid=alice").expect(t, http.StatusOK, "BYPASS")
		if res := get(t, behindAuth, "/account/y.css"); res.status != http.StatusUnauthorized {
			t.Errorf("behind auth middleware, an anonymous client got %d %q", res.status, res.body)
		}

		// A per-user endpoint stores per user: nobody else sees it.
		f.aside.Name = uniqueName()
		perUser := auth(newCache(t, httpcache.Options{Aside: f.aside, Key: httpcache.Key{
			User: func(r *http.Request) string { s, _ := r.Context().Value(userKey{}).(string); return s },
		}}).Middleware(account))
		get(t, perUser, "/account/z.css", "Cookie", "sid=alice").expect(t, http.StatusOK, "MISS")
		get(t, perUser, "/account/z.css", "Cookie", "sid=alice").expect(t, http.StatusOK, "HIT")
		bob := get(t, perUser, "/account/z.css", "Cookie", "sid=bob")
		bob.expect(t, http.StatusOK, "MISS")
		if bob.body != "account of ctx-bob: card 4242" {
			t.Errorf("bob got %q", bob.body)
		}
		if res := get(t, perUser, "/account/z.css"); res.status != http.StatusUnauthorized {
			t.Errorf("anonymous on the per-user endpoint got %d %q", res.status, res.body)
		}
	})
}

// A custom Authenticated check narrows what counts as credentials (an
// analytics cookie is not one), so such requests still use the cache.
func TestAuthenticatedOption(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "cookies seen: %d", len(r.Cookies()))
		})
		mw := newCache(t, httpcache.Options{Aside: f.aside, Authenticated: func(r *http.Request) bool {
			_, err := r.Cookie("session")
			return err == nil || r.Header.Get("Authorization") != ""
		}}).Middleware(h)
		first := get(t, mw, "/", "Cookie", "_ga=123")
		first.expect(t, http.StatusOK, "MISS")
		if first.body != "cookies seen: 0" {
			t.Errorf("the handler saw an unkeyed cookie: %q", first.body)
		}
		get(t, mw, "/", "Cookie", "_ga=456").expect(t, http.StatusOK, "HIT")
		get(t, mw, "/", "Cookie", "session=s").expect(t, http.StatusOK, "BYPASS")
	})
}

// Flight waiters never get a response that was not storable: it may carry
// the first client's cookie.
func TestWaitersDoNotShareUnstorable(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		release := make(chan struct{})
		var n int
		h := count(func(w http.ResponseWriter, r *http.Request) {
			if n++; n == 1 {
				<-release
				http.SetCookie(w, &http.Cookie{Name: "session", Value: "first"})
			}
			fmt.Fprint(w, "page")
		})
		f.aside.NegativeTTL = -1
		mw := newCache(t, httpcache.Options{Aside: f.aside}).Middleware(h)
		firstDone := make(chan result, 1)
		go func() { firstDone <- get(t, mw, "/s") }()
		for h.n.Load() == 0 {
			runtimeGosched()
		}
		secondDone := make(chan result, 1)
		go func() { secondDone <- get(t, mw, "/s") }()
		sleepBriefly()
		close(release)
		if first := <-firstDone; first.header.Get("Set-Cookie") == "" {
			t.Error("the first client lost its cookie")
		}
		if second := <-secondDone; second.header.Get("Set-Cookie") != "" || second.body != "page" {
			t.Errorf("the waiter got %q %v", second.body, second.header)
		}
	})
}
