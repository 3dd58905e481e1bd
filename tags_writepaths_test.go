package hoard_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// catalogue is a table of products whose value is "category/price": a
// store for write-through and write-behind, and a loader and batch loader
// that tag each product with its category by SetTagsFor.
type catalogue struct {
	mu   sync.Mutex
	rows map[string]string
}

func (c *catalogue) set(id, v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rows == nil {
		c.rows = map[string]string{}
	}
	c.rows[id] = v
}

func (c *catalogue) Load(_ context.Context, id string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.rows[id]
	if !ok {
		return "", hoard.ErrNotFound
	}
	return v, nil
}

func (c *catalogue) Save(_ context.Context, id, v string, _ uint64) error { c.set(id, v); return nil }
func (c *catalogue) Delete(context.Context, string, uint64) error         { return nil }

func categoryOf(v string) string { return "category:" + strings.SplitN(v, "/", 2)[0] }

// Tags reach every entry however it was written: loaded by Get or GetMany
// (tagged by the batch loader or by TagsOf), or put by a write-through or
// a write-behind (tagged on Put or by TagsOf). After the category's tag
// invalidation, every instance reads the new price.
func TestTagsReachEveryWritePath(t *testing.T) {
	for _, path := range []string{"WriteThrough.Put tags", "WriteThrough.Put TagsOf", "WriteBehind.Put tags",
		"GetMany SetTags", "GetMany SetTagsFor", "GetMany TagsOf", "Get TagsOf"} {
		t.Run(path, func(t *testing.T) {
			var o hoard.AsideOptions[string]
			if strings.HasSuffix(path, "TagsOf") {
				o.TagsOf = func(_ string, v string) []string { return []string{categoryOf(v)} }
			}
			o.TTL = time.Hour
			f := newFleet(t, 2, o)
			ctx := context.Background()
			db := &catalogue{}
			db.set("1", "7/10")
			first, second := f.instances[0], f.instances[1]
			batch := hoard.BatchLoaderFunc[string](func(ctx context.Context, ids []string) (map[string]string, error) {
				out := map[string]string{}
				for _, id := range ids {
					if v, err := db.Load(ctx, id); err == nil {
						out[id] = v
						switch path {
						case "GetMany SetTags":
							hoard.SetTags(ctx, categoryOf(v))
						case "GetMany SetTagsFor":
							hoard.SetTagsFor(ctx, id, categoryOf(v))
						}
					}
				}
				return out, nil
			})
			switch {
			case strings.HasPrefix(path, "WriteThrough"):
				wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: first.aside, Store: db})
				if err != nil {
					t.Fatal(err)
				}
				var tags []string
				if path == "WriteThrough.Put tags" {
					tags = []string{"category:7"}
				}
				if err := wt.Put(ctx, "1", "7/10", tags...); err != nil {
					t.Fatal(err)
				}
			case strings.HasPrefix(path, "WriteBehind"):
				wb, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[string]{Aside: first.aside, Store: db})
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = wb.Close(ctx) }()
				if err := wb.Put(ctx, "1", "7/10", "category:7"); err != nil {
					t.Fatal(err)
				}
			case strings.HasPrefix(path, "GetMany"):
				if got, err := first.aside.GetMany(ctx, []string{"1"}, batch); err != nil || got["1"] != "7/10" {
					t.Fatalf("GetMany = %v, %v", got, err)
				}
			default:
				if v, err := first.aside.Get(ctx, "1", db); err != nil || v != "7/10" {
					t.Fatalf("Get = %q, %v", v, err)
				}
			}
			for _, m := range f.instances { // both hold the entry now
				if v, err := m.aside.Get(ctx, "1", db); err != nil || v != "7/10" {
					t.Fatalf("Get = %q, %v", v, err)
				}
			}
			db.set("1", "7/12") // the price changes in the database, then the category is invalidated
			if err := second.inv.InvalidateTags(ctx, "category:7"); err != nil {
				t.Fatal(err)
			}
			for i, m := range f.instances {
				if v, err := m.aside.Get(ctx, "1", db); err != nil || v != "7/12" {
					t.Fatalf("instance %d: Get after the tag invalidation = %q, %v; want 7/12", i, v, err)
				}
				if got, err := m.aside.GetMany(ctx, []string{"1"}, batch); err != nil || got["1"] != "7/12" {
					t.Fatalf("instance %d: GetMany after the tag invalidation = %v, %v; want 7/12", i, got, err)
				}
			}
		})
	}
}

// A cached "not found" carries the loader's tags: inserting the row and
// invalidating its tag ends the "not found" everywhere.
func TestNegativeEntriesKeepTheirTags(t *testing.T) {
	f := newFleet(t, 2, hoard.AsideOptions[string]{TTL: time.Hour, NegativeTTL: time.Hour})
	ctx := context.Background()
	db := &catalogue{}
	loader := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
		hoard.SetTags(ctx, "product:"+id)
		return db.Load(ctx, id)
	})
	batch := hoard.BatchLoaderFunc[string](func(ctx context.Context, ids []string) (map[string]string, error) {
		out := map[string]string{}
		for _, id := range ids {
			hoard.SetTagsFor(ctx, id, "product:"+id)
			if v, err := db.Load(ctx, id); err == nil {
				out[id] = v
			}
		}
		return out, nil
	})
	for _, m := range f.instances {
		if _, err := m.aside.Get(ctx, "1", loader); !errors.Is(err, hoard.ErrNotFound) {
			t.Fatalf("Get of a missing row: %v", err)
		}
		if got, err := m.aside.GetMany(ctx, []string{"2"}, batch); err != nil || len(got) != 0 {
			t.Fatalf("GetMany of a missing row = %v, %v", got, err)
		}
	}
	db.set("1", "7/10")
	db.set("2", "7/20")
	if err := f.instances[0].inv.InvalidateTags(ctx, "product:1", "product:2"); err != nil {
		t.Fatal(err)
	}
	for i, m := range f.instances {
		if v, err := m.aside.Get(ctx, "1", loader); err != nil || v != "7/10" {
			t.Fatalf("instance %d: Get after the insert and tag invalidation = %q, %v", i, v, err)
		}
		if got, err := m.aside.GetMany(ctx, []string{"2"}, batch); err != nil || got["2"] != "7/20" {
			t.Fatalf("instance %d: GetMany after the insert and tag invalidation = %v, %v", i, got, err)
		}
	}
}

// Tags that cannot be checked later (no Invalidator) are never ignored
// silently: the value is returned uncached and counted as untaggable.
// TagsOf without an Invalidator is refused at construction.
func TestUntaggableValuesAreNotCached(t *testing.T) {
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mem.Close() }()
	if _, err := hoard.NewAside(&hoard.AsideOptions[string]{Memory: mem, TagsOf: func(string, string) []string { return nil }}); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Fatalf("TagsOf without an Invalidator: %v; want ErrInvalidOption", err)
	}
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{Memory: mem})
	if err != nil {
		t.Fatal(err)
	}
	loads := 0
	loader := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
		loads++
		if !hoard.SetTags(ctx, "t") {
			t.Error("SetTags in a load reported no load")
		}
		return "v", nil
	})
	for range 2 {
		if v, err := a.Get(context.Background(), "1", loader); err != nil || v != "v" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if loads != 2 || a.Metrics().Snapshot().Count(hoard.EventUntaggable, hoard.TierNone) != 2 {
		t.Fatalf("%d loads, %d untaggable; want 2 and 2", loads, a.Metrics().Snapshot().Count(hoard.EventUntaggable, hoard.TierNone))
	}
	if hoard.SetTags(context.Background(), "t") {
		t.Fatal("SetTags outside a load reported a load")
	}
}

// A write-behind Delete caches "not found" with the tags it is given:
// inserting the row again and invalidating its tag ends the "not found"
// everywhere, as for one a loader cached.
func TestWriteBehindDeleteKeepsItsTags(t *testing.T) {
	f := newFleet(t, 2, hoard.AsideOptions[string]{TTL: time.Hour})
	ctx := context.Background()
	db := &catalogue{}
	db.set("1", "7/10")
	wb, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[string]{Aside: f.instances[0].aside, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = wb.Close(ctx) }()
	if err := wb.Delete(ctx, "1", "product:1"); err != nil {
		t.Fatal(err)
	}
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, m := range f.instances {
		if _, err := m.aside.Get(ctx, "1", db); !errors.Is(err, hoard.ErrNotFound) {
			t.Fatalf("instance %d: Get after the Delete: %v; want ErrNotFound", i, err)
		}
	}
	db.set("1", "7/12") // inserted again elsewhere, then announced by its tag
	if err := f.instances[1].inv.InvalidateTags(ctx, "product:1"); err != nil {
		t.Fatal(err)
	}
	for i, m := range f.instances {
		if v, err := m.aside.Get(ctx, "1", db); err != nil || v != "7/12" {
			t.Fatalf("instance %d: Get after the insert and tag invalidation = %q, %v; want 7/12", i, v, err)
		}
	}
}

// A "not modified" renewal keeps every tag the entry had, and adds those
// the loader and TagsOf give now: dropping one would leave the renewed
// entry out of reach of that tag's invalidation.
func TestNotModifiedRenewalKeepsEveryTag(t *testing.T) {
	for _, setsTags := range []bool{true, false} {
		t.Run(fmt.Sprintf("loader sets tags on renewal=%v", setsTags), func(t *testing.T) {
			f := newFleet(t, 1, hoard.AsideOptions[string]{TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour},
				TagsOf: func(_ string, v string) []string { return []string{categoryOf(v)} }})
			ctx := context.Background()
			a, inv := f.instances[0].aside, f.instances[0].inv
			row, modified := "7/10", true
			loads := 0
			loader := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
				loads++
				if modified || setsTags {
					hoard.SetTags(ctx, "product:"+id)
				}
				if !modified {
					return "", hoard.ErrNotModified
				}
				return row, nil
			})
			if v, err := a.Get(ctx, "1", loader); err != nil || v != "7/10" {
				t.Fatalf("Get = %q, %v", v, err)
			}
			f.advance(2 * time.Minute)
			modified = false
			if v, err := a.Get(ctx, "1", loader); err != nil || v != "7/10" {
				t.Fatalf("Get renewed by not modified = %q, %v", v, err)
			}
			modified, row = true, "7/12"
			for _, tag := range []string{"category:7", "product:1"} {
				if err := inv.InvalidateTags(ctx, tag); err != nil {
					t.Fatal(err)
				}
				before := loads
				if v, err := a.Get(ctx, "1", loader); err != nil || v != "7/12" || loads != before+1 {
					t.Fatalf("Get after invalidating %s = %q, %v (%d loads); want 7/12 loaded anew", tag, v, err, loads-before)
				}
				f.advance(2 * time.Minute)
				modified = false
				if _, err := a.Get(ctx, "1", loader); err != nil {
					t.Fatal(err)
				}
				modified = true
			}
		})
	}
}
