package assets

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// Cache-Control values the handler sends.
const (
	// CacheImmutable is sent with a hashed name: its content can never
	// change, so browsers and proxies keep it for a year without asking.
	CacheImmutable = "public, max-age=31536000, immutable"
	// CacheRevalidate is sent with a logical name: caches keep it but ask
	// before each use, with If-None-Match, and get 304 while it is unchanged.
	CacheRevalidate = "no-cache"
)

// ServeHTTP serves the set's assets to GET and HEAD requests under the
// path of Options.Prefix ("/static/"); mount the Set there as it is, with no
// http.StripPrefix. For a request path of Prefix + name it answers:
//
//   - a hashed name of this set or of Options.Previous, or (under
//     HashInQuery) a logical name with ?v= one of their hashes: the content
//     of that version, with Cache-Control [CacheImmutable] and an ETag;
//   - a hashed copy from an older build that the file system still holds
//     (Load, or Build over a directory `hoard assets build` wrote into),
//     after checking that its content's SHA-256 starts with the hash in its
//     name: the same, immutable;
//   - a logical name (or ?v= with a hash it does not hold): the current
//     content with Cache-Control [CacheRevalidate] and a strong ETag, so a
//     request with a matching If-None-Match gets 304 Not Modified;
//   - anything else, the Prefix itself, hidden files, and the manifest
//     unless it is an asset: 404 Not Found; a path that is not clean
//     ("..", "//", "\", a trailing "/"): 400 Bad Request.
//
// The Content-Type comes from the extension of the logical name
// ([mime.TypeByExtension]), sniffed when that is unknown, with
// X-Content-Type-Options: nosniff. Range requests work as with
// [http.ServeContent].
//
// An asset with precompressed copies (Options.Compress, or the manifest's
// Encodings) is served by negotiation on Accept-Encoding, q-values
// honoured: the acceptable copy with the highest weight, the smallest of
// equals, with Content-Encoding, the original's Content-Type and
// Cache-Control, and an ETag of its own bytes, so a 304 answers only a
// client holding that same copy. The original is served when no copy is
// acceptable, when identity weighs more, to a request without
// Accept-Encoding, and to every Range request (ranges apply to the
// original only, so a resumed download never mixes codings). Every
// answer for such an asset, 304s and originals included, carries Vary:
// Accept-Encoding, added to any Vary already set. Older hashed copies
// found on disk are served as they are.
func (s *Set) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, s.o.prefixPath)
	switch {
	case !ok || name == "":
		httpError(w, http.StatusNotFound)
		return
	case !validName(name):
		httpError(w, http.StatusBadRequest)
		return
	case isHidden(name):
		httpError(w, http.StatusNotFound)
		return
	}
	if v := r.URL.Query().Get("v"); v != "" {
		if a := s.hashed[queryName(name, v)]; a != nil {
			s.serve(w, r, a, true)
			return
		}
	}
	if a := s.hashed[name]; a != nil {
		s.serve(w, r, a, true)
		return
	}
	if a := s.logical[name]; a != nil {
		s.serve(w, r, a, false)
		return
	}
	if s.src != nil && looksHashed(name) {
		if s.serveOlder(w, r, name) {
			return
		}
	}
	httpError(w, http.StatusNotFound)
}

// serve answers with the content of a. Content read from a file system
// is hashed (once per change of the file's size or time) for its ETag;
// when it no longer matches the hash a was built with (a file edited in
// place), it is served, but not as immutable.
func (s *Set) serve(w http.ResponseWriter, r *http.Request, a *asset, immutable bool) {
	if len(a.variants) > 0 {
		addVary(w.Header(), "Accept-Encoding")
		if r.Header.Get("Range") == "" {
			if v := choose(r.Header.Values("Accept-Encoding"), a.variants); v != nil && serveVariant(w, r, a, v, immutable) {
				return
			}
		}
	}
	if a.data != nil {
		setHeaders(w, a.logical, a.etag, immutable)
		http.ServeContent(w, r, a.logical, time.Time{}, bytes.NewReader(a.data))
		return
	}
	f, err := a.src.Open(a.file)
	if err != nil {
		httpError(w, statusOf(err))
		return
	}
	defer f.Close()
	st, err := sumFile(a.src, f, a.file, a.stamp.Load())
	if err != nil {
		httpError(w, statusOf(err))
		return
	}
	a.stamp.Store(st)
	setHeaders(w, a.logical, etagOf(st.full), immutable && strings.HasPrefix(st.full, a.hash))
	serveFile(w, r, f, a.logical)
}

// serveOlder serves name from src when it is a hashed copy whose content
// matches its hash, and reports whether it did.
func (s *Set) serveOlder(w http.ResponseWriter, r *http.Request, name string) bool {
	f, err := s.src.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	var cached *stamp
	if v, ok := s.stamps.Load(name); ok {
		cached = v.(*stamp)
	}
	st, err := sumFile(s.src, f, name, cached)
	if err != nil || !isBuildOutput(name, st.full) {
		return false
	}
	s.stamps.Store(name, st)
	setHeaders(w, name, etagOf(st.full), true)
	serveFile(w, r, f, name)
	return true
}

// serveFile serves the open file f, whose headers are set.
func serveFile(w http.ResponseWriter, r *http.Request, f fs.File, name string) {
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		w.Header().Del("ETag")
		httpError(w, http.StatusNotFound)
		return
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		data, err := io.ReadAll(f)
		if err != nil {
			httpError(w, http.StatusInternalServerError)
			return
		}
		rs = bytes.NewReader(data)
	}
	http.ServeContent(w, r, name, time.Time{}, rs)
}

func setHeaders(w http.ResponseWriter, name, etag string, immutable bool) {
	h := w.Header()
	if immutable {
		h.Set("Cache-Control", CacheImmutable)
	} else {
		h.Set("Cache-Control", CacheRevalidate)
	}
	h.Set("ETag", etag)
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		h.Set("Content-Type", ct)
	}
	h.Set("X-Content-Type-Options", "nosniff")
}

// httpError answers with status and its text, never cached: a hashed name
// that is missing now may be deployed a moment later.
func httpError(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Del("ETag")
	h.Del("Content-Encoding")
	h.Del("Cache-Control")
	h.Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(status), status)
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}
