package httpcache

import (
	"bytes"
	"net/http"
	"time"
)

// notModifiedHeaders are the headers a 304 carries (RFC 9110 §15.4.5).
var notModifiedHeaders = []string{"Cache-Control", "Content-Location", "Etag", "Expires", "Vary", "Last-Modified"}

// write sends p to w as the answer to r, in the representation r's
// Accept-Encoding takes: a 304 when r's conditions say the client's copy
// is current, a 206 for a Range request on a 200, no body for HEAD. o
// says how it was answered; withAge adds the Age header.
func (c *Cache) write(w http.ResponseWriter, r *http.Request, p *Response, o *outcome, withAge bool, now time.Time) {
	identity := p.Encoding != "" && !acceptsEncoding(r.Header["Accept-Encoding"], p.Encoding)
	var body []byte
	etag := p.Header["Etag"]
	if identity {
		etag = p.values().identityETag
	}
	h := w.Header()
	ageSecs := max(int64(now.Sub(p.StoredAt)/time.Second), 0)
	if withAge || o.label != StatusMiss {
		o.ttl, o.hasTTL = p.values().lifetimeSecs-ageSecs, p.Lifetime > 0
	} else if p.Lifetime > 0 {
		o.ttl, o.hasTTL = p.values().lifetimeSecs, true
	}
	if p.Status == http.StatusOK && notModified(r, firstOf(etag), firstValue(p.Header, "Last-Modified")) {
		for _, name := range notModifiedHeaders {
			if v, ok := p.Header[name]; ok {
				if name == "Vary" {
					mergeVary(h, v)
				} else {
					h[name] = v[:len(v):len(v)]
				}
			}
		}
		if etag != nil {
			h["Etag"] = etag
		}
		c.answerHeaders(h, p, o, withAge, now)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if identity && r.Method != http.MethodHead {
		var err error
		if body, err = decompress(p.Encoding, p.Body, p.IdentityLength); err != nil {
			http.Error(w, "hoard: the stored response cannot be decoded", http.StatusInternalServerError)
			return
		}
	} else {
		body = p.Body
	}
	setHeaders(h, p.Header)
	if identity {
		delete(h, "Content-Encoding")
		h["Content-Length"] = p.values().identityLength
		if etag != nil {
			h["Etag"] = etag
		} else {
			delete(h, "Etag")
		}
	}
	c.answerHeaders(h, p, o, withAge, now)
	if p.Status == http.StatusOK && r.Method == http.MethodGet && len(r.Header["Range"]) > 0 && !identityHead(identity, r) {
		serveRange(w, r, h, body)
		return
	}
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead && len(body) > 0 {
		_, _ = w.Write(body)
	}
}

// identityHead reports a HEAD answered in identity, whose body was not
// decoded.
func identityHead(identity bool, r *http.Request) bool {
	return identity && r.Method == http.MethodHead
}

// serveRange answers a Range request on a stored 200 as http.ServeContent
// does: 206 with the ranges (multipart for several), 416 for ranges
// outside the body, the whole body when If-Range does not match. The
// ranges are of the representation sent, encoded or not.
func serveRange(w http.ResponseWriter, r *http.Request, h http.Header, body []byte) {
	delete(h, "Content-Length") // ServeContent sets the range's
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // no sniffing: the stored response had none
	}
	var modtime time.Time
	if lm, err := http.ParseTime(firstValue(h, "Last-Modified")); err == nil {
		modtime = lm
	}
	http.ServeContent(w, r, "", modtime, bytes.NewReader(body))
}

// answerHeaders sets the status headers and Age of an answer.
func (c *Cache) answerHeaders(h http.Header, p *Response, o *outcome, withAge bool, now time.Time) {
	if o.label == StatusHit && o.fwd == "" && !c.debug && o.hasTTL {
		c.hitStatus(h, p, o.ttl)
	} else {
		c.statusHeaders(h, o)
	}
	if withAge {
		h["Age"] = ageValue(now, p.StoredAt)
	}
}

// writeRaw sends a rendered response as it is, to the client it was
// rendered for or one that waited for the same render.
func (c *Cache) writeRaw(w http.ResponseWriter, p *Response, o *outcome) {
	h := w.Header()
	setHeaders(h, p.Header)
	c.statusHeaders(h, o)
	w.WriteHeader(p.Status)
	if len(p.Body) > 0 {
		_, _ = w.Write(p.Body)
	}
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
