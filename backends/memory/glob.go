package memory

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/hoard-cache/hoard"
)

// globEscaper escapes what path.Match gives a meaning to.
var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)

// GlobEscape returns s with the glob metacharacters of [Cache.DeleteMatching]
// ('*', '?', '[' and '\') escaped, so that s matches only itself: build a
// pattern from user input as GlobEscape(kb.Key(tenant)) + ":*", and a tenant
// named "*" deletes its own keys, not everyone's.
func GlobEscape(s string) string { return globEscaper.Replace(s) }

// DeleteMatching deletes every key that matches the glob pattern (the
// syntax of path.Match: '*', '?', '[a-z]', '\' escapes) and returns how
// many it deleted. A key built from user input may hold those characters
// (KeyBuilder escapes only its own separators): pass such a key through
// [GlobEscape] before adding wildcards, or use DeletePrefix, which matches
// no pattern. Like DeletePrefix it is O(n) in the entries held and
// invalidates every token taken before it. A malformed pattern is an error
// wrapping hoard.ErrInvalidOption, and nothing is deleted.
func (c *Cache[V]) DeleteMatching(_ context.Context, pattern string) (int, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return 0, fmt.Errorf("%w: memory: pattern %q: %w", hoard.ErrInvalidOption, pattern, err)
	}
	c.gens.lockAll()
	defer c.gens.unlockAll()
	o := c.keys.forReads()
	if o == nil {
		return 0, nil
	}
	n := 0
	for k := range c.entries.Keys() {
		if ok, _ := path.Match(pattern, o.fullKey(k)); ok {
			if _, deleted := c.entries.Invalidate(k); deleted {
				n++
			}
		}
	}
	return n, nil
}
