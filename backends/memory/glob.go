package memory

import "strings"

// globEscaper escapes what path.Match gives a meaning to.
var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)

// GlobEscape returns s with the glob metacharacters of [Cache.DeleteMatching]
// ('*', '?', '[' and '\') escaped, so that s matches only itself: build a
// pattern from user input as GlobEscape(kb.Key(tenant)) + ":*", and a tenant
// named "*" deletes its own keys, not everyone's.
func GlobEscape(s string) string { return globEscaper.Replace(s) }
