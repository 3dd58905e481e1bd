package changefeed_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/stores/postgres/changefeed"
)

var quiet = slog.New(slog.DiscardHandler)

func (fx *fixture) options(sink changefeed.Sink) changefeed.Options {
	return changefeed.Options{
		ConnString: fx.url, Slot: fx.slot, Sink: sink, Tables: []changefeed.Table{fx.tableMapping()},
		RetryDelay: 50 * time.Millisecond, Logger: quiet, Repeat: -1,
	}
}

// Updates and deletes made from a plain connection reach the Sink with the
// ids and tags of the old and the new row; the slot's creation flushes.
func TestFeedMapsUpdatesAndDeletes(t *testing.T) {
	fx := newFixture(t)
	exec(t, fx.pool, "alter table "+fx.table+" replica identity full") // the old team, for its tag
	exec(t, fx.pool, "insert into "+fx.table+" values (1, 'ann', 'red'), (2, 'bob', 'blue')")
	rec := newRecorder()
	f, _ := runFeed(t, fx.options(rec))
	rec.waitFor(t, "the flush that follows the slot's creation", func(_ []changefeed.Invalidations, n int) bool { return n == 1 })

	exec(t, fx.pool, "update "+fx.table+" set team = 'green' where id = 1")
	exec(t, fx.pool, "delete from "+fx.table+" where id = 2")
	rec.waitFor(t, "both changes", func(got []changefeed.Invalidations, _ int) bool { return len(got) == 2 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	upd, del := rec.got[0], rec.got[1]
	if !slices.Equal(upd.IDs, []string{"user:1"}) || !slices.Equal(upd.Tags, []string{"team:red", "team:green"}) {
		t.Errorf("update: got %+v, want ids [user:1], tags [team:red team:green]", upd)
	}
	if !slices.Equal(del.IDs, []string{"user:2"}) || !slices.Equal(del.Tags, []string{"team:blue"}) {
		t.Errorf("delete: got %+v, want ids [user:2], tags [team:blue]", del)
	}
	if s := f.Stats(); s.Leases != 1 || s.Flushes != 1 || !s.Active {
		t.Errorf("stats: %+v", s)
	}
}

// Changes made while no feed runs are delivered when one starts, with no
// second flush: the slot kept them.
func TestFeedReplaysChangesMadeWhileStopped(t *testing.T) {
	fx := newFixture(t)
	exec(t, fx.pool, "insert into "+fx.table+" values (1, 'ann', 'red')")
	rec := newRecorder()
	_, stop := runFeed(t, fx.options(rec))
	rec.waitFor(t, "the first flush", func(_ []changefeed.Invalidations, n int) bool { return n == 1 })
	exec(t, fx.pool, "insert into "+fx.table+" values (2, 'bo', 'red')")
	rec.waitFor(t, "a change, past the first flush", func(got []changefeed.Invalidations, _ int) bool { return hasID(got, "user:2") })
	stop()

	exec(t, fx.pool, "update "+fx.table+" set name = 'anna' where id = 1")
	exec(t, fx.pool, "insert into "+fx.table+" values (3, 'cy', 'red')")
	runFeed(t, fx.options(rec))
	rec.waitFor(t, "the changes made while stopped", func(got []changefeed.Invalidations, _ int) bool {
		return hasID(got, "user:1") && hasID(got, "user:3")
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.flushes != 1 {
		t.Errorf("flushes = %d, want 1: the slot survived, nothing was missed", rec.flushes)
	}
}

// A Sink that fails leaves the transaction unconfirmed: it is delivered
// again until the Sink takes it.
func TestFeedReplaysWhatTheSinkRefused(t *testing.T) {
	fx := newFixture(t)
	rec := newRecorder()
	var refusals atomic.Int32
	rec.fail = func(changefeed.Invalidations) error {
		if refusals.Add(1) <= 3 {
			return errors.New("shared tier down")
		}
		return nil
	}
	runFeed(t, fx.options(rec))
	rec.waitFor(t, "the first flush", func(_ []changefeed.Invalidations, n int) bool { return n == 1 })
	exec(t, fx.pool, "insert into "+fx.table+" values (7, 'gus', 'red')")
	rec.waitFor(t, "the change after 3 refusals", func(got []changefeed.Invalidations, _ int) bool { return hasID(got, "user:7") })
	if n := refusals.Load(); n != 4 {
		t.Errorf("Sink called %d times, want 4 (3 refused, then taken)", n)
	}
}

// Two feeds on one slot: one holds the lease; when it stops, the other
// takes over and delivers what was committed meanwhile.
func TestFeedTakeover(t *testing.T) {
	fx := newFixture(t)
	rec := newRecorder()
	a, stopA := runFeed(t, fx.options(rec))
	rec.waitFor(t, "the first flush", func(_ []changefeed.Invalidations, n int) bool { return n == 1 })
	waitUntil(t, "a streaming", func() bool { return a.Stats().Streaming })
	b, _ := runFeed(t, fx.options(rec))
	if !a.Stats().Active || b.Stats().Active || b.Stats().Streaming {
		t.Fatalf("a %+v, b %+v: want a active, b waiting", a.Stats(), b.Stats())
	}
	stopA()
	if s := a.Stats(); s.Active || s.Streaming {
		t.Fatalf("a stopped: %+v; want neither active nor streaming", s)
	}
	exec(t, fx.pool, "insert into "+fx.table+" values (9, 'ida', 'red')")
	rec.waitFor(t, "the change, through b", func(got []changefeed.Invalidations, _ int) bool { return hasID(got, "user:9") })
	if s := b.Stats(); s.Leases != 1 || !s.Streaming {
		t.Errorf("b: %+v, want the lease taken once, streaming", s)
	}
}

// A slot that disappeared while no feed ran (dropped, or invalidated by
// max_slot_wal_keep_size: the same path, plus the drop) is recreated, and
// the Sink flushed, since the changes in between are unknown.
func TestFeedRecreatesAMissingSlotAndFlushes(t *testing.T) {
	fx := newFixture(t)
	rec := newRecorder()
	_, stop := runFeed(t, fx.options(rec))
	rec.waitFor(t, "the first flush", func(_ []changefeed.Invalidations, n int) bool { return n == 1 })
	exec(t, fx.pool, "insert into "+fx.table+" values (5, 'eve', 'red')")
	rec.waitFor(t, "a change, past the first flush", func(got []changefeed.Invalidations, _ int) bool { return hasID(got, "user:5") })
	stop()
	waitUntil(t, "the slot inactive", func() bool {
		var active bool
		err := fx.pool.QueryRow(context.Background(), "select active from pg_replication_slots where slot_name = $1", fx.slot).Scan(&active)
		return err == nil && !active
	})
	exec(t, fx.pool, "select pg_drop_replication_slot($1)", fx.slot)
	exec(t, fx.pool, "update "+fx.table+" set name = 'eva' where id = 5") // unrecorded
	f, _ := runFeed(t, fx.options(rec))
	rec.waitFor(t, "a second flush", func(_ []changefeed.Invalidations, n int) bool { return n == 2 })
	exec(t, fx.pool, "insert into "+fx.table+" values (6, 'fay', 'red')")
	rec.waitFor(t, "a change on the new slot", func(got []changefeed.Invalidations, _ int) bool { return hasID(got, "user:6") })
	if s := f.Stats(); s.Flushes != 1 {
		t.Errorf("stats %+v: want the one flush of the new slot", s)
	}
}

// Each transaction's invalidations are applied again, Repeat after the
// first, to undo a load that wrote the old row back in between.
func TestFeedRepeats(t *testing.T) {
	fx := newFixture(t)
	rec := newRecorder()
	opts := fx.options(rec)
	opts.Repeat = 50 * time.Millisecond
	f, _ := runFeed(t, opts)
	rec.waitFor(t, "the first flush", func(_ []changefeed.Invalidations, n int) bool { return n == 1 })
	exec(t, fx.pool, "insert into "+fx.table+" values (4, 'dee', 'red')")
	rec.waitFor(t, "the change, twice", func(got []changefeed.Invalidations, _ int) bool { return len(got) == 2 })
	rec.mu.Lock()
	first, second := rec.got[0], rec.got[1]
	rec.mu.Unlock()
	if !slices.Equal(first.IDs, []string{"user:4"}) || !slices.Equal(second.IDs, first.IDs) {
		t.Errorf("got %+v then %+v, want user:4 twice", first, second)
	}
	if s := f.Stats(); s.Transactions != 1 {
		t.Errorf("stats %+v: want 1 transaction", s)
	}
}

// TRUNCATE bumps the table's namespaces, or flushes when it has none.
func TestFeedTruncate(t *testing.T) {
	fx := newFixture(t)
	rec := newRecorder()
	opts := fx.options(rec)
	runFeed(t, opts)
	rec.waitFor(t, "the first flush", func(_ []changefeed.Invalidations, n int) bool { return n == 1 })
	exec(t, fx.pool, "truncate "+fx.table)
	rec.waitFor(t, "a flush for the TRUNCATE", func(_ []changefeed.Invalidations, n int) bool { return n == 2 })
}

func TestNewRejectsBadOptions(t *testing.T) {
	sink := changefeed.SinkFuncs{}
	table := []changefeed.Table{{Name: "users"}}
	for name, o := range map[string]changefeed.Options{
		"no conn":     {Sink: sink, Tables: table},
		"no sink":     {ConnString: "postgres://x/y", Tables: table},
		"no tables":   {ConnString: "postgres://x/y", Sink: sink},
		"bad slot":    {ConnString: "postgres://x/y", Sink: sink, Tables: table, Slot: "Bad-Slot"},
		"bad table":   {ConnString: "postgres://x/y", Sink: sink, Tables: []changefeed.Table{{Name: "a.b.c"}}},
		"twice":       {ConnString: "postgres://x/y", Sink: sink, Tables: []changefeed.Table{{Name: "users"}, {Name: "public.users"}}},
		"bad connstr": {ConnString: "postgres://x:notaport/y", Sink: sink, Tables: table},
	} {
		if _, err := changefeed.New(o); err == nil || !strings.HasPrefix(err.Error(), "hoard: changefeed:") {
			t.Errorf("%s: err = %v, want a hoard: changefeed: error", name, err)
		}
	}
}

// SinkFuncs calls each function with its part, and refuses work for a nil one.
func TestSinkFuncs(t *testing.T) {
	ctx := context.Background()
	var ids, tags, nss []string
	s := changefeed.SinkFuncs{
		Delete:         func(_ context.Context, v ...string) error { ids = append(ids, v...); return nil },
		InvalidateTags: func(_ context.Context, v ...string) error { tags = append(tags, v...); return nil },
		BumpNamespace:  func(_ context.Context, v string) error { nss = append(nss, v); return nil },
	}
	if err := s.Invalidate(ctx, changefeed.Invalidations{IDs: []string{"a"}, Tags: []string{"t"}, Namespaces: []string{"n1", "n2"}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{"a"}) || !slices.Equal(tags, []string{"t"}) || !slices.Equal(nss, []string{"n1", "n2"}) {
		t.Errorf("ids %v tags %v namespaces %v", ids, tags, nss)
	}
	if err := s.Flush(ctx); err == nil || !strings.Contains(err.Error(), "FlushAll is nil") {
		t.Errorf("Flush with no FlushAll: %v", err)
	}
}

// Drop removes the slot, the publication and the state row of a stopped
// feed; dropping again, or a slot that never existed, is not an error.
func TestDrop(t *testing.T) {
	fx := newFixture(t)
	rec := newRecorder()
	_, stop := runFeed(t, fx.options(rec))
	rec.waitFor(t, "the slot's first flush", func(_ []changefeed.Invalidations, flushes int) bool { return flushes > 0 })
	stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 2 {
		if err := changefeed.Drop(ctx, fx.url, fx.slot); err != nil {
			t.Fatalf("Drop %d: %v", i+1, err)
		}
	}
	var slots, pubs, rows int
	if err := fx.pool.QueryRow(ctx, `select (select count(*) from pg_replication_slots where slot_name = $1),
		(select count(*) from pg_publication where pubname = $1),
		(select count(*) from hoard_changefeed_slots where slot = $1)`, fx.slot).Scan(&slots, &pubs, &rows); err != nil {
		t.Fatal(err)
	}
	if slots+pubs+rows != 0 {
		t.Fatalf("after Drop: %d slots, %d publications, %d state rows; want none", slots, pubs, rows)
	}
	if err := changefeed.Drop(ctx, fx.url, ""); err == nil {
		t.Fatal("Drop of an empty slot name: no error")
	}
}

// Ready passes on the test server (set up by scripts/pg-logical.sh) and
// fails on one that does not answer, without ErrNotReady.
func TestReady(t *testing.T) {
	url, _ := pgURL(t) // skips unless Ready
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := changefeed.Ready(ctx, url); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	err := changefeed.Ready(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if err == nil || errors.Is(err, changefeed.ErrNotReady) {
		t.Fatalf("Ready of a server that does not answer: %v; want an error that is not ErrNotReady", err)
	}
}
