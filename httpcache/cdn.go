package httpcache

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The CDN layer in front of this cache: the tags of a stored response go
// out in the header a CDN indexes them by, so a purge by tag at the CDN
// drops every page built from a row (see [PurgingInvalidator]); and the
// CDN gets freshness of its own (CDN-Cache-Control, RFC 9213, and
// Surrogate-Control), apart from the browser's Cache-Control.

// TagHeader says how a CDN reads a response's tags: the header's name,
// the separator between tags, and the CDN's limits. A response whose tags
// do not fit (a tag too long, or holding the separator, a space or a
// control character; or all of them over MaxBytes) is kept out of the CDN
// altogether (CDN-Cache-Control and Surrogate-Control: no-store) rather
// than stored there with tags missing, which a purge would then miss; the
// skip is reported to Options.OnSkip with ReasonCDNTags.
type TagHeader struct {
	// Name is the header's name.
	Name string
	// Separator goes between two tags.
	Separator string
	// MaxBytes bounds the header's value. 0: no bound.
	MaxBytes int
	// MaxTagBytes bounds one tag. 0: no bound.
	MaxTagBytes int
}

// The tag headers of the CDNs that purge by tag.
var (
	// SurrogateKey is Fastly's: space-separated keys, a key at most 1024
	// bytes, the header at most 16 KiB.
	SurrogateKey = TagHeader{Name: "Surrogate-Key", Separator: " ", MaxBytes: 16 << 10, MaxTagBytes: 1024}
	// CacheTag is Cloudflare's: comma-separated tags, the header at most
	// 16 KiB (after the name); a purge names tags of at most 1024
	// characters, so none longer is sent.
	CacheTag = TagHeader{Name: "Cache-Tag", Separator: ",", MaxBytes: 16 << 10, MaxTagBytes: 1024}
)

func (t TagHeader) validate() error {
	switch {
	case t.Name == "" || strings.ContainsAny(t.Name, " \t:\r\n"):
		return fmt.Errorf("TagHeader name %q is not a header name", t.Name)
	case t.Separator == "":
		return fmt.Errorf("TagHeader %s has no separator", t.Name)
	case t.MaxBytes < 0 || t.MaxTagBytes < 0:
		return fmt.Errorf("TagHeader %s has a negative limit", t.Name)
	}
	return nil
}

// render returns the header's value for tags (after those the handler
// put in the header itself, have), or false when they do not fit.
func (t TagHeader) render(have []string, tags []string) (string, bool) {
	all := slices.Clone(have)
	for _, tag := range tags {
		if !slices.Contains(all, tag) {
			all = append(all, tag)
		}
	}
	var b strings.Builder
	for _, tag := range all {
		if tag == "" || (t.MaxTagBytes > 0 && len(tag) > t.MaxTagBytes) || strings.Contains(tag, t.Separator) || !visibleASCII(tag) {
			return "", false
		}
		if b.Len() > 0 {
			b.WriteString(t.Separator)
		}
		b.WriteString(tag)
	}
	if t.MaxBytes > 0 && b.Len() > t.MaxBytes {
		return "", false
	}
	return b.String(), true
}

// visibleASCII reports whether s is printable ASCII without spaces.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// splitTags splits the values a handler set in a tag header.
func (t TagHeader) splitTags(values []string) []string {
	var out []string
	for _, v := range values {
		for tag := range strings.SplitSeq(v, t.Separator) {
			if tag = strings.TrimSpace(tag); tag != "" {
				out = append(out, tag)
			}
		}
	}
	return out
}

// cdnHeaders adds to the header of a response about to be stored its CDN
// controls (Options.CDNCacheControl and Options.SurrogateControl, where
// the handler set none) and its tags; it reports false when the tags did
// not fit, the response then being kept out of CDNs.
func (c *Cache) cdnHeaders(h http.Header, tags []string) bool {
	if _, ok := h["Cdn-Cache-Control"]; !ok && c.cdnControl != nil {
		h["Cdn-Cache-Control"] = c.cdnControl
	}
	if _, ok := h["Surrogate-Control"]; !ok && c.surrogateControl != nil {
		h["Surrogate-Control"] = c.surrogateControl
	}
	fits := true
	values := make([]string, len(c.tagHeaders))
	for i, th := range c.tagHeaders {
		name := http.CanonicalHeaderKey(th.Name)
		have := th.splitTags(h[name])
		if len(have) == 0 && len(tags) == 0 {
			continue
		}
		v, ok := th.render(have, tags)
		fits = fits && ok
		values[i] = v
	}
	for i, th := range c.tagHeaders {
		name := http.CanonicalHeaderKey(th.Name)
		switch {
		case !fits:
			delete(h, name)
		case values[i] != "":
			h[name] = []string{values[i]}
		}
	}
	if !fits {
		h["Cdn-Cache-Control"] = noStoreValue
		h["Surrogate-Control"] = noStoreValue
	}
	return fits
}

var noStoreValue = []string{"no-store"}

// validateSurrogateControl checks that cc has only the directives
// Surrogate-Control carries (Fastly reads max-age, stale-while-revalidate,
// stale-if-error and no-store).
func validateSurrogateControl(cc CacheControl) error {
	allowed := CacheControl{MaxAge: cc.MaxAge, StaleWhileRevalidate: cc.StaleWhileRevalidate, StaleIfError: cc.StaleIfError, NoStore: cc.NoStore}
	if cc != allowed {
		return fmt.Errorf("SurrogateControl %q has directives other than max-age, stale-while-revalidate, stale-if-error and no-store", cc.String())
	}
	return nil
}
