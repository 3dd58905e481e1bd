package hoard_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// versionedRows is a store that keeps the rule of hoard.Store: a write at
// an older version than the row's is refused, silently.
type versionedRows struct {
	mu       sync.Mutex
	rows     map[string]string
	versions map[string]uint64
}

func (s *versionedRows) write(id, v string, version uint64, del bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rows == nil {
		s.rows, s.versions = map[string]string{}, map[string]uint64{}
	}
	if version <= s.versions[id] {
		return
	}
	s.versions[id] = version
	if del {
		delete(s.rows, id)
	} else {
		s.rows[id] = v
	}
}

func (s *versionedRows) Load(ctx context.Context, id string) (string, error) {
	hoard.SetTags(ctx, "product:"+id)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.rows[id]
	if !ok {
		return "", hoard.ErrNotFound
	}
	return v, nil
}

func (s *versionedRows) Save(_ context.Context, id, v string, version uint64) error {
	s.write(id, v, version, false)
	return nil
}

func (s *versionedRows) Delete(_ context.Context, id string, version uint64) error {
	s.write(id, "", version, true)
	return nil
}

// hookedVersions hands out growing versions and runs after, once armed,
// right after handing one out.
type hookedVersions struct {
	n     atomic.Uint64
	after atomic.Pointer[func()]
}

func (h *hookedVersions) NextVersion(context.Context, string) (uint64, error) {
	v := h.n.Add(1)
	if f := h.after.Swap(nil); f != nil {
		(*f)()
	}
	return v, nil
}

// A writer that took its version, then lost to a newer change of the row
// (made elsewhere, announced by a tag invalidation) before its own cache
// update, must not leave its older value cached as valid: the store
// refused it, and the tag invalidation that announced the newer row must
// reach it. The tag epoch a write caches with is read before its version.
func TestWriteLosingToANewerTaggedChangeIsNotCached(t *testing.T) {
	for _, pattern := range []string{"write-through", "write-behind"} {
		t.Run(pattern, func(t *testing.T) {
			f := newFleet(t, 2, hoard.AsideOptions[string]{TTL: time.Hour})
			ctx := context.Background()
			db := &versionedRows{}
			versions := &hookedVersions{}
			writer, other := f.instances[0], f.instances[1]
			var put func() error
			switch pattern {
			case "write-through":
				wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: writer.aside, Store: db, Versioner: versions})
				if err != nil {
					t.Fatal(err)
				}
				put = func() error { return wt.Put(ctx, "1", "put", "product:1") }
			case "write-behind":
				wb, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[string]{Aside: writer.aside, Store: db, Versioner: versions})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = wb.Close(ctx) })
				put = func() error {
					if err := wb.Put(ctx, "1", "put", "product:1"); err != nil {
						return err
					}
					return wb.Flush(ctx)
				}
			}
			// Right after the Put takes its version, the row changes
			// elsewhere at a newer one, and its tag is invalidated.
			newer := func() {
				db.write("1", "newer", versions.n.Add(1), false)
				if err := other.inv.InvalidateTags(ctx, "product:1"); err != nil {
					t.Error(err)
				}
			}
			versions.after.Store(&newer)
			if err := put(); err != nil && !errors.Is(err, hoard.ErrCacheFailed) {
				t.Fatal(err)
			}
			for i, m := range f.instances {
				if v, err := m.aside.Get(ctx, "1", db); err != nil || v != "newer" {
					t.Fatalf("instance %d: Get after the Put and the newer change = %q, %v; want newer (the store's row)", i, v, err)
				}
			}
		})
	}
}
