package assets

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"strings"
)

// sum returns the hex SHA-256 of data, all 64 digits.
func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// etagOf returns a strong ETag for content whose hex SHA-256 is full.
func etagOf(full string) string {
	return `"` + full[:min(len(full), 32)] + `"`
}

// hashedName returns name with hash inserted before its extension:
// "css/site.css" becomes "css/site.3f2a9c1e.css", "LICENSE" becomes
// "LICENSE.3f2a9c1e". Only the last extension counts: "app.min.js" becomes
// "app.min.3f2a9c1e.js".
func hashedName(name, hash string) string {
	ext := path.Ext(name)
	return name[:len(name)-len(ext)] + "." + hash + ext
}

// queryName returns the hashed form of name under [HashInQuery].
func queryName(name, hash string) string {
	return name + "?v=" + hash
}

// nameHashes returns the hex strings that could be the hash in a hashed
// name: the dot-separated part before the extension ("css/site.3f2a9c1e.css")
// and, for a file without one, the last part ("LICENSE.3f2a9c1e"). Either
// may be empty. Which one is real only the content can tell.
func nameHashes(name string) (beforeExt, last string) {
	base := path.Base(name)
	ext := path.Ext(base)
	stem := base[:len(base)-len(ext)]
	if i := strings.LastIndexByte(stem, '.'); i > 0 && isHashHex(stem[i+1:]) {
		beforeExt = stem[i+1:]
	}
	if stem != "" && len(ext) > 1 && isHashHex(ext[1:]) {
		last = ext[1:]
	}
	return beforeExt, last
}

// looksHashed reports whether name has a part that could be a hash.
func looksHashed(name string) bool {
	a, b := nameHashes(name)
	return a != "" || b != ""
}

// isBuildOutput reports whether name is a hashed copy whose content has the
// hex SHA-256 full: the hash in its name is a prefix of full.
func isBuildOutput(name, full string) bool {
	a, b := nameHashes(name)
	return (a != "" && strings.HasPrefix(full, a)) || (b != "" && strings.HasPrefix(full, b))
}

// isHashHex reports whether s can be a hash in a name: 8 to 64 lowercase
// hex digits.
func isHashHex(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isHidden reports whether any element of the slash-separated name starts
// with a dot (".git", "css/.DS_Store").
func isHidden(name string) bool {
	for elem := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(elem, ".") {
			return true
		}
	}
	return false
}

// isCSS reports whether name is a stylesheet, by its extension.
func isCSS(name string) bool {
	return strings.EqualFold(path.Ext(name), ".css")
}
