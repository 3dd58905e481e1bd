package hoard_test

import (
	"context"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// A GetMany that the memory tier answers whole allocates what the returned
// map needs and a constant: nothing per id (issue 15; it was 3 per id).
func TestAsideGetManyFromMemoryAllocatesOnlyTheMap(t *testing.T) {
	w := newWorld(t)
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour})
	ctx := context.Background()
	all := ids(0, 100)
	db := &batchSource{rows: map[string]string{}}
	for _, id := range all {
		db.rows[id] = "v" + id
	}
	if got, err := a.aside.GetMany(ctx, all, db); err != nil || len(got) != len(all) {
		t.Fatalf("GetMany = %d values, %v", len(got), err)
	}
	theMap := testing.AllocsPerRun(20, func() {
		m := make(map[string]string, len(all))
		for _, id := range all {
			m[id] = db.rows[id]
		}
	})
	var err error
	var n int
	allocs := testing.AllocsPerRun(20, func() {
		var got map[string]string
		got, err = a.aside.GetMany(ctx, all, db)
		n = len(got)
	})
	if err != nil || n != len(all) {
		t.Fatalf("GetMany = %d values, %v", n, err)
	}
	// The constant: a pooled scratch buffer and its key buffer, which
	// sync.Pool may drop (it drops some on purpose under -race).
	if allocs > theMap+2 {
		t.Errorf("GetMany of %d ids from memory: %v allocations; a map of them takes %v", len(all), allocs, theMap)
	}
	if len(db.queries) != 1 {
		t.Errorf("%d loads; want only the first", len(db.queries))
	}
}

// An id asked for twice is answered and counted once, from either tier,
// fresh or "not found".
func TestAsideGetManyCountsDuplicatesOnce(t *testing.T) {
	w := newWorld(t)
	db := &batchSource{rows: map[string]string{"1": "one", "2": "two"}}
	ctx := context.Background()
	withDups := []string{"1", "2", "3", "1", "3", "2", "1"}
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour, NegativeTTL: time.Hour})
	got, err := a.aside.GetMany(ctx, withDups, db)
	if err != nil || len(got) != 2 || got["1"] != "one" || got["2"] != "two" {
		t.Fatalf("GetMany = %v, %v", got, err)
	}
	if len(db.queries) != 1 || len(db.queries[0]) != 3 {
		t.Fatalf("loads = %v; want one, of the 3 distinct ids", db.queries)
	}
	check := func(name string, s hoard.MetricsSnapshot, tier hoard.Tier) {
		t.Helper()
		if h, n := s.Count(hoard.EventHit, tier), s.Count(hoard.EventNegativeHit, tier); h != 2 || n != 1 {
			t.Errorf("%s: %d hits and %d negative hits at %v; want 2 and 1", name, h, n, tier)
		}
	}
	if got, err := a.aside.GetMany(ctx, withDups, db); err != nil || len(got) != 2 {
		t.Fatalf("second GetMany = %v, %v", got, err)
	}
	check("memory", a.aside.Metrics().Snapshot(), hoard.TierMemory)

	// Another instance finds them in Redis.
	b := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour, NegativeTTL: time.Hour})
	if got, err := b.aside.GetMany(ctx, withDups, db); err != nil || len(got) != 2 {
		t.Fatalf("B.GetMany = %v, %v", got, err)
	}
	check("redis", b.aside.Metrics().Snapshot(), hoard.TierShared)
	if len(db.queries) != 1 {
		t.Errorf("%d loads; want one", len(db.queries))
	}
}
