package hoard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// A caller that leaves (a client disconnects) cancels a load nobody else
// waits for. That is no failure of the source: the fail-safe must not
// store the stale value as fresh, or the next reader gets it with a nil
// error while the source is healthy.
func TestLeavingCallerDoesNotPinTheStaleValue(t *testing.T) {
	w := newWorld(t)
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour}, Jitter: -1})
	ctx := context.Background()
	get := func(ctx context.Context, v string) (string, error) {
		return a.aside.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return v, nil }))
	}
	if _, err := get(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	w.advance(2 * time.Minute) // stale, within the fail-safe window

	leaving, leave := context.WithCancel(ctx)
	started := make(chan struct{})
	go func() { <-started; leave() }()
	_, err := a.aside.Get(leaving, "1", hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
		close(started)
		<-ctx.Done() // the load is canceled when its only waiter leaves
		return "", ctx.Err()
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Get whose caller left: %v; want context.Canceled", err)
	}
	if v, err := get(ctx, "v2"); v != "v2" || err != nil {
		t.Fatalf("next Get with a healthy source = %q, %v; want v2, nil", v, err)
	}
}

// The same for GetMany: a batch load that ends because its caller left is
// no failing source.
func TestLeavingCallerDoesNotPinStaleBatchValues(t *testing.T) {
	w := newWorld(t)
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour}, Jitter: -1})
	ctx := context.Background()
	load := func(v string) hoard.BatchLoader[string] {
		return hoard.BatchLoaderFunc[string](func(_ context.Context, ids []string) (map[string]string, error) {
			out := map[string]string{}
			for _, id := range ids {
				out[id] = v
			}
			return out, nil
		})
	}
	if _, err := a.aside.GetMany(ctx, []string{"1", "2"}, load("v1")); err != nil {
		t.Fatal(err)
	}
	w.advance(2 * time.Minute)

	leaving, leave := context.WithCancel(ctx)
	_, err := a.aside.GetMany(leaving, []string{"1", "2"}, hoard.BatchLoaderFunc[string](func(ctx context.Context, _ []string) (map[string]string, error) {
		leave()
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("GetMany whose caller left: %v; want context.Canceled", err)
	}
	got, err := a.aside.GetMany(ctx, []string{"1", "2"}, load("v2"))
	if err != nil || got["1"] != "v2" || got["2"] != "v2" {
		t.Fatalf("next GetMany with a healthy source = %v, %v; want v2 for both", got, err)
	}
}

// The fail-safe serves a stale value as fresh for FailSafeThrottle, but
// never past the end of its fail-safe window (StaleUntil).
func TestFailSafeThrottleEndsWithTheWindow(t *testing.T) {
	w := newWorld(t)
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Minute, Throttle: 30 * time.Second}, Jitter: -1})
	ctx := context.Background()
	down := errors.New("database down")
	failing := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "", down })
	if _, err := a.aside.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "v1", nil })); err != nil {
		t.Fatal(err)
	}
	w.advance(time.Minute + 50*time.Second) // 10s of the window left
	if v, err := a.aside.Get(ctx, "1", failing); v != "v1" || !errors.Is(err, hoard.ErrServedStale) {
		t.Fatalf("Get in the window = %q, %v; want stale v1", v, err)
	}
	w.advance(15 * time.Second) // past the window, within the throttle
	if v, err := a.aside.Get(ctx, "1", failing); err == nil {
		t.Fatalf("Get past the fail-safe window = %q, nil; want the loader's error", v)
	}
}
