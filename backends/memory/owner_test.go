package memory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// An Aside's memory tier is owned by the Aside (its first call is GetID):
// what the string API writes under the Aside's keys, GetID finds by id,
// verbatim or escaped, namespaced or not, and what the string API deletes
// (a bus invalidation, DeletePrefix, DeleteMatching) GetID no longer
// finds; keys of other Asides in the same tier stay apart.
func TestOwnedCacheServesTheOwnersKeys(t *testing.T) {
	ctx := context.Background()
	c, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	products, _ := hoard.NewKeyBuilder("products", nil)
	users, _ := hoard.NewKeyBuilder("users", nil)
	if _, err := c.GetID(ctx, hoard.IDKey{Keys: &products, ID: "0"}); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("GetID on an empty cache: %v", err)
	}
	ids := []hoard.IDKey{
		{Keys: &products, ID: "7"},
		{Keys: &products, ID: "a:b{c}"},
		{Keys: &products, Version: "v2", ID: "7"},
		{Keys: &users, ID: "7"},
		{Keys: &users, Version: "v2", ID: "7"},
	}
	e := hoard.Entry[string]{ExpiresAt: time.Now().Add(time.Hour)}
	for _, k := range ids {
		e.Value = k.String()
		if err := c.Set(ctx, k.String(), e); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range ids {
		got, err := c.GetID(ctx, k)
		if err != nil || got.Value != k.String() {
			t.Fatalf("GetID(%q) = %v, %v; want its own entry", k.String(), got, err)
		}
		if got, err := c.Get(ctx, k.String()); err != nil || got.Value != k.String() {
			t.Fatalf("Get(%q) = %v, %v; want its own entry", k.String(), got, err)
		}
	}
	if err := c.Delete(ctx, "products:7"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetID(ctx, ids[0]); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("GetID after Delete: %v", err)
	}
	if n, err := c.DeletePrefix(ctx, "products:v2:"); n != 1 || err != nil {
		t.Fatalf("DeletePrefix(products:v2:) = %d, %v; want 1", n, err)
	}
	if n, err := c.DeleteMatching(ctx, "users:*"); n != 2 || err != nil {
		t.Fatalf("DeleteMatching(users:*) = %d, %v; want 2", n, err)
	}
	if got, err := c.GetID(ctx, ids[1]); err != nil || got.Value != ids[1].String() {
		t.Fatalf("the one key left: %v, %v", got, err)
	}
	if n, err := c.DeletePrefix(ctx, "prod"); n != 1 || err != nil {
		t.Fatalf("DeletePrefix(prod) = %d, %v; want 1", n, err)
	}
}
