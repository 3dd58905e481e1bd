package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// A stamp older than TagStampTTL is dropped at the next invalidation; its
// tag then reads as the latest stamp dropped: the entries it invalidated
// stay invalid, an entry loaded after it stays valid.
func TestTagStampsAgeOut(t *testing.T) {
	ctx := context.Background()
	clock := hoardtest.NewFakeClock(time.Now())
	c, err := memory.New(&memory.Options[string]{TagStampTTL: time.Minute, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before, _ := c.Epoch(ctx) // an entry tagged "a" and "b" loaded now
	stamp, err := c.InvalidateTags(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := c.Epoch(ctx) // one loaded after the invalidation
	clock.Advance(time.Minute)
	if _, err := c.InvalidateTags(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if n := c.TagStampsForTest(); n != 1 {
		t.Errorf("%d stamps kept, want 1 (c's; a's is a minute old)", n)
	}
	got, _ := c.TagEpochs(ctx, []string{"a", "b"})
	for i, tag := range []string{"a", "b"} {
		if got[i] < stamp || got[i] > after {
			t.Errorf("tag %q reads %d; want in [%d, %d]: the entry of epoch %d stays invalid, the one of epoch %d valid",
				tag, got[i], stamp, after, before, after)
		}
	}
}

// Without TagStampTTL the cache keeps stamps twice the longest life of a
// tagged entry it stored, and for ever while it stored none; the stamps
// kept stay bounded by what a TTL sees invalidated.
func TestTagStampsFollowEntryLife(t *testing.T) {
	ctx := context.Background()
	clock := hoardtest.NewFakeClock(time.Now())
	c, err := memory.New(&memory.Options[string]{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.InvalidateTags(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(1000 * time.Hour)
	if _, err := c.InvalidateTags(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if n := c.TagStampsForTest(); n != 2 {
		t.Fatalf("%d stamps before any tagged entry, want both kept", n)
	}
	// A tagged entry of 10s and a fail-safe of 20s: a life of 30s, stamps
	// kept a minute.
	now := clock.Now()
	e := hoard.Entry[string]{Value: "v", Tags: []string{"t"}, ExpiresAt: now.Add(10 * time.Second), StaleUntil: now.Add(30 * time.Second)}
	if err := c.Set(ctx, "k", e); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 { // one a second for 1000s: about 60 within the minute
		if _, err := c.InvalidateTags(ctx, fmt.Sprint("tag", i)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	if n := c.TagStampsForTest(); n > 61 {
		t.Errorf("%d stamps kept, want at most the minute's 61", n)
	}
}

// Through an Aside: an entry tagged and invalidated is never served again,
// even once its stamp is dropped while the entry still lives (a stamp TTL
// shorter than the entry's life, against the advice): the floor keeps it
// invalid, and the Aside loads anew.
func TestTagStampDroppedEntryStaysInvalid(t *testing.T) {
	ctx := context.Background()
	clock := hoardtest.NewFakeClock(time.Now())
	mem, err := memory.New(&memory.Options[string]{TagStampTTL: time.Minute, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: mem, TagClock: mem, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{
		Name: "p", Memory: mem, Invalidator: inv, TTL: time.Hour, Clock: clock,
		TagsOf: func(id, _ string) []string { return []string{"product:" + id} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	value := "old"
	loads := 0
	load := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { loads++; return value, nil })
	if v, err := a.Get(ctx, "1", load); err != nil || v != "old" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	value = "new"
	// Stamped on the clock directly, as another instance would: the
	// Aside's Invalidator remembers what it stamps itself.
	if _, err := mem.InvalidateTags(ctx, "product:1"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	if _, err := mem.InvalidateTags(ctx, "other"); err != nil { // drops product:1's stamp
		t.Fatal(err)
	}
	if n := mem.TagStampsForTest(); n != 1 {
		t.Fatalf("%d stamps kept, want 1", n)
	}
	for range 2 {
		if v, err := a.Get(ctx, "1", load); err != nil || v != "new" {
			t.Fatalf("after the stamp was dropped Get = %q, %v; want %q", v, err, "new")
		}
	}
	if loads != 2 {
		t.Errorf("%d loads, want 2: the new value is cached again", loads)
	}
}
