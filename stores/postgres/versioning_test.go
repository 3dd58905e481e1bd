package postgres_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/stores/postgres"
)

// SaveNext and DeleteNext pick the version in the statement: above the
// row's (a save's or a tombstone's) and at least the floor. Writes that
// bring their own version still obey the version rule against them.
func TestSaveNextPicksTheVersion(t *testing.T) {
	ctx := context.Background()
	pool := pgPool(t)
	s := newStore[product](t, pool, postgres.Options{})
	const floor = 1_790_000_000_000_000
	steps := []struct {
		name  string
		write func() (uint64, error)
		want  uint64
	}{
		{"a new id: the floor", func() (uint64, error) { return s.SaveNext(ctx, "1", product{"a", 1}, floor) }, floor},
		{"a floor below the row: the row's + 1", func() (uint64, error) { return s.SaveNext(ctx, "1", product{"b", 2}, 5) }, floor + 1},
		{"a floor above the row: the floor", func() (uint64, error) { return s.SaveNext(ctx, "1", product{"c", 3}, floor+100) }, floor + 100},
		{"a delete: a tombstone above", func() (uint64, error) { return s.DeleteNext(ctx, "1", 5) }, floor + 101},
		{"a save after the tombstone", func() (uint64, error) { return s.SaveNext(ctx, "1", product{"d", 4}, 5) }, floor + 102},
	}
	for _, st := range steps {
		got, err := st.write()
		if err != nil || got != st.want {
			t.Fatalf("%s: version %d, %v; want %d", st.name, got, err, st.want)
		}
		if r, _ := readRow(t, pool, s.Table(), "1"); uint64(r.version) != st.want {
			t.Fatalf("%s: the row holds version %d; want %d", st.name, r.version, st.want)
		}
	}
	// A write-behind's write older than the picked version is refused; a
	// newer one is applied, and the next picked version is above it.
	must(t, s.Save(ctx, "1", product{"late", 0}, floor+50))
	if v, _ := s.Load(ctx, "1"); v.Name != "d" {
		t.Fatalf("an older Save overwrote the row: %+v", v)
	}
	must(t, s.Save(ctx, "1", product{"newer", 5}, floor+1000))
	if got, err := s.SaveNext(ctx, "1", product{"e", 6}, 5); err != nil || got != floor+1001 {
		t.Fatalf("SaveNext after a newer Save: %d, %v; want %d", got, err, floor+1001)
	}
	if _, err := s.DeleteNext(ctx, "2", 7); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "2"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Load after DeleteNext of an absent id: %v", err)
	}
	must(t, s.Save(ctx, "2", product{"older than the delete", 0}, 6))
	if _, err := s.Load(ctx, "2"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("a save older than DeleteNext's tombstone brought the row back: %v", err)
	}
	if _, err := s.SaveNext(ctx, "1", product{}, 1<<63); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Fatalf("a floor over bigint's range: %v", err)
	}
}

// Concurrent SaveNext calls of one id each get a version of their own, in
// the order PostgreSQL applied them: the row ends with the highest, and
// its value is that write's.
func TestSaveNextConcurrentWritersGetDistinctVersions(t *testing.T) {
	ctx := context.Background()
	pool := pgPool(t)
	s := newStore[product](t, pool, postgres.Options{})
	const writers, writes = 8, 25
	var mu sync.Mutex
	byVersion := map[uint64]product{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				p := product{Name: "w", Price: w*1000 + i}
				v, err := s.SaveNext(ctx, "hot", p, 1)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if _, dup := byVersion[v]; dup {
					t.Errorf("version %d picked twice", v)
				}
				byVersion[v] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(byVersion) != writers*writes {
		t.Fatalf("%d versions for %d writes", len(byVersion), writers*writes)
	}
	var top uint64
	for v := range byVersion {
		top = max(top, v)
	}
	r, _ := readRow(t, pool, s.Table(), "hot")
	got, err := s.Load(ctx, "hot")
	if err != nil || uint64(r.version) != top || got != byVersion[top] {
		t.Fatalf("the row holds %+v at %d (%v); want %+v at %d", got, r.version, err, byVersion[top], top)
	}
}

// deadRedis returns a client of an address where nothing listens: Redis
// is down.
func deadRedis(t *testing.T) *goredis.Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	must(t, l.Close())
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The item 5 on PostgreSQL: with Redis down, a WriteThrough with
// the default versioning (the table's own) writes the row, and says that
// the cache part failed; the rows' versions follow the writes.
func TestWriteThroughWithRedisDownWritesTheRow(t *testing.T) {
	ctx := context.Background()
	pool := pgPool(t)
	s := newStore[product](t, pool, postgres.Options{})
	shared, err := hoardredis.New[product](deadRedis(t), nil)
	must(t, err)
	mem, err := memory.New[product](nil)
	must(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	aside, err := hoard.NewAside(&hoard.AsideOptions[product]{Name: "products", Memory: mem, Shared: shared})
	must(t, err)
	t.Cleanup(func() { _ = aside.Close(ctx) })
	wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[product]{Aside: aside, Store: s, InvalidateBackoff: time.Millisecond})
	must(t, err)
	var last int64
	for i, write := range []func() error{
		func() error { return wt.Put(ctx, "1", product{"first", 1}) },
		func() error { return wt.Put(ctx, "1", product{"second", 2}) },
		func() error { return wt.Delete(ctx, "1") },
		func() error { return wt.Put(ctx, "1", product{"third", 3}) },
	} {
		err := write()
		if !errors.Is(err, hoard.ErrCacheFailed) || errors.Is(err, hoard.ErrStoreFailed) {
			t.Fatalf("write %d with Redis down: %v; want ErrCacheFailed, not ErrStoreFailed", i, err)
		}
		r, ok := readRow(t, pool, s.Table(), "1")
		if !ok || r.version <= last {
			t.Fatalf("write %d: the row is at version %d, not above %d", i, r.version, last)
		}
		last = r.version
	}
	if got, err := s.Load(ctx, "1"); err != nil || got.Name != "third" {
		t.Fatalf("the row holds %+v, %v; want the last write", got, err)
	}
	if now := time.Now().UnixMicro(); last < now-int64(time.Minute/time.Microsecond) {
		t.Fatalf("version %d is not near the clock (%d µs): it must compare with other writers'", last, now)
	}
}
