package main

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hoard-cache/hoard"
)

// TestInstancesStartTogether: instances that start at once all make (or
// find) the table and its seed; on PostgreSQL a bare CREATE TABLE IF NOT
// EXISTS would fail in some of them.
func TestInstancesStartTogether(t *testing.T) {
	b := newBacking(t) // made the table once; the others find it
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := newRepo(ctx, b.repo.db, b.repo.d, b.repo.table+"_again"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if b.repo.d == postgresDialect {
		if _, err := b.repo.db.ExecContext(ctx, `DROP TABLE IF EXISTS `+b.repo.table+`_again`); err != nil {
			t.Error(err)
		}
	}
}

// TestRepoVersions: the repo as a hoard.Store applies a write only when it
// is newer than the row.
func TestRepoVersions(t *testing.T) {
	b := newBacking(t)
	ctx := context.Background()
	r := b.repo
	p := Product{ID: 50, Name: "new", Category: "mugs", Price: 100}
	if err := r.Save(ctx, "50", p, 10); err != nil {
		t.Fatal(err)
	}
	if err := r.Save(ctx, "50", Product{ID: 50, Name: "older", Category: "mugs"}, 9); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, "50", 8); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Load(ctx, "50"); err != nil || got != p {
		t.Fatalf("Load = %+v, %v; want %+v (older writes ignored)", got, err, p)
	}
	if err := r.Delete(ctx, "50", 11); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Load(ctx, "50"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Load after a newer delete: %v; want ErrNotFound", err)
	}
}
