package hoard_test

import (
	"context"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// An Expire that returned must keep out the value of a load that began
// before it, on another instance, as a Delete does: found by the
// combination test (seed 2, a write-through's memory write landing after
// an Expire of a key the memory tier did not hold). Expire left a key
// that no tier held, or held already stale, as it was: its token did not
// move, so the older load's compare-and-set still succeeded, and the next
// read got the old value as fresh.
func TestExpireKeepsOutALoadBegunBeforeIt(t *testing.T) {
	for _, held := range []string{"absent", "stale"} {
		for _, change := range []string{"Delete", "Expire"} {
			t.Run(held+"/"+change, func(t *testing.T) { testExpireKeepsOutALoad(t, held, change) })
		}
	}
}

func testExpireKeepsOutALoad(t *testing.T, held, change string) {
	w := newWorld(t)
	ctx := context.Background()
	opts := hoard.AsideOptions[string]{TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour}, Jitter: -1}
	a, b := w.instance(t, opts), w.instance(t, opts)
	t.Cleanup(func() { _ = a.aside.Close(ctx); _ = b.aside.Close(ctx) })
	if held == "stale" {
		if _, err := a.aside.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "older", nil })); err != nil {
			t.Fatal(err)
		}
		w.advance(2 * time.Minute) // stale everywhere, within the fail-safe window
		_ = a.memory.Clear(ctx)
	}
	// B's load reads the database ("old"), and is slow to return.
	read, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := b.aside.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
			close(read)
			<-release
			return "old", nil
		}))
		done <- err
	}()
	<-read
	// The row changes to "new"; A invalidates it.
	var err error
	if change == "Delete" {
		err = a.aside.Delete(ctx, "1")
	} else {
		err = a.aside.Expire(ctx, "1")
	}
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("B's Get: %v", err)
	}
	v, err := a.aside.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "new", nil }))
	if err != nil || v != "new" {
		t.Fatalf("Get after the %s returned = %q, %v; want \"new\": a load begun before the %s wrote its older value after it", change, v, err, change)
	}
}
