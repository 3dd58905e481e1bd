package memory

import (
	"context"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// hoard.NewAside introduces the Aside to a fresh memory tier, which then
// stores the Aside's keys without their prefix even when the Aside's first
// act is a write (a write-through warming the cache); a tier written to
// before the Aside was made keeps its keys as they are, and serves the
// Aside all the same.
func TestNewAsideOwnsAFreshTier(t *testing.T) {
	ctx := context.Background()
	for _, writtenFirst := range []bool{false, true} {
		c, err := New[string](nil)
		if err != nil {
			t.Fatal(err)
		}
		if writtenFirst {
			if err := c.Set(ctx, "other:1", hoard.Entry[string]{Value: "x", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "products", Memory: c})
		if err != nil {
			t.Fatal(err)
		}
		wantHead := "products:"
		if writtenFirst {
			wantHead = ""
		}
		if o := c.keys.forReads(); o == nil || o.head != wantHead {
			t.Fatalf("written first %v: the tier's owner is %+v; want head %q", writtenFirst, o, wantHead)
		}
		if err := c.Set(ctx, a.Key("7"), hoard.Entry[string]{Value: "seven", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		load := hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
			t.Fatal("the Aside loaded a value its memory tier holds")
			return "", nil
		})
		if v, err := a.Get(ctx, "7", load); v != "seven" || err != nil {
			t.Fatalf("written first %v: Get = %q, %v", writtenFirst, v, err)
		}
		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
