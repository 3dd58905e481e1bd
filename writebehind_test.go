package hoard_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// wbRow is a row of wbDB: the newest write of an id.
type wbRow struct {
	value   string
	version uint64
	deleted bool
}

// wbDB is a table in memory that keeps the newest version of each row, as
// the Store contract asks, and records every call. Tests steer it with
// hold (each call first takes a token from it), fail (decides a call's
// failure) and calls (each call's writes are sent there, when set).
type wbDB struct {
	mu       sync.Mutex
	rows     map[string]wbRow
	log      [][]hoard.Write[string] // the writes of every call that reached the table
	fail     func(ws []hoard.Write[string]) error
	hold     chan struct{}
	calls    chan []hoard.Write[string]
	numCalls atomic.Int64
}

func newWBDB() *wbDB { return &wbDB{rows: map[string]wbRow{}} }

func (d *wbDB) call(ctx context.Context, ws []hoard.Write[string]) error {
	d.numCalls.Add(1)
	if d.calls != nil {
		d.calls <- ws
	}
	if d.hold != nil {
		select {
		case <-d.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		if err := d.fail(ws); err != nil {
			return err
		}
	}
	d.log = append(d.log, ws)
	for _, w := range ws {
		if r, ok := d.rows[w.ID]; !ok || w.Version > r.version {
			d.rows[w.ID] = wbRow{value: w.Value, version: w.Version, deleted: w.Delete}
		}
	}
	return nil
}

func (d *wbDB) row(id string) (wbRow, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.rows[id]
	return r, ok
}

// store is the table as a plain Store: StoreFuncs, one write per call.
func (d *wbDB) store() hoard.StoreFuncs[string] {
	return hoard.StoreFuncs[string]{
		LoadFunc: func(_ context.Context, id string) (string, error) {
			if r, ok := d.row(id); ok && !r.deleted {
				return r.value, nil
			}
			return "", hoard.ErrNotFound
		},
		SaveFunc: func(ctx context.Context, id, v string, version uint64) error {
			return d.call(ctx, []hoard.Write[string]{{ID: id, Value: v, Version: version}})
		},
		DeleteFunc: func(ctx context.Context, id string, version uint64) error {
			return d.call(ctx, []hoard.Write[string]{{ID: id, Version: version, Delete: true}})
		},
	}
}

// wbBatchDB is the table as a BatchStore.
type wbBatchDB struct {
	hoard.StoreFuncs[string]
	db *wbDB
}

func (b wbBatchDB) WriteMany(ctx context.Context, ws []hoard.Write[string]) error {
	return b.db.call(ctx, ws)
}

func (d *wbDB) batchStore() wbBatchDB { return wbBatchDB{StoreFuncs: d.store(), db: d} }

var wbDiscard = slog.New(slog.DiscardHandler)

// newWBAside returns a cache-aside named products on a memory tier.
func newWBAside(t testing.TB) *hoard.Aside[string] {
	t.Helper()
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "products", Memory: mem})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// newWB starts a write-behind and closes it when the test ends; an Aside
// and a discarding logger are filled in when unset.
func newWB(t testing.TB, o hoard.WriteBehindOptions[string]) *hoard.WriteBehind[string] {
	t.Helper()
	if o.Aside == nil {
		o.Aside = newWBAside(t)
	}
	if o.Logger == nil {
		o.Logger = wbDiscard
	}
	wb, err := hoard.NewWriteBehind(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = wb.Close(ctx)
	})
	return wb
}

// wbNoLoad is a loader that fails the test: the value must come from the cache.
func wbNoLoad(t *testing.T) hoard.LoaderFunc[string] {
	return func(_ context.Context, id string) (string, error) {
		t.Errorf("loader called for %q: the write was not in the cache", id)
		return "", errors.New("no load expected")
	}
}

func wbRecv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received in 10s")
		panic("unreachable")
	}
}

func TestWriteBehindReadYourWrites(t *testing.T) {
	ctx := context.Background()
	db := newWBDB()
	a := newWBAside(t)
	wb := newWB(t, hoard.WriteBehindOptions[string]{Aside: a, Store: db.store(), FlushInterval: time.Hour})

	if err := wb.Put(ctx, "42", "kettle"); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Get(ctx, "42", wbNoLoad(t)); v != "kettle" || err != nil {
		t.Fatalf("Get after Put = %q, %v", v, err)
	}
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := db.row("42"); r.value != "kettle" || r.deleted {
		t.Fatalf("store after Flush: %+v", r)
	}
	if err := wb.Delete(ctx, "42"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, "42", wbNoLoad(t)); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound from the cache", err)
	}
	if err := wb.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := db.row("42"); !r.deleted {
		t.Fatalf("store after Close: %+v, want deleted", r)
	}
	if s := wb.Stats().Snapshot(); s.Puts != 1 || s.Deletes != 1 || s.Stored != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWriteBehindCoalesces(t *testing.T) {
	ctx := context.Background()
	db := newWBDB()
	db.hold = make(chan struct{})
	db.calls = make(chan []hoard.Write[string], 16)
	wb := newWB(t, hoard.WriteBehindOptions[string]{Store: db.batchStore(), FlushInterval: -1})

	if err := wb.Put(ctx, "a", "a0"); err != nil {
		t.Fatal(err)
	}
	wbRecv(t, db.calls) // the worker is in the store with a0: the rest piles up
	for i := 1; i <= 5; i++ {
		if err := wb.Put(ctx, "a", fmt.Sprint("a", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		if err := wb.Put(ctx, "b", fmt.Sprint("b", i)); err != nil {
			t.Fatal(err)
		}
	}
	db.hold <- struct{}{}
	second := wbRecv(t, db.calls)
	db.hold <- struct{}{}
	if len(second) != 2 || second[0].ID != "a" || second[0].Value != "a5" || second[1].ID != "b" || second[1].Value != "b3" {
		t.Fatalf("second batch %+v, want the newest a and b only", second)
	}
	if second[0].Version <= 1 {
		t.Fatalf("version %d", second[0].Version)
	}
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s := wb.Stats().Snapshot(); s.Coalesced != 6 || s.Stored != 3 || s.StoreCalls != 2 {
		t.Fatalf("stats %+v, want 6 coalesced, 3 stored in 2 calls", s)
	}
}

func TestWriteBehindBatchesBySize(t *testing.T) {
	ctx := context.Background()
	db := newWBDB()
	db.calls = make(chan []hoard.Write[string], 16)
	wb := newWB(t, hoard.WriteBehindOptions[string]{Store: db.batchStore(), BatchSize: 10, FlushInterval: time.Hour})
	for i := range 25 {
		if err := wb.Put(ctx, fmt.Sprint(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	// Two full batches go without waiting for the hour; the last five
	// wait for company until Flush.
	if n := len(wbRecv(t, db.calls)); n != 10 {
		t.Fatalf("first batch of %d, want 10", n)
	}
	if n := len(wbRecv(t, db.calls)); n != 10 {
		t.Fatalf("second batch of %d, want 10", n)
	}
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Flush returns once all is stored. The last five may have gone as one
	// batch or, when Flush cut a worker's wait after it had taken some of
	// them, as two: count what arrived, and that no batch ran over 10.
	rest := 0
	for len(db.calls) > 0 {
		batch := <-db.calls
		if len(batch) > 10 {
			t.Fatalf("a batch of %d, over BatchSize 10", len(batch))
		}
		rest += len(batch)
	}
	if rest != 5 {
		t.Fatalf("%d writes after the two full batches, want 5", rest)
	}
}

func TestWriteBehindBatchesByInterval(t *testing.T) {
	ctx := context.Background()
	db := newWBDB()
	db.calls = make(chan []hoard.Write[string], 16)
	const interval = 30 * time.Millisecond
	wb := newWB(t, hoard.WriteBehindOptions[string]{Store: db.batchStore(), BatchSize: 100, FlushInterval: interval})
	start := time.Now()
	for _, id := range []string{"1", "2", "3"} {
		if err := wb.Put(ctx, id, "v"); err != nil {
			t.Fatal(err)
		}
	}
	// No Flush: the interval alone sends the batch.
	n := len(wbRecv(t, db.calls))
	if took := time.Since(start); took < interval {
		t.Fatalf("batch stored after %v, before the interval %v", took, interval)
	}
	for n < 3 {
		n += len(wbRecv(t, db.calls))
	}
	// The store call is seen before the worker counts it; Flush returns
	// once the writes are acknowledged, and they are counted before that.
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s := wb.Stats().Snapshot(); s.Stored != 3 {
		t.Fatalf("stored %d", s.Stored)
	}
}

func TestWriteBehindRetriesWithBackoff(t *testing.T) {
	ctx := context.Background()
	db := newWBDB()
	var failures atomic.Int32
	db.fail = func([]hoard.Write[string]) error {
		if failures.Add(1) <= 2 {
			return hoard.ErrUnavailable
		}
		return nil
	}
	var mu sync.Mutex
	var attempts []int
	wb := newWB(t, hoard.WriteBehindOptions[string]{
		Store: db.batchStore(), FlushInterval: -1,
		Backoff: func(attempt int) time.Duration { return time.Duration(attempt) * time.Millisecond },
		Hooks: hoard.WriteBehindHooks[string]{OnRetry: func(attempt, n int, err error, wait time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if n != 1 || !errors.Is(err, hoard.ErrUnavailable) || wait != time.Duration(attempt)*time.Millisecond {
				t.Errorf("OnRetry(%d, %d, %v, %v)", attempt, n, err, wait)
			}
			attempts = append(attempts, attempt)
		}},
	})
	if err := wb.Put(ctx, "1", "v"); err != nil {
		t.Fatal(err)
	}
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := db.row("1"); r.value != "v" {
		t.Fatalf("row %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(attempts) != "[1 2]" {
		t.Fatalf("retries after attempts %v, want [1 2]", attempts)
	}
	if s := wb.Stats().Snapshot(); s.Retries != 2 || s.StoreErrors != 2 || s.Stored != 1 || s.DeadLetters != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWriteBehindDeadLetter(t *testing.T) {
	poison := errors.New("check constraint violated")
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			ctx := context.Background()
			db := newWBDB()
			db.fail = func(ws []hoard.Write[string]) error {
				for _, w := range ws {
					if w.ID == "poison" {
						return poison
					}
				}
				return nil
			}
			var store hoard.Store[string] = db.store()
			if batch {
				store = db.batchStore()
			}
			dead := make(chan hoard.Write[string], 4)
			wb := newWB(t, hoard.WriteBehindOptions[string]{
				Store: store, FlushInterval: time.Hour, MaxAttempts: 3,
				Backoff: func(int) time.Duration { return 0 },
				DeadLetter: func(_ context.Context, w hoard.Write[string], err error) {
					if !errors.Is(err, poison) {
						t.Errorf("dead letter error %v", err)
					}
					dead <- w
				},
			})
			for _, id := range []string{"good", "poison", "fine"} {
				if err := wb.Put(ctx, id, id+"!"); err != nil {
					t.Fatal(err)
				}
			}
			if err := wb.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if w := wbRecv(t, dead); w.ID != "poison" || w.Value != "poison!" {
				t.Fatalf("dead letter %+v", w)
			}
			// Its neighbours were stored: the last attempt went write by
			// write.
			for _, id := range []string{"good", "fine"} {
				if r, ok := db.row(id); !ok || r.value != id+"!" {
					t.Fatalf("%s: %+v", id, r)
				}
			}
			if _, ok := db.row("poison"); ok {
				t.Fatal("poison stored")
			}
			if s := wb.Stats().Snapshot(); s.DeadLetters != 1 || s.Retries != 2 || s.Stored != 2 {
				t.Fatalf("stats %+v", s)
			}
			// The queue moved on: a later write is stored.
			if err := wb.Put(ctx, "after", "x"); err != nil {
				t.Fatal(err)
			}
			if err := wb.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok := db.row("after"); !ok {
				t.Fatal("the write after the dead letter was not stored")
			}
		})
	}
}

func TestWriteBehindBackpressure(t *testing.T) {
	for _, policy := range []hoard.FullPolicy{hoard.FullBlock, hoard.FullError} {
		t.Run(fmt.Sprint("policy=", policy), func(t *testing.T) {
			ctx := context.Background()
			db := newWBDB()
			db.hold = make(chan struct{})
			db.calls = make(chan []hoard.Write[string], 16)
			a := newWBAside(t)
			wb := newWB(t, hoard.WriteBehindOptions[string]{
				Aside: a, Store: db.batchStore(), QueueLen: 2, Full: policy, FlushInterval: -1,
			})
			if err := wb.Put(ctx, "1", "v"); err != nil {
				t.Fatal(err)
			}
			wbRecv(t, db.calls) // 1 is in the store: taken, still counted
			if err := wb.Put(ctx, "2", "v"); err != nil {
				t.Fatal(err)
			}
			start := time.Now() // before the ctx: its deadline is 30ms from here at the latest
			short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			defer cancel()
			err := wb.Put(short, "3", "v")
			if !errors.Is(err, hoard.ErrQueueFull) {
				t.Fatalf("Put on a full queue: %v, want ErrQueueFull", err)
			}
			took := time.Since(start)
			switch policy {
			case hoard.FullBlock:
				if !errors.Is(err, context.DeadlineExceeded) || took < 30*time.Millisecond {
					t.Fatalf("FullBlock returned %v after %v, want the ctx's end", err, took)
				}
			case hoard.FullError:
				if errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("FullError waited: %v", err)
				}
			}
			// A refused write touched neither the cache nor the store.
			if _, err := a.Get(ctx, "3", db.store()); !errors.Is(err, hoard.ErrNotFound) {
				t.Fatalf("a refused write reached the cache or the store: %v", err)
			}
			// The store comes back: room again.
			close(db.hold)
			if err := wb.Put(ctx, "3", "v3"); err != nil && policy == hoard.FullBlock {
				t.Fatal(err)
			}
			if err := wb.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := wb.Put(ctx, "4", "v4"); err != nil {
				t.Fatal(err)
			}
			if err := wb.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if r, ok := db.row("4"); !ok || r.value != "v4" {
				t.Fatalf("row 4: %+v", r)
			}
			s := wb.Stats().Snapshot()
			if s.FullErrors < 1 || (policy == hoard.FullBlock) != (s.FullWaits >= 1) {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestWriteBehindFlushWaitsForTheStore(t *testing.T) {
	ctx := context.Background()
	db := newWBDB()
	db.hold = make(chan struct{})
	wb := newWB(t, hoard.WriteBehindOptions[string]{Store: db.batchStore()})
	if err := wb.Put(ctx, "1", "v"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := wb.Flush(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with the store held: %v", err)
	}
	if s, err := wb.QueueStats(ctx); err != nil || s.Depth != 1 || s.Oldest.IsZero() || s.Lag(time.Now()) <= 0 {
		t.Fatalf("QueueStats = %+v, %v", s, err)
	}
	close(db.hold)
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err := wb.QueueStats(ctx); err != nil || s.Depth != 0 || !s.Oldest.IsZero() {
		t.Fatalf("QueueStats = %+v, %v", s, err)
	}
	if s := wb.Stats().Snapshot(); s.Lag.Count != 1 || s.Lag.Max < 20*time.Millisecond {
		t.Fatalf("lag %+v", s.Lag)
	}
}

func TestWriteBehindCloseDrains(t *testing.T) {
	ctx := context.Background()
	db := newWBDB()
	wb := newWB(t, hoard.WriteBehindOptions[string]{Store: db.store(), BatchSize: 7, FlushInterval: time.Hour, Workers: 3})
	for i := range 50 {
		if err := wb.Put(ctx, fmt.Sprint(i), fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if r, ok := db.row(fmt.Sprint(i)); !ok || r.value != fmt.Sprint("v", i) {
			t.Fatalf("row %d: %+v", i, r)
		}
	}
	if err := wb.Put(ctx, "x", "v"); !errors.Is(err, hoard.ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	if err := wb.Flush(ctx); !errors.Is(err, hoard.ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
	if err := wb.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestWriteBehindCloseGivesUp(t *testing.T) {
	ctx := context.Background()
	db := newWBDB()
	db.hold = make(chan struct{}) // never released: the store hangs until its ctx ends
	wb := newWB(t, hoard.WriteBehindOptions[string]{Store: db.batchStore(), BatchSize: 1, FlushInterval: -1})
	for i := range 3 {
		if err := wb.Put(ctx, fmt.Sprint(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	err := wb.Close(short)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "3 writes not stored (lost with the memory queue)") {
		t.Fatalf("Close = %v", err)
	}
	// Every goroutine has ended: TestMain's leak check would say otherwise.
}

func TestWriteBehindVersionOrderUnderRetries(t *testing.T) {
	ctx := context.Background()
	db := newWBDB()
	var calls atomic.Int64
	db.fail = func(ws []hoard.Write[string]) error {
		seen := map[string]bool{}
		for _, w := range ws {
			if seen[w.ID] {
				t.Errorf("a batch holds %q twice", w.ID)
			}
			seen[w.ID] = true
		}
		if calls.Add(1)%3 == 0 {
			return hoard.ErrUnavailable
		}
		return nil
	}
	versions := &wbVersioner{last: map[string]uint64{}}
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	versions.next = hoard.CounterVersioner{Counter: mem}
	wb := newWB(t, hoard.WriteBehindOptions[string]{
		Store: db.batchStore(), Versioner: versions, BatchSize: 8, FlushInterval: time.Millisecond,
		Workers: 4, MaxAttempts: -1, Backoff: func(int) time.Duration { return 0 },
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				if err := wb.Put(ctx, fmt.Sprint(i%5), fmt.Sprint(g, "/", i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for id, v := range versions.snapshot() {
		r, _ := db.row(id)
		if r.version != v {
			t.Errorf("%s: store holds version %d, the newest is %d", id, r.version, v)
		}
	}
	if s := wb.Stats().Snapshot(); s.Retries == 0 || s.Puts != 800 {
		t.Fatalf("stats %+v", s)
	}
}

// wbVersioner records the newest version handed out per id.
type wbVersioner struct {
	next hoard.Versioner
	mu   sync.Mutex
	last map[string]uint64
}

func (v *wbVersioner) NextVersion(ctx context.Context, id string) (uint64, error) {
	n, err := v.next.NextVersion(ctx, id)
	if err == nil {
		v.mu.Lock()
		v.last[id] = max(v.last[id], n)
		v.mu.Unlock()
	}
	return n, err
}

func (v *wbVersioner) snapshot() map[string]uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]uint64, len(v.last))
	for k, n := range v.last {
		out[k] = n
	}
	return out
}

// wbFailingSet is a tier whose Set fails.
type wbFailingSet struct {
	hoard.Cache[string]
}

func (wbFailingSet) Set(context.Context, string, hoard.Entry[string]) error {
	return fmt.Errorf("%w: connection refused", hoard.ErrUnavailable)
}

func TestWriteBehindCacheFailureStillStores(t *testing.T) {
	ctx := context.Background()
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	shared, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "p", Memory: mem, Shared: wbFailingSet{shared}})
	if err != nil {
		t.Fatal(err)
	}
	_ = shared.Set(ctx, a.Key("1"), hoard.Entry[string]{Value: "old"})
	db := newWBDB()
	wb := newWB(t, hoard.WriteBehindOptions[string]{Aside: a, Store: db.store(), Versioner: hoard.CounterVersioner{Counter: mem}})
	if err := wb.Put(ctx, "1", "new"); err != nil {
		t.Fatalf("Put with a failing shared tier: %v", err)
	}
	if _, err := shared.Get(ctx, a.Key("1")); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("the old value stayed in the failing tier: %v", err)
	}
	if v, err := a.Get(ctx, "1", wbNoLoad(t)); v != "new" || err != nil {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := db.row("1"); r.value != "new" {
		t.Fatalf("row %+v", r)
	}
	if s := wb.Stats().Snapshot(); s.CacheErrors != 1 {
		t.Fatalf("stats %+v", s)
	}
	if n := a.Metrics().Snapshot().Count(hoard.EventBackendError, hoard.TierShared); n != 1 {
		t.Fatalf("backend errors %d", n)
	}
}

// wbNoCounter is a tier that is not a Counter.
type wbNoCounter struct{ hoard.Cache[string] }

func TestWriteBehindOptions(t *testing.T) {
	a := newWBAside(t)
	store := newWBDB().store()
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	bare, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "bare", Memory: wbNoCounter{mem}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := hoard.NewMemoryQueue[string](5)
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]hoard.WriteBehindOptions[string]{
		"no Aside":           {Store: store},
		"no Store":           {Aside: a},
		"negative QueueLen":  {Aside: a, Store: store, QueueLen: -1},
		"QueueLen and Queue": {Aside: a, Store: store, QueueLen: 5, Queue: q},
		"unknown Full":       {Aside: a, Store: store, Full: 9},
		"huge BatchSize":     {Aside: a, Store: store, BatchSize: hoard.MaxWriteBehindBatchSize + 1},
		"negative Workers":   {Aside: a, Store: store, Workers: -1},
	} {
		if _, err := hoard.NewWriteBehind(&o); !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := hoard.NewMemoryQueue[string](-1); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("NewMemoryQueue(-1): %v", err)
	}
	// No tier is a Counter: the versions come from the process's clock,
	// newer with each write.
	db := newWBDB()
	wb := newWB(t, hoard.WriteBehindOptions[string]{Aside: bare, Store: db.batchStore()})
	ctx := context.Background()
	for _, v := range []string{"old", "new"} {
		if err := wb.Put(ctx, "1", v); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := db.row("1"); r.value != "new" {
		t.Fatalf("row %+v, want the newer write", r)
	}
}
