// Package assets busts browser caches for static files by fingerprinting
// them with a hash of their content, as Flask's webassets and Django's
// ManifestStaticFilesStorage do: a page links to
// /static/css/site.3f2a9c1e.css, which is served with a year-long,
// immutable Cache-Control, so browsers never ask for it again; a changed
// file gets a new name, so the next page picks it up at once.
//
// [Build] reads a file system ([embed.FS], [os.DirFS]) at start-up and
// returns a [Set]: every file hashed (SHA-256, the first Options.HashLen hex
// digits, in the file name or, with [HashInQuery], a ?v= parameter) and a
// [Manifest] from logical names to hashed ones. Stylesheets are rewritten
// before they are hashed: each url(...) (quoted or not) and @import that
// points at a file of the set, relative to the stylesheet or under the
// Prefix, becomes that file's hashed name, keeping any ?query or #fragment;
// data:, http(s):, //host, #fragment and other absolute paths are left as
// they are. So a new image gives every stylesheet using it a new hash too;
// stylesheets are processed in dependency order, and a loop of them fails
// with [ErrCycle]. A reference to a file the set does not have fails the
// build with [ErrMissingReference], naming each one, unless
// Options.AllowMissing lets it through to [Set.Missing].
//
// Or build ahead of time: `hoard assets build DIR` writes hashed copies and
// DIR/manifest.json, and [Load] (with [ReadManifest] or [LoadManifest])
// serves them without hashing anything at start-up.
//
// Assets that compress are served compressed, without compressing on each
// request: `hoard assets build` writes a brotli (.br) and a gzip (.gz)
// copy beside each hashed copy and lists them in the manifest, and Build
// keeps them in memory with Options.Compress. The handler picks one by
// Accept-Encoding ([Compression] says what is skipped).
//
// A Set is an [net/http.Handler] ([Set.ServeHTTP]): hashed names with
// Cache-Control [CacheImmutable], logical names with [CacheRevalidate] and a
// strong ETag (304 Not Modified on a matching If-None-Match), the right
// Content-Type, a compressed copy when the client accepts one (with Vary:
// Accept-Encoding and an ETag per copy), 404 for the unknown, 400 for
// path traversal. During a
// rolling deploy, pages from the old version still ask for old hashed
// names: a Set also serves those of the sets in Options.Previous and any
// older hashed copy still on disk whose content matches its name.
//
// [Set.FuncMap] gives html/template an asset function:
//
//	<link rel="stylesheet" href="{{ asset "css/site.css" }}">
//
// which fails the template with [ErrUnknownAsset] for a name that is not
// in the set. Every error is a hoard: sentinel of this package, wrapped
// with %w.
package assets
