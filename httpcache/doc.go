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
// response stale when the handler answers 5xx. A hit answers with the
// stored response, an Age header, X-Cache: HIT (MISS, STALE, BYPASS
// otherwise; see Options.StatusHeader) and an RFC 9211 Cache-Status
// ("hoard; hit; ttl=42"; with Options.Debug, the key too).
//
// # What a handler rendering to store sees
//
// A response stored for everyone may depend only on what is keyed, so
// the handler rendering it gets a request rebuilt from the keyed inputs:
// GET in origin form; the host, path and keyed query parameters; the
// keyed scheme (https as URL.Scheme "https" with a TLS state that holds
// nothing of the connection, http as neither); the keyed and Key.Vary
// headers (and credentials on a per-user endpoint); the ServeMux
// pattern's path values; [UserOf] and [LocaleOf]. It has no body, no
// RemoteAddr, no client TLS state, HTTP/1.1 as protocol, and a ctx of its
// own that carries the render's cancellation (every waiting client left)
// and deadline (the Aside's LoadTimeout) but none of the caller's values:
// whatever a middleware in front derived from the request (the user from
// an API key, a tenant, a scheme from X-Forwarded-Proto, path values
// under other names) cannot reach a stored page unless the key covers
// it. Options.RenderContext carries chosen values over (a trace span, a
// router's parameters: [CarryValues]). A handler tags with [Tag], not
// hoard.SetTags on its ctx. Requests that bypass the cache or pass
// (see below) reach the handler untouched.
//
// # Keys and web cache poisoning
//
// A [Key] lists what responses vary on: scheme, host and path always, chosen query
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
// outside Options.Statuses (by default those RFC 9110 calls heuristically
// cacheable), a body over MaxBodyBytes,
// or are flushed (streamed): they reach their own client, and the key is
// then remembered as "pass" for the Aside's NegativeTTL (hit-for-pass).
// The requests that waited on such a render get its response when only
// its status or size kept it out (a body up to MaxSharedBodyBytes): one
// render for a burst. Every skip reaches Options.OnSkip with its reason,
// a shared tier's refusal for size (ReasonSharedTooLarge) included.
//
// # Freshness (RFC 9111 §4.2)
//
// A stored response is fresh for the lifetime its headers give a shared
// cache (s-maxage, max-age, Expires minus Date; the endpoint's
// CacheControl when the handler set neither Cache-Control nor Expires),
// else for the Aside's TTL; that is its TTL, so no hit's Age passes its
// max-age. Expires in the past or invalid ("0", "-1") is not stored. The
// fail-safe serves a stale response only where its headers allow:
// must-revalidate, proxy-revalidate and s-maxage forbid it unless
// stale-if-error covers the staleness; a forbidden stale copy is dropped
// and the handler's failure (or a 504) is the answer.
//
// # Compression and ranges
//
// A compressible body (Options.Compression) is compressed once, when
// stored, and kept in that one encoding (gzip, or zstd): clients that
// take it get the stored bytes, others the body decompressed, all with
// Vary: Accept-Encoding and an ETag per representation. A Range request
// on a stored 200 is answered as http.ServeContent does (206, multipart,
// 416, If-Range).
//
// # CDNs
//
// The tags of a stored response go out in the CDN tag headers
// Options.TagHeaders names ([SurrogateKey] for Fastly, [CacheTag] for
// Cloudflare), within the CDN's limits; Options.CDNCacheControl (RFC
// 9213's CDN-Cache-Control) and Options.SurrogateControl give CDNs a
// freshness apart from the browser's Cache-Control. A
// [PurgingInvalidator] invalidates tags in hoard, then purges them from
// CDNs through a [Purger] ([FastlyPurger], [CloudflarePurger]).
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
// An unsafe request (Options.UnsafeMethods: POST, PUT, PATCH, DELETE;
// other methods of unknown safety, such as "FOO" or "PURGE", are served
// and drop nothing, or anyone could evict any page of a route registered
// without a method) passing through the middleware is served by the
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
