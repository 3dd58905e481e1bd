package hoard_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// Close may run while readers keep starting background refreshes: the
// Aside stays usable after Close, so new background loads may begin during
// a Close and after it. Close must neither race them nor panic
// ("WaitGroup is reused before previous Wait has returned").
func TestCloseRacesBackgroundRefreshes(t *testing.T) {
	_, r, src, d := earlyRig(t, hoard.AsideOptions[string]{EarlyRefresh: &hoard.EarlyRefresh{Draws: -1}})
	d.set(0.999999) // every draw refreshes: a background load per read
	src.delta = time.Hour
	ctx := context.Background()
	if _, err := r.aside.Get(ctx, "1", src); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = r.aside.Get(ctx, "1", src)
			}
		})
	}
	// Close over and over while the readers start refreshes, until many
	// refreshes ran beside the Closes.
	deadline := time.Now().Add(time.Minute)
	for i := 0; i < 50 || src.calls.Load() < 20; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d loads in a minute: the readers started no background refreshes", src.calls.Load())
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := r.aside.Close(cctx); err != nil {
			cancel()
			t.Fatalf("Close: %v", err)
		}
		cancel()
	}
	close(stop)
	wg.Wait()
	waitBackground(t, r.aside)
}

// A loader that panics in a background refresh has no caller to reach:
// the process goes on, and the panic is counted as a load error.
func TestBackgroundLoadPanicDoesNotCrash(t *testing.T) {
	w, r, src, d := earlyRig(t, hoard.AsideOptions[string]{EarlyRefresh: &hoard.EarlyRefresh{Draws: -1}})
	ctx := context.Background()
	if _, err := r.aside.Get(ctx, "1", src); err != nil {
		t.Fatal(err)
	}
	w.advance(50 * time.Second) // near expiry: within reach of a draw
	d.set(0.999999)             // the next read refreshes in the background
	panicking := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { panic("loader bug") })
	if v, err := r.aside.Get(ctx, "1", panicking); err != nil || v != "v1" {
		t.Fatalf("Get = %q, %v; want the current v1", v, err)
	}
	waitBackground(t, r.aside)
	if n := r.aside.Metrics().Snapshot().Total(hoard.EventLoadError); n != 1 {
		t.Fatalf("%d load errors; want the panic counted once", n)
	}
}
