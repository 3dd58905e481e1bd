// Package httpcache is response-caching middleware for net/http, chi and
// any router that takes func(http.Handler) http.Handler, configured per
// endpoint, on a [hoard.Aside] of [*Response].
//
// # One endpoint
//
//	products, err := httpcache.New(&httpcache.Options{
//		Aside:        hoard.AsideOptions[*httpcache.Response]{Name: "products", Memory: mem, Shared: redis, TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour}},
//		Key:          httpcache.Key{Query: []string{"page", "sort"}},
//		CacheControl: httpcache.CacheControl{Public: true, MaxAge: httpcache.For(time.Minute)},
//	})
//	mux.Handle("GET /products", products.Middleware(listProducts))
//
// A miss runs the handler as the Aside's loader: its response is recorded
// (status, headers, body up to MaxBodyBytes) and stored in the tiers, so
// the Aside's machinery applies to responses: one render per key per
// process for concurrent requests (and per fleet with Stampede), early
// refresh (XFetch), tags, and the fail-safe, which serves the stored
// response stale when the handler answers 5xx. The render's ctx keeps the
// request's values but is canceled only when every client waiting on it
// has left. A hit answers with the stored response, an Age header and
// X-Cache: HIT (MISS, STALE, BYPASS otherwise; see Options.StatusHeader).
//
// # Keys and web cache poisoning
//
// A [Key] lists what responses vary on: host and path always, chosen query
// parameters (sorted), chosen headers, the user, the locale; keys are
// built on hoard.KeyBuilder, so no input can collide with another or leave
// its namespace (FuzzKey checks it). The handler rendering a response to
// store sees only keyed inputs: other query parameters and headers are
// removed from its request, so nothing unkeyed (X-Forwarded-Host, a
// callback parameter) can reach a stored body. A response's Vary is
// honoured for the headers of Key.Vary: each variant is stored under a
// key of its own and served only to requests with the same values.
//
// # Safety (RFC 9111)
//
// Only GET and HEAD use the cache (HEAD is answered from GET's entry).
// Requests with no-store, protocol upgrades, and, on a shared endpoint,
// requests with credentials (Authorization or cookies; see
// Options.Authenticated) bypass it: a logged-in user's /account/x.css is
// never stored for others (cache deception). Responses are not stored
// when they set a cookie, say no-store, no-cache, private (unless the key
// has the user), or a zero max-age, have Vary: *, trailers, a status
// outside Options.Statuses (DefaultStatuses), a body over MaxBodyBytes,
// or are flushed (streamed): they reach their own client only, and the
// key is then remembered as "pass" for the Aside's NegativeTTL.
//
// # Validators
//
// Stored 200 responses get a strong ETag from their body ([StrongETag])
// unless the handler set one; If-None-Match (weak comparison, lists, *)
// and, without it, If-Modified-Since are answered with a 304. [ETag] does
// the same without storing anything.
//
// # Invalidation
//
// A handler tags its response with [Tag] (or Options.Tags does);
// hoard.Invalidator.InvalidateTags then drops every page built from a tag,
// ETag included, on every instance.
//
// An unsafe request (POST, PUT, PATCH, DELETE: any method but GET, HEAD,
// OPTIONS and TRACE) passing through the middleware is served by the
// handler, and when it answers 2xx or 3xx the stored responses of its
// target URI are dropped before the status goes out (RFC 9111 §4.4): every
// variant (query, headers, user, locale, Vary), on every tier and, through
// the Aside's Bus or Invalidator, every instance; so are those of the
// Location and Content-Location URIs on the same host. A key with no
// variant part holds one entry per URI, deleted exactly (Aside.Delete);
// with variants, an Invalidator is used (each stored response carries an
// internal tag of its host and path); without one, Aside.DeletePrefix,
// which on Redis scans the keyspace. Failures go to
// Options.OnInvalidateError. Route the unsafe methods of a cached path
// through its middleware to get this; other changes need [Tag] and
// InvalidateTags.
package httpcache
