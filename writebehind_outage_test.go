package hoard_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/hoardtest"
)

// Write-behind takes its versions at Put the same way: with Redis down and
// the memory queue, Put goes on (the cache update fails and is counted),
// and every write reaches the store in order, during the outage and after
// it, although the id's counter was made an hour before.
func TestWriteBehindPutsWithRedisDown(t *testing.T) {
	mr := miniredis.RunT(t)
	n := newOutageNode(t, mr.Addr(), "rows", newVTable(), hoardtest.NewFakeClock(time.Now()), false)
	db := newWBDB()
	wb := newWB(t, hoard.WriteBehindOptions[string]{Aside: n.aside, Store: db.batchStore(), FlushInterval: -1})
	ctx := context.Background()
	var last uint64
	put := func(what, v string) {
		t.Helper()
		if err := wb.Put(ctx, "1", v); err != nil {
			t.Fatalf("%s: Put: %v", what, err)
		}
		if err := wb.Flush(ctx); err != nil {
			t.Fatalf("%s: Flush: %v", what, err)
		}
		r, _ := db.row("1")
		if r.value != v || r.version <= last {
			t.Fatalf("%s: the store holds %+v; want %q at a version above %d", what, r, v, last)
		}
		last = r.version
		n.clock.Advance(100 * time.Millisecond)
	}
	put("Redis up", "up")
	n.clock.Advance(time.Hour)
	mr.Close()
	put("Redis down", "down-1")
	put("Redis down", "down-2")
	if s := wb.Stats().Snapshot(); s.CacheErrors == 0 {
		t.Fatalf("stats %+v: the failed cache updates are not counted", s)
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(2 * time.Second) // past the versioner's Backoff
	put("Redis back", "back-1")
	put("Redis back", "back-2")
}
