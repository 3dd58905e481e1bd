package hoard_test

import (
	"context"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/hoardtest"
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
	wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: writer.aside, Store: slow})
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

// A Delete by an instance that has not heard of a bump yet (its local copy
// of the version is the old one) while a reader under the new version loads
// the row as it was before the change: once the Delete has returned, no
// instance may serve that old row. Delete reads the version again after
// deleting, past its local copy, and deletes under the new version too.
func TestDeleteDuringNamespaceBumpReachesTheNewVersion(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	versions, err := hoardredis.New[string](w.redis, &hoardredis.Options{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	// The Asides share a bus for keys; the Invalidators hear of no bump,
	// as when the bump's message is still on its way.
	var network hoardtest.BusNetwork
	member := func() (*hoard.Aside[string], *hoard.Invalidator) {
		inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: versions, TagClock: versions, Clock: w.clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inv.Close() })
		r := w.instance(t, hoard.AsideOptions[string]{Namespace: "catalogue", TTL: time.Hour, Invalidator: inv, Bus: network.NewBus()})
		t.Cleanup(func() { _ = r.aside.Close(ctx) })
		return r.aside, inv
	}
	deleter, _ := member()
	reader, readerInv := member()
	db := &table{}
	if err := db.Save(ctx, "1", "old", 1); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*hoard.Aside[string]{deleter, reader} { // both know the version
		if v, err := a.Get(ctx, "1", db); err != nil || v != "old" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if _, err := readerInv.BumpNamespace(ctx, "catalogue"); err != nil { // the deleter has not heard of it
		t.Fatal(err)
	}
	read, release := make(chan struct{}), make(chan struct{})
	slow := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
		v, err := db.Load(ctx, id)
		close(read)
		<-release // the row as it was, on its way back
		return v, err
	})
	loaded := make(chan string)
	go func() { v, _ := reader.Get(ctx, "1", slow); loaded <- v }()
	<-read
	if err := db.Save(ctx, "1", "new", 2); err != nil {
		t.Fatal(err)
	}
	if err := deleter.Delete(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-loaded // begun before the Delete: old or new
	for i, a := range []*hoard.Aside[string]{deleter, reader} {
		if v, err := a.Get(ctx, "1", db); err != nil || v != "new" {
			t.Fatalf("instance %d: Get after the Delete returned = %q, %v; want new", i, v, err)
		}
	}
}

// A write-through whose key moved with a bump during its store call must
// invalidate the old version's key too: an instance that has not heard of
// the bump yet still reads that key, and after Put returns it must not
// serve the row the Put replaced.
func TestWriteThroughDuringUnheardBumpInvalidatesTheOldKey(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	versions, err := hoardredis.New[string](w.redis, &hoardredis.Options{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	// The Asides share a bus for keys; the Invalidators hear of no bump.
	var network hoardtest.BusNetwork
	newInv := func() *hoard.Invalidator {
		inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: versions, TagClock: versions, Clock: w.clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inv.Close() })
		return inv
	}
	member := func() *hoard.Aside[string] {
		r := w.instance(t, hoard.AsideOptions[string]{Namespace: "catalogue", TTL: time.Hour, Invalidator: newInv(), Bus: network.NewBus()})
		t.Cleanup(func() { _ = r.aside.Close(ctx) })
		return r.aside
	}
	writer, reader := member(), member()
	bumper := newInv()
	db := &table{}
	if err := db.Save(ctx, "1", "old", 1); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*hoard.Aside[string]{writer, reader} { // both know the version, and hold "old"
		if v, err := a.Get(ctx, "1", db); err != nil || v != "old" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	slow := &slowSaves{table: db, started: make(chan struct{}), release: make(chan struct{})}
	wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: writer, Store: slow})
	if err != nil {
		t.Fatal(err)
	}
	put := make(chan error)
	go func() { put <- wt.Put(ctx, "1", "new") }()
	<-slow.started
	if _, err := bumper.BumpNamespace(ctx, "catalogue"); err != nil { // heard by neither instance
		t.Fatal(err)
	}
	close(slow.release)
	if err := <-put; err != nil {
		t.Fatal(err)
	}
	if v, err := reader.Get(ctx, "1", db); err != nil || v != "new" {
		t.Fatalf("Get after Put returned, by an instance still on the old version = %q, %v; want new", v, err)
	}
}
