package hoard

import (
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"testing"
)

// Keys built from user input stay in their namespace: for builders of two
// prefixes where neither is the other followed by ':' (the one case
// KeyBuilder's doc warns of), no key of one is a key of the other, every key
// starts with its prefix, and no prefix delete of the other builder (the
// key of an id prefix, as Aside.DeletePrefix makes it, matched as a plain
// prefix or as an escaped glob with '*' after it) reaches it.

// nsAlphabet is the bytes the random parts are drawn from: separators,
// escapes, braces, glob metacharacters and plain letters.
const nsAlphabet = ":%{}*?[]\\^!-/ab\x00\x7f\xff"

func randomPart(r *rand.Rand) string {
	b := make([]byte, r.IntN(6))
	for i := range b {
		b[i] = nsAlphabet[r.IntN(len(nsAlphabet))]
	}
	return string(b)
}

func randomTuple(r *rand.Rand) []string {
	t := make([]string, r.IntN(4))
	for i := range t {
		t[i] = randomPart(r)
	}
	return t
}

// pathGlobEscape escapes what path.Match treats as a pattern, as a caller
// of memory.Cache.DeleteMatching must do with user input: hoard has no
// helper for it (see issue 10).
func pathGlobEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(s)
}

// extends reports whether prefix a is b followed by ':' and more: the
// documented case where two builders' keys can coincide.
func extends(a, b string) bool { return strings.HasPrefix(a, b+":") }

// checkNamespaces checks the namespace properties for one pair of tuples.
func checkNamespaces(t *testing.T, a, b KeyBuilder, ta, tb []string, idPrefix string) {
	t.Helper()
	ka, kb := a.Key(ta...), b.Key(tb...)
	if !strings.HasPrefix(ka, a.Prefix()) || !strings.HasPrefix(kb, b.Prefix()) {
		t.Fatalf("keys %q, %q do not start with their prefixes %q, %q", ka, kb, a.Prefix(), b.Prefix())
	}
	if a.Prefix() == b.Prefix() || extends(a.Prefix(), b.Prefix()) || extends(b.Prefix(), a.Prefix()) {
		return
	}
	if ka == kb {
		t.Fatalf("%q%q and %q%q share the key %q", a.Prefix(), ta, b.Prefix(), tb, ka)
	}
	// Aside.DeletePrefix deletes the keys that start with Key(idPrefix):
	// plainly (memory, and Redis's escaped SCAN MATCH), or as a glob.
	del := b.Key(idPrefix)
	if strings.HasPrefix(ka, del) {
		t.Fatalf("%q's prefix delete of %q (%q) reaches %q's key %q", b.Prefix(), idPrefix, del, a.Prefix(), ka)
	}
	if ok, err := path.Match(pathGlobEscape(del)+"*", ka); err != nil || ok {
		t.Fatalf("the escaped glob of %q's %q matches %q's key %q (%v)", b.Prefix(), idPrefix, a.Prefix(), ka, err)
	}
	if ok, err := path.Match(pathGlobEscape(b.Key(tb...)), ka); err != nil || ok {
		t.Fatalf("the escaped glob of %q matches %q", b.Key(tb...), ka)
	}
}

func TestSecurityKeyNamespaces(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 8))
	prefixes := []string{"shop:users", "shop:orders", "shop", "sho", "tenant*", "tenant", "t[1]", "t?", `a\b`, "", "x:y:z"}
	builders := make([]KeyBuilder, len(prefixes))
	for i, p := range prefixes {
		var err error
		if builders[i], err = NewKeyBuilder(p, &KeyOptions{MaxLen: 140}); err != nil {
			t.Fatal(err)
		}
	}
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	// distinct tuples of one builder give distinct keys
	seen := make(map[string]string, n)
	for i := range n {
		a, b := builders[r.IntN(len(builders))], builders[r.IntN(len(builders))]
		ta, tb := randomTuple(r), randomTuple(r)
		checkNamespaces(t, a, b, ta, tb, randomPart(r))
		if i%4 == 0 {
			// hashed keys too: long parts
			ta = append(ta, strings.Repeat(randomPart(r)+"x", 30))
		}
		k := a.Key(ta...)
		id := fmt.Sprintf("%q%q", a.Prefix(), ta)
		if prev, dup := seen[k]; dup && prev != id {
			t.Fatalf("key %q of two tuples: %q and %q", k, prev, id)
		}
		seen[k] = id
	}
}

// The hazard the escaping above avoids: a glob made of a key of user input,
// unescaped, matches keys of other ids. KeyBuilder escapes ':' and braces,
// not glob metacharacters, so memory.Cache.DeleteMatching(kb.Key(input) +
// "*") with input "*" deletes every key of the prefix.
func TestSecurityUnescapedGlobOfUserInput(t *testing.T) {
	kb, err := NewKeyBuilder("tenants", nil)
	if err != nil {
		t.Fatal(err)
	}
	victim := kb.Key("acme", "invoices")
	hostile := kb.Key("*")
	if ok, _ := path.Match(hostile+"*", victim); !ok {
		t.Fatalf("unescaped glob %q does not match %q: KeyBuilder now escapes glob metacharacters; update this test and docs/reliability.md", hostile, victim)
	}
	if ok, _ := path.Match(pathGlobEscape(hostile)+"*", victim); ok {
		t.Fatalf("escaped glob %q matches %q", pathGlobEscape(hostile), victim)
	}
}

// FuzzKeyNamespaces is TestSecurityKeyNamespaces over fuzzed prefixes and
// parts.
func FuzzKeyNamespaces(f *testing.F) {
	f.Add("shop:users", "shop", "a", "b", "*", "")
	f.Add("shop", "shop:users", "users", "1", "users:", "%3A")
	f.Add("t*", "t", "*", "[", "?", "\\")
	f.Add("a", "a:b", "b", "c", "b:c", "b")
	f.Add("p", "q", "{x}", "%", "%H", "")
	f.Fuzz(func(t *testing.T, pa, pb, x, y, z, idPrefix string) {
		a, errA := NewKeyBuilder(pa, &KeyOptions{MaxLen: len(pa) + 200})
		b, errB := NewKeyBuilder(pb, &KeyOptions{MaxLen: len(pb) + 200})
		if errA != nil || errB != nil {
			return // invalid prefixes are refused; FuzzKeyBuilderInjective checks which
		}
		for _, ta := range [][]string{{x}, {x, y}, {y, z}, {x + ":" + y}, {}} {
			for _, tb := range [][]string{{x}, {y}, {x, y, z}, {z}, {}} {
				checkNamespaces(t, a, b, ta, tb, idPrefix)
			}
		}
	})
}
