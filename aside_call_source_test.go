package hoard_test

import (
	"context"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// GetWith sets CallOptions.Source on every answer, also when it joined a
// load that began before a tag invalidation and then took that load's
// value from the tiers (the "older" path of Aside.get). Found by the
// combination test (long run, seed 1796592957621608019 and five more in
// 3 minutes): a value with a nil error and Source left as the caller set
// it.
func TestGetWithSourceAfterJoiningAnOlderLoad(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	clockTier, err := memory.New(&memory.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = clockTier.Close() })
	inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: clockTier, TagClock: clockTier})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inv.Close() })
	r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour, Jitter: -1, Invalidator: inv})
	t.Cleanup(func() { _ = r.aside.Close(ctx) })

	// A first Get's load runs, tagged "row:1".
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := r.aside.Get(ctx, "1", hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
			hoard.SetTags(ctx, "row:1")
			close(started)
			<-release
			return "one", nil
		}))
		first <- err
	}()
	<-started
	// An unrelated tag invalidation returns while it runs: a Get that
	// joins the load now takes its value from the tiers, where it is only
	// if still valid.
	if err := inv.InvalidateTags(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	const unset hoard.Source = 99
	src := unset
	second := make(chan error, 1)
	var v string
	go func() {
		var err error
		v, err = r.aside.GetWith(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
			return "one", nil
		}), &hoard.CallOptions{Source: &src})
		second <- err
	}()
	hoard.WaitForLoadWaiters(t, r.aside, "1", 2) // the second joined the load
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil || v != "one" {
		t.Fatalf("GetWith = %q, %v; want one", v, err)
	}
	if src == unset || src == hoard.SourceNone {
		t.Fatalf("GetWith answered %q with a nil error and Source %d (%v): it must say what answered", v, src, src)
	}
}
