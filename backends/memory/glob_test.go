package memory_test

import (
	"context"
	"path"
	"testing"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// An escaped string matches only itself, whatever glob characters it holds.
func TestGlobEscape(t *testing.T) {
	for _, s := range []string{"", "plain", "*", "?", "[a-z]", `\`, `a\*b`, "t*?[x]\\", "[", "]"} {
		p := memory.GlobEscape(s)
		if ok, err := path.Match(p, s); !ok || err != nil {
			t.Errorf("GlobEscape(%q) = %q does not match itself: %v", s, p, err)
		}
		for _, other := range []string{s + "x", "x", "acme", "a"} {
			if other == s {
				continue
			}
			if ok, _ := path.Match(p, other); ok {
				t.Errorf("GlobEscape(%q) = %q matches %q", s, p, other)
			}
		}
	}
}

// A tenant named "*" deletes its own keys through an escaped pattern, not
// everyone's.
func TestDeleteMatchingEscapedUserInput(t *testing.T) {
	ctx := context.Background()
	c, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	kb, err := hoard.NewKeyBuilder("tenants", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{kb.Key("acme", "invoices"), kb.Key("*", "invoices")} {
		if err := c.Set(ctx, k, hoard.Entry[string]{Value: "v"}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.DeleteMatching(ctx, memory.GlobEscape(kb.Key("*"))+":*")
	if err != nil || n != 1 {
		t.Fatalf("DeleteMatching of tenant * deleted %d, %v; want 1", n, err)
	}
	if _, err := c.Get(ctx, kb.Key("acme", "invoices")); err != nil {
		t.Fatalf("another tenant's key is gone: %v", err)
	}
}
