package assets

import (
	"bytes"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// serveVariant answers with v, a compressed copy of a, and reports whether
// it did. A copy read from src is served only while a's file still holds
// the content a's hash names: a copy of a file edited in place since the
// build would be of other content. When it reports false it has written
// nothing, and the caller serves the original.
func serveVariant(w http.ResponseWriter, r *http.Request, a *asset, v *variant, immutable bool) bool {
	if v.data != nil {
		setEncodedHeaders(w, a, v.coding, v.etag, immutable)
		http.ServeContent(encodedWriter{w, v.size}, r, a.logical, time.Time{}, bytes.NewReader(v.data))
		return true
	}
	orig, err := fileStamp(a.src, a.file, &a.stamp)
	if err != nil || !strings.HasPrefix(orig.full, a.hash) {
		return false
	}
	f, err := a.src.Open(v.file)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := sumFile(a.src, f, v.file, v.stamp.Load())
	if err != nil {
		return false
	}
	v.stamp.Store(st)
	setEncodedHeaders(w, a, v.coding, etagOf(st.full), immutable)
	serveFile(encodedWriter{w, st.size}, r, f, a.logical)
	return true
}

// fileStamp returns the stamp of name in fsys, cached in p.
func fileStamp(fsys fs.FS, name string, p *atomic.Pointer[stamp]) (*stamp, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := sumFile(fsys, f, name, p.Load())
	if err != nil {
		return nil, err
	}
	p.Store(st)
	return st, nil
}

// setEncodedHeaders sets the headers of a's copy in coding.
func setEncodedHeaders(w http.ResponseWriter, a *asset, coding, etag string, immutable bool) {
	setHeaders(w, a.logical, etag, immutable)
	h := w.Header()
	h.Set("Content-Type", a.ctype) // never sniffed from the compressed bytes
	h.Set("Content-Encoding", coding)
}

// encodedWriter is the ResponseWriter http.ServeContent writes a
// compressed copy of size bytes to. ServeContent leaves Content-Length out
// when Content-Encoding is set (for handlers that compress on the fly);
// the copy's length is known, so a 200 gets it, and loses Accept-Ranges:
// a Range request gets the original (see Set.ServeHTTP).
type encodedWriter struct {
	http.ResponseWriter
	size int64
}

func (w encodedWriter) WriteHeader(code int) {
	if code == http.StatusOK {
		w.Header().Set("Content-Length", strconv.FormatInt(w.size, 10))
		w.Header().Del("Accept-Ranges")
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap returns the ResponseWriter it wraps, for http.ResponseController.
func (w encodedWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}
