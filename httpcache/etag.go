package httpcache

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// StrongETag returns a strong validator of body: a quoted, URL-safe
// base64 of the first 128 bits of its SHA-256. Equal bodies get equal
// ETags on every instance, so a validator stays good across a fleet and
// across restarts.
func StrongETag(body []byte) string {
	sum := sha256.Sum256(body)
	var b [2 + 22]byte
	b[0] = '"'
	base64.RawURLEncoding.Encode(b[1:23], sum[:16])
	b[23] = '"'
	return string(b[:])
}

// notModified evaluates a GET or HEAD request's conditions against the
// validators of a 200 response (RFC 9110 §13.2.2): If-None-Match when
// present, else If-Modified-Since. It reports true when the answer is 304.
func notModified(r *http.Request, etag, lastModified string) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if inm, ok := r.Header["If-None-Match"]; ok {
		for _, v := range inm {
			if etagListMatches(v, etag) {
				return true
			}
		}
		return false // If-None-Match takes precedence: If-Modified-Since is ignored
	}
	ims := firstValue(r.Header, "If-Modified-Since")
	if ims == "" || lastModified == "" {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	modified, err := http.ParseTime(lastModified)
	if err != nil {
		return false
	}
	return !modified.Truncate(time.Second).After(since)
}

func firstValue(h http.Header, name string) string {
	if vs := h[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// etagListMatches reports whether an If-None-Match field value ("*" or a
// list of entity-tags) matches etag by the weak comparison: W/ prefixes
// are ignored, the opaque tags compared. "*" matches any current
// representation, so any etag; an absent etag matches only "*".
func etagListMatches(list, etag string) bool {
	if strings.TrimSpace(list) == "*" {
		return true
	}
	if etag == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for list != "" {
		list = strings.TrimLeft(list, " \t,")
		if list == "" {
			break
		}
		tag, rest, ok := scanETag(list)
		if !ok {
			return false
		}
		if strings.TrimPrefix(tag, "W/") == want {
			return true
		}
		list = rest
	}
	return false
}

// scanETag reads one entity-tag (W/"..." or "...") from the front of s.
func scanETag(s string) (tag, rest string, ok bool) {
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s) <= start || s[start] != '"' {
		return "", "", false
	}
	end := strings.IndexByte(s[start+1:], '"')
	if end < 0 {
		return "", "", false
	}
	n := start + 1 + end + 1
	return s[:n], s[n:], true
}

// ETag is middleware that gives GET and HEAD responses a strong ETag and
// answers conditional requests with 304, without storing anything: it
// buffers the handler's response (up to 1 << 20), hashes 200
// bodies that carry no ETag of their own ([StrongETag]), and answers 304
// when If-None-Match matches, or, without If-None-Match, when
// If-Modified-Since is not before Last-Modified. A response above the
// limit, or one the handler flushes, streams through untouched. HEAD is
// rendered as GET so its ETag is the GET body's.
func ETag(next http.Handler) http.Handler {
	return ETagLimit(next, defaultMaxBodyBytes)
}

// ETagLimit is [ETag] with a limit of maxBody bytes on the bodies it
// buffers.
func ETagLimit(next http.Handler, maxBody int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		s := &sink{w: w, open: true}
		rec := newRecorder(maxBody, maxBody, s)
		defer rec.release()
		req := r
		if r.Method == http.MethodHead {
			req = r.Clone(r.Context())
			req.Method = http.MethodGet
		}
		next.ServeHTTP(rec, req)
		if rec.spoiled { // passed through as it was written
			return
		}
		h := rec.finalHeader()
		status := rec.statusCode()
		if status == http.StatusOK && len(h["Etag"]) == 0 {
			h["Etag"] = []string{StrongETag(rec.body.Bytes())}
		}
		dst := w.Header()
		if status == http.StatusOK && notModified(r, firstValue(h, "Etag"), firstValue(h, "Last-Modified")) {
			for _, name := range notModifiedHeaders {
				if v, ok := h[name]; ok {
					if name == "Vary" {
						mergeVary(dst, v)
					} else {
						dst[name] = v
					}
				}
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		setHeaders(dst, h)
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(rec.body.Bytes())
		}
	})
}
