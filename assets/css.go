package assets

import (
	"bytes"
	"net/url"
	"path"
	"strings"
)

// cssRef is one reference to another file found in a stylesheet: the URL
// text of a url(...) token, or the string of an @import rule, without
// quotes or surrounding space.
type cssRef struct {
	start, end int  // src[start:end] is the URL text
	isImport   bool // an @import "..." rule, not a url(...) token
}

// scanCSS returns the references in src, in order: url(...) tokens, quoted
// or not, in any letter case, and @import "..." rules. It skips comments
// and strings (a "url(x)" inside a string is text, not a reference), and
// leaves out references it could not rewrite safely: ones with escapes,
// empty ones, and bad or unterminated tokens. It never panics, whatever
// the input (FuzzRewriteCSS).
func scanCSS(src []byte) []cssRef {
	var refs []cssRef
	n := len(src)
	for i := 0; i < n; {
		c := src[i]
		switch {
		case c == '/' && i+1 < n && src[i+1] == '*':
			end := bytes.Index(src[i+2:], []byte("*/"))
			if end < 0 {
				return refs
			}
			i += 2 + end + 2
		case c == '"' || c == '\'':
			_, _, next, _ := scanString(src, i)
			i = next
		case c == '\\':
			i += 2 // an escaped character is never the start of a token
		case (c == 'u' || c == 'U') && hasPrefixFold(src[i:], "url(") && (i == 0 || !isNameByte(src[i-1])):
			ref, next, ok := scanURL(src, i+4)
			if ok {
				refs = append(refs, ref)
			}
			i = next
		case c == '@' && hasPrefixFold(src[i+1:], "import") && (i+7 >= n || !isNameByte(src[i+7])):
			j := skipSpace(src, i+7)
			i = j
			if j < n && (src[j] == '"' || src[j] == '\'') {
				start, end, next, ok := scanString(src, j)
				if ok && end > start {
					refs = append(refs, cssRef{start, end, true})
				}
				i = next
			}
		default:
			i++
		}
	}
	return refs
}

// scanString scans the string token that starts with the quote at src[i].
// It returns the content's bounds, the index after the token, and whether
// the content is usable as a URL as it is: closed, on one line, without
// escapes.
func scanString(src []byte, i int) (start, end, next int, ok bool) {
	q := src[i]
	ok = true
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case q:
			return i + 1, j, j + 1, ok
		case '\\':
			ok = false
			j++ // skip the escaped byte
		case '\n', '\r', '\f':
			return i + 1, j, j, false // a bad string ends at the newline
		}
	}
	return i + 1, len(src), len(src), false
}

// scanURL scans a url( token from p, just after its "(". It returns the
// URL's bounds, the index to go on from (always > p-1), and whether the
// token is a well-formed, non-empty URL without escapes.
func scanURL(src []byte, p int) (ref cssRef, next int, ok bool) {
	n := len(src)
	j := skipSpace(src, p)
	if j < n && (src[j] == '"' || src[j] == '\'') {
		start, end, after, sok := scanString(src, j)
		k := skipSpace(src, after)
		if k < n && src[k] == ')' {
			return cssRef{start: start, end: end}, k + 1, sok && end > start
		}
		return cssRef{}, after, false
	}
	start := j
	for k := j; k < n; k++ {
		switch c := src[k]; {
		case c == ')':
			end := k
			for end > start && isSpace(src[end-1]) {
				end--
			}
			return cssRef{start: start, end: end}, k + 1, end > start && clean(src[start:end])
		case c == '"' || c == '\'' || c == '(' || c == '\\' || c < ' ' && !isSpace(c) || c == 0x7f:
			// A bad url token: the CSS parser skips to the next ")".
			if e := bytes.IndexByte(src[k:], ')'); e >= 0 {
				return cssRef{}, k + e + 1, false
			}
			return cssRef{}, n, false
		}
	}
	return cssRef{}, n, false
}

// clean reports whether an unquoted URL has no space inside it.
func clean(u []byte) bool {
	for _, c := range u {
		if isSpace(c) {
			return false
		}
	}
	return true
}

func skipSpace(src []byte, i int) int {
	for i < len(src) && isSpace(src[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// isNameByte reports whether c can be part of a CSS identifier, so that
// "myurl(" is not taken for "url(".
func isNameByte(c byte) bool {
	return c == '-' || c == '_' || c >= 0x80 || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// target is what a reference in a stylesheet points at.
type target struct {
	logical string // the asset's logical name
	path    string // the URL's path as written (still %-escaped)
	suffix  string // "?query" and/or "#fragment" as written, or ""
}

// resolveRef resolves the reference ref found in the stylesheet cssName:
// a relative path against the stylesheet's directory, a path under
// prefixPath (the path of Options.Prefix) against the root. It reports
// false for what is not a file of the set: fragments ("#a"), URLs with a
// scheme (data:, http:, https:), network-path references ("//cdn/x"),
// other absolute paths, and paths that leave the root.
func resolveRef(cssName, ref, prefixPath string) (target, bool) {
	if ref == "" || ref[0] == '#' || strings.HasPrefix(ref, "//") || hasScheme(ref) {
		return target{}, false
	}
	p, suffix := ref, ""
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		p, suffix = ref[:i], ref[i:]
	}
	name, err := url.PathUnescape(p)
	if err != nil || name == "" {
		return target{}, false
	}
	if strings.HasPrefix(name, "/") {
		rest, ok := strings.CutPrefix(name, prefixPath)
		if !ok || prefixPath == "" {
			return target{}, false
		}
		name = rest
	} else {
		name = path.Join(path.Dir(cssName), name)
	}
	if !validName(name) || strings.HasSuffix(p, "/") {
		return target{}, false
	}
	return target{logical: name, path: p, suffix: suffix}, true
}

// hasScheme reports whether ref starts with a URL scheme and a colon
// (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":").
func hasScheme(ref string) bool {
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

// rewriteRef returns the text that replaces a reference to t, whose asset
// has the short hash hash, under naming: the path as written with the hash
// inserted before its extension, or with a v= query parameter, and the
// original query and fragment kept. It reports false when the written
// path's extension is not the asset's (an escaped dot), which is left as
// it is rather than guessed at.
func rewriteRef(t target, hash string, naming Naming) (string, bool) {
	if naming == HashInQuery {
		suffix := t.suffix
		if strings.HasPrefix(suffix, "?") {
			suffix = "&" + suffix[1:]
		}
		return queryName(t.path, hash) + suffix, true
	}
	if path.Ext(t.path) != path.Ext(t.logical) {
		return "", false
	}
	return hashedName(t.path, hash) + t.suffix, true
}

// rewriteCSS returns src with each reference in refs replaced by what
// replace returns for its text, when it reports true.
func rewriteCSS(src []byte, refs []cssRef, replace func(ref string) (string, bool)) []byte {
	var out []byte
	last := 0
	for _, r := range refs {
		repl, ok := replace(string(src[r.start:r.end]))
		if !ok {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(src)+len(refs)*16)
		}
		out = append(out, src[last:r.start]...)
		out = append(out, repl...)
		last = r.end
	}
	if out == nil {
		return src
	}
	return append(out, src[last:]...)
}
