package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// A batch whose keys share generation stripes (2,000 keys on 1,024
// stripes) is stored whole: one key's store must not refuse another's.
func TestCompareAndSetManySharedStripes(t *testing.T) {
	ctx := context.Background()
	c, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	writes := make([]hoard.TokenWrite[string], 2000)
	for i := range writes {
		key := fmt.Sprintf("k%d", i)
		_, tok, err := c.GetWithToken(ctx, key)
		if err == nil {
			t.Fatalf("%s present", key)
		}
		writes[i] = hoard.TokenWrite[string]{Key: key, Token: tok, Entry: hoard.Entry[string]{Value: key}}
	}
	if err := c.CompareAndSetMany(ctx, writes); err != nil {
		t.Fatalf("CompareAndSetMany: %v", err)
	}
	for _, w := range writes {
		if e, err := c.Get(ctx, w.Key); err != nil || e.Value != w.Key {
			t.Fatalf("%s = %q, %v", w.Key, e.Value, err)
		}
	}
	// A token taken before another write of its key is still refused.
	_, tok, _ := c.GetWithToken(ctx, "k1")
	if err := c.Set(ctx, "k1", hoard.Entry[string]{Value: "newer"}); err != nil {
		t.Fatal(err)
	}
	err = c.CompareAndSetMany(ctx, []hoard.TokenWrite[string]{{Key: "k1", Token: tok, Entry: hoard.Entry[string]{Value: "stale"}}})
	if !errorsIsConflict(err) {
		t.Fatalf("stale write: %v; want ErrConflict", err)
	}
	if e, _ := c.Get(ctx, "k1"); e.Value != "newer" {
		t.Fatalf("k1 = %q; want newer", e.Value)
	}
}

func errorsIsConflict(err error) bool { return errors.Is(err, hoard.ErrConflict) }
