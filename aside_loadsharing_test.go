package hoard_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// Invalidations that name other keys (of this cache or another one on the
// same bus), and tag invalidations of tags the load does not carry, do not
// break up load sharing: readers of a hot key keep joining its one load.
func TestUnrelatedInvalidationsKeepLoadSharing(t *testing.T) {
	for _, unrelated := range []string{"key of another cache", "key of this cache", "tag", "namespace"} {
		t.Run(unrelated, func(t *testing.T) {
			f := newFleet(t, 2, hoard.AsideOptions[string]{TTL: time.Hour})
			reader, writer := f.instances[0], f.instances[1]
			other := f.instance(t, hoard.AsideOptions[string]{Name: "other", Bus: writer.bus})
			ctx := context.Background()

			var loads atomic.Int64
			started, release := make(chan struct{}), make(chan struct{})
			hot := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
				hoard.SetTags(ctx, "product:hot")
				if loads.Add(1) == 1 {
					close(started)
				}
				<-release
				return "v", nil
			})
			invalidate := func(i int) {
				var err error
				switch unrelated {
				case "key of another cache":
					err = other.aside.Delete(ctx, "x")
				case "key of this cache":
					err = writer.aside.Delete(ctx, "cold")
				case "tag":
					err = writer.inv.InvalidateTags(ctx, "product:cold")
				case "namespace":
					_, err = writer.inv.BumpNamespace(ctx, "elsewhere")
				}
				if err != nil {
					t.Error(err)
				}
			}

			const readers = 20
			var wg sync.WaitGroup
			results := make(chan string, readers)
			read := func() {
				wg.Go(func() {
					v, err := reader.aside.Get(ctx, "hot", hot)
					if err != nil {
						t.Error(err)
					}
					results <- v
				})
			}
			read()
			<-started
			for i := range readers - 1 {
				invalidate(i)
				read()
			}
			// Give a reader that wrongly starts its own load the time to
			// do so; a correct one never loads, however long this is.
			deadline := time.Now().Add(200 * time.Millisecond)
			for loads.Load() == 1 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			close(release)
			wg.Wait()
			close(results)
			for v := range results {
				if v != "v" {
					t.Fatalf("a reader got %q", v)
				}
			}
			if n := loads.Load(); n != 1 {
				t.Fatalf("%d loads for %d readers of one key with unrelated invalidations (%s) between them; want 1", n, readers, unrelated)
			}
		})
	}
}
