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
	_, r, src, d := earlyRig(t, hoard.AsideOptions[string]{EarlyRefreshDraws: -1})
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
