package hoard_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// gatedSource answers its first load only when released, with the row as
// it was when the load began: a slow query that read the old row.
type gatedSource struct {
	row     atomic.Value // string
	started chan struct{}
	release chan struct{}
	loads   atomic.Int64
}

func newGatedSource(row string) *gatedSource {
	s := &gatedSource{started: make(chan struct{}), release: make(chan struct{})}
	s.row.Store(row)
	return s
}

func (s *gatedSource) Load(ctx context.Context, _ string) (string, error) {
	v := s.row.Load().(string)
	if s.loads.Add(1) == 1 {
		close(s.started)
		select {
		case <-s.release:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return v, nil
}

// A Get that begins after an invalidation returned never gets the value of
// a load that began before it: it starts its own load instead of joining.
func TestGetAfterInvalidationDoesNotJoinOlderLoad(t *testing.T) {
	for _, how := range []string{"Delete", "DeletePrefix", "InvalidateTags", "BumpNamespace"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			mem, err := memory.New[string](nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = mem.Close() }()
			inv, err := hoard.NewInvalidator(hoard.InvalidatorOptions{Counter: mem, TagClock: mem})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = inv.Close() }()
			a, err := hoard.NewAside(hoard.AsideOptions[string]{
				Name: "rows", Memory: mem, Invalidator: inv, Namespace: "ns", TTL: time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			src := newGatedSource("old")
			loader := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
				hoard.SetTags(ctx, "row:"+id)
				return src.Load(ctx, id)
			})

			first := make(chan string, 1)
			go func() {
				v, _ := a.Get(ctx, "k", loader)
				first <- v
			}()
			<-src.started // the first load has read "old"

			src.row.Store("new") // the row changes, then is invalidated
			switch how {
			case "Delete":
				err = a.Delete(ctx, "k")
			case "DeletePrefix":
				_, err = a.DeletePrefix(ctx, "k")
			case "InvalidateTags":
				err = inv.InvalidateTags(ctx, "row:k")
			case "BumpNamespace":
				_, err = inv.BumpNamespace(ctx, "ns")
			}
			if err != nil {
				t.Fatal(err)
			}

			// Joining the first load would wait for it: bound the wait.
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			later, err := a.Get(lctx, "k", loader)
			cancel()
			if err != nil || later != "new" {
				t.Fatalf("Get begun after %s returned = %q, %v; want the new row", how, later, err)
			}
			close(src.release)
			if v := <-first; v != "old" {
				t.Errorf("the Get begun before %s = %q; want the old row it read", how, v)
			}
			if n := src.loads.Load(); n != 2 {
				t.Errorf("%d loads; want 2", n)
			}
			if v, err := a.Get(ctx, "k", loader); err != nil || v != "new" {
				t.Errorf("after both, Get = %q, %v; want new (the old load's write-back refused)", v, err)
			}
		})
	}
}
