package hoard_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

func TestStoreFuncs(t *testing.T) {
	ctx := context.Background()
	var saved hoard.Write[string]
	s := hoard.StoreFuncs[string]{
		LoadFunc: func(context.Context, string) (string, error) { return "v", nil },
		SaveFunc: func(_ context.Context, id, v string, version uint64) error {
			saved = hoard.Write[string]{ID: id, Value: v, Version: version}
			return nil
		},
	}
	if v, err := s.Load(ctx, "1"); v != "v" || err != nil {
		t.Fatalf("Load = %q, %v", v, err)
	}
	if err := s.Save(ctx, "1", "x", 7); err != nil || saved.Version != 7 || saved.Value != "x" {
		t.Fatalf("Save: %v, %+v", err, saved)
	}
	err := s.Delete(ctx, "1", 8)
	if !errors.Is(err, hoard.ErrInvalidOption) || err.Error() != "hoard: invalid option: StoreFuncs.DeleteFunc is nil" {
		t.Fatalf("Delete with no DeleteFunc: %v", err)
	}
	var _ hoard.Loader[string] = s // a Store is a Loader
}

func TestCounterVersionerIsMonotonic(t *testing.T) {
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	v := hoard.CounterVersioner{Counter: mem}
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			last := uint64(0)
			for range 100 {
				n, err := v.NextVersion(ctx, "42")
				if err != nil {
					t.Error(err)
					return
				}
				if n <= last {
					t.Errorf("version %d after %d", n, last)
				}
				last = n
				mu.Lock()
				if seen[n] {
					t.Errorf("version %d handed out twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
