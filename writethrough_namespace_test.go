package hoard_test

import (
	"context"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// slowSaves is a table whose next Save waits until released, as a slow
// UPDATE does.
type slowSaves struct {
	*table
	started, release chan struct{}
}

func (s *slowSaves) Save(ctx context.Context, id, v string, version uint64) error {
	close(s.started)
	<-s.release
	return s.table.Save(ctx, id, v, version)
}

// A namespace bump while a write-through's store call runs: another
// instance loads the old row under the new version meanwhile. The Put must
// not leave that old row cached: every instance reads the new value after
// Put returns.
func TestNamespaceBumpDuringWriteThrough(t *testing.T) {
	f := newFleet(t, 2, hoard.AsideOptions[string]{Namespace: "catalogue", TTL: time.Hour})
	writer, reader := f.instances[0], f.instances[1]
	ctx := context.Background()
	db := &table{}
	if err := db.Save(ctx, "1", "old", 1); err != nil {
		t.Fatal(err)
	}
	for _, m := range f.instances { // both know the namespace's version
		if v, err := m.aside.Get(ctx, "1", db); err != nil || v != "old" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	slow := &slowSaves{table: db, started: make(chan struct{}), release: make(chan struct{})}
	wt, err := hoard.NewWriteThrough(hoard.WriteThroughOptions[string]{Aside: writer.aside, Store: slow})
	if err != nil {
		t.Fatal(err)
	}
	put := make(chan error)
	go func() { put <- wt.Put(ctx, "1", "new") }()
	<-slow.started
	if _, err := reader.inv.BumpNamespace(ctx, "catalogue"); err != nil {
		t.Fatal(err)
	}
	if v, err := reader.aside.Get(ctx, "1", db); err != nil || v != "old" { // the store call has not landed
		t.Fatalf("Get during the store call = %q, %v", v, err)
	}
	close(slow.release)
	if err := <-put; err != nil {
		t.Fatal(err)
	}
	for i, m := range f.instances {
		if v, err := m.aside.Get(ctx, "1", db); err != nil || v != "new" {
			t.Fatalf("instance %d: Get after Put returned = %q, %v; want new", i, v, err)
		}
	}
}
