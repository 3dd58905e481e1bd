package hoard_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// batchSource is a table read with IN queries; it records each query's ids.
type batchSource struct {
	mu      sync.Mutex
	rows    map[string]string
	fail    error
	queries [][]string
}

func (s *batchSource) LoadMany(_ context.Context, ids []string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, slices.Clone(ids))
	if s.fail != nil {
		return nil, s.fail
	}
	out := make(map[string]string)
	for _, id := range ids {
		if v, ok := s.rows[id]; ok {
			out[id] = v
		}
	}
	return out, nil
}

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return out
}

func TestAsideGetManyLoadsOnlyMissing(t *testing.T) {
	w := newWorld(t)
	db := &batchSource{rows: map[string]string{}}
	for _, id := range ids(0, 60) {
		db.rows[id] = "v" + id
	}
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute})
	ctx := context.Background()

	got, err := a.aside.GetMany(ctx, ids(0, 10), db)
	if err != nil || len(got) != 10 {
		t.Fatalf("GetMany(0..9) = %d values, %v", len(got), err)
	}
	// 0..9 are cached; 60..99 do not exist. One query, for exactly 10..99.
	all := append(ids(0, 100), "5", "5") // duplicates are asked once
	got, err = a.aside.GetMany(ctx, all, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 || got["42"] != "v42" {
		t.Fatalf("GetMany(0..99) = %d values (42: %q); want 60", len(got), got["42"])
	}
	if len(db.queries) != 2 || !slices.Equal(db.queries[1], ids(10, 100)) {
		t.Fatalf("queries = %v; want the second to ask for exactly 10..99", db.queries)
	}
	// Everything is cached now, the absent rows as "not found".
	if got, err := a.aside.GetMany(ctx, ids(0, 100), db); err != nil || len(got) != 60 {
		t.Fatalf("third GetMany = %d values, %v", len(got), err)
	}
	if len(db.queries) != 2 {
		t.Fatalf("%d queries; the third GetMany should be answered from the cache", len(db.queries))
	}

	// Another instance finds all of it in Redis, in one read, and keeps it.
	b := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute})
	if got, err := b.aside.GetMany(ctx, ids(0, 100), db); err != nil || len(got) != 60 {
		t.Fatalf("B.GetMany = %d values, %v", len(got), err)
	}
	if len(db.queries) != 2 {
		t.Fatalf("B queried the database")
	}
	s := b.aside.Metrics().Snapshot()
	if s.Count(hoard.EventHit, hoard.TierShared) != 60 || s.Count(hoard.EventNegativeHit, hoard.TierShared) != 40 {
		t.Errorf("B: redis hits %d, negative %d; want 60 and 40",
			s.Count(hoard.EventHit, hoard.TierShared), s.Count(hoard.EventNegativeHit, hoard.TierShared))
	}
	if _, err := b.memory.Get(ctx, b.aside.Key("7")); err != nil {
		t.Errorf("Redis hits did not fill B's memory tier: %v", err)
	}
}

func TestAsideGetManyFailSafe(t *testing.T) {
	w := newWorld(t)
	db := &batchSource{rows: map[string]string{"1": "one", "2": "two"}}
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour}})
	ctx := context.Background()
	if _, err := a.aside.GetMany(ctx, []string{"1", "2"}, db); err != nil {
		t.Fatal(err)
	}
	outage := errors.New("db down")
	db.mu.Lock()
	db.fail = outage
	db.mu.Unlock()
	w.advance(2 * time.Minute)
	got, err := a.aside.GetMany(ctx, []string{"1", "2", "3"}, db)
	if !errors.Is(err, hoard.ErrServedStale) || !errors.Is(err, outage) {
		t.Fatalf("GetMany during outage: %v; want ErrServedStale joined with the cause", err)
	}
	if len(got) != 2 || got["1"] != "one" || got["2"] != "two" {
		t.Fatalf("GetMany during outage = %v; want the two stale values", got)
	}
}

// A batch load that lost to an invalidation stores nothing.
func TestAsideGetManyStaleSetProtection(t *testing.T) {
	w := newWorld(t)
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour})
	ctx := context.Background()
	key := a.aside.Key("1")
	racing := hoard.BatchLoaderFunc[string](func(ctx context.Context, ids []string) (map[string]string, error) {
		// A writer invalidates the key while the batch load runs.
		if err := a.shared.Delete(ctx, key); err != nil {
			return nil, err
		}
		if err := a.memory.Delete(ctx, key); err != nil {
			return nil, err
		}
		return map[string]string{"1": "old"}, nil
	})
	got, err := a.aside.GetMany(ctx, []string{"1"}, racing)
	if err != nil || got["1"] != "old" {
		t.Fatalf("GetMany = %v, %v", got, err)
	}
	for name, c := range map[string]hoard.Cache[string]{"memory": a.memory, "redis": a.shared} {
		if e, err := c.Get(ctx, key); err == nil {
			t.Errorf("%s tier holds %q after the invalidation", name, e.Value)
		}
	}
}
