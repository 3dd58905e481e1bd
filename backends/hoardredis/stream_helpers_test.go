package hoardredis_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// streamRow is a row of streamDB: the newest write of an id.
type streamRow struct {
	value   string
	version uint64
	deleted bool
}

// streamDB is a table in memory, a hoard.BatchStore that keeps the newest
// version of each row, as the Store contract asks. Each call sleeps delay
// (a database's round trip, for benchmarks) and is counted, with its rows.
type streamDB struct {
	delay       time.Duration
	calls, rows atomic.Int64

	mu   sync.Mutex // guards data
	data map[string]streamRow
}

var _ hoard.BatchStore[string] = (*streamDB)(nil)

func newStreamDB() *streamDB { return &streamDB{data: map[string]streamRow{}} }

func (d *streamDB) WriteMany(_ context.Context, ws []hoard.Write[string]) error {
	if d.delay > 0 {
		time.Sleep(d.delay)
	}
	d.calls.Add(1)
	d.rows.Add(int64(len(ws)))
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range ws {
		if r, ok := d.data[w.ID]; !ok || w.Version > r.version {
			d.data[w.ID] = streamRow{value: w.Value, version: w.Version, deleted: w.Delete}
		}
	}
	return nil
}

func (d *streamDB) Load(_ context.Context, id string) (string, error) {
	if r, ok := d.row(id); ok && !r.deleted {
		return r.value, nil
	}
	return "", hoard.ErrNotFound
}

func (d *streamDB) Save(ctx context.Context, id, v string, version uint64) error {
	return d.WriteMany(ctx, []hoard.Write[string]{{ID: id, Value: v, Version: version}})
}

func (d *streamDB) Delete(ctx context.Context, id string, version uint64) error {
	return d.WriteMany(ctx, []hoard.Write[string]{{ID: id, Version: version, Delete: true}})
}

func (d *streamDB) row(id string) (streamRow, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.data[id]
	return r, ok
}

// newStreamAside returns a cache-aside named products on a memory tier.
func newStreamAside(t testing.TB) *hoard.Aside[string] {
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

// newStreamWB starts a write-behind and closes it when the test ends; an
// Aside and a discarding logger are filled in when unset.
func newStreamWB(t testing.TB, o hoard.WriteBehindOptions[string]) *hoard.WriteBehind[string] {
	t.Helper()
	if o.Aside == nil {
		o.Aside = newStreamAside(t)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
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

// streamNoLoad is a loader that fails the test: the value must come from
// the cache.
func streamNoLoad(t *testing.T) hoard.LoaderFunc[string] {
	return func(_ context.Context, id string) (string, error) {
		t.Errorf("loader called for %q: the write was not in the cache", id)
		return "", errors.New("no load expected")
	}
}

func streamRecv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received in 10s")
		panic("unreachable")
	}
}
