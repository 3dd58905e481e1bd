package memory

import (
	"strings"
	"testing"
)

// The stored forms of keys (see keySpace) never meet, map back to their
// keys, and answer prefix questions as the keys do, with and without an
// owner, for keys that start with the owner's head, almost do, or go on
// with a NUL.
func TestKeySpaceForms(t *testing.T) {
	keys := []string{
		"", ":", "p", "p:", "p:1", "p:a:b", "p:\x00", "p:\x00x", "\x00x", "\x00p:1", "x",
		"pp:1", "p::", "p:%3A", "q:1", "1", "p:" + strings.Repeat("z", 300), "\x00" + strings.Repeat("y", 300),
	}
	prefixes := []string{"", "p", "p:", "p:1", "p:\x00", "\x00", "pp", "q", "p:a", "x"}
	for _, o := range []*keyOwner{unowned, {prefix: "p", head: "p:"}, {prefix: "", head: ":"}} {
		seen := map[string]string{}
		for _, k := range keys {
			s := o.stored(k)
			if other, dup := seen[s]; dup {
				t.Errorf("owner %q: keys %q and %q are both stored as %q", o.head, other, k, s)
			}
			seen[s] = k
			var buf [stackKeyLen]byte
			if l := o.lookupKey(k, &buf); l != s {
				t.Errorf("owner %q: key %q is stored as %q but looked up as %q", o.head, k, s, l)
			}
			if f := o.fullKey(s); f != k {
				t.Errorf("owner %q: key %q stored as %q maps back to %q", o.head, k, s, f)
			}
			if n := o.fullLen(s); n != len(k) {
				t.Errorf("owner %q: fullLen of %q = %d; want %d", o.head, k, n, len(k))
			}
			for _, p := range prefixes {
				if got, want := o.fullHasPrefix(s, p), strings.HasPrefix(k, p); got != want {
					t.Errorf("owner %q: key %q, prefix %q: fullHasPrefix = %v; want %v", o.head, k, p, got, want)
				}
			}
		}
	}
}

// The first GetID of an empty cache makes its Aside the owner; a write
// first settles that the cache has none; and neither changes after.
func TestKeySpaceOwner(t *testing.T) {
	var ks keySpace
	if ks.forReads() != nil {
		t.Fatal("a new key space has an owner")
	}
	if o := ks.claim("products"); o.head != "products:" || ks.claim("users") != o || ks.forWrites() != o {
		t.Fatalf("claims: %+v, then %+v", o, ks.claim("users"))
	}
	var written keySpace
	if o := written.forWrites(); o != unowned || written.claim("products") != unowned {
		t.Fatal("a claim after a write made an owner")
	}
}
