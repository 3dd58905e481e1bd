package hoard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// Without a fail-safe window Expire is Delete (its doc): no tier keeps the
// value. The memory tier's copy carries a StaleUntil all the same (the
// shared tier's expiry, kept past MemoryTTL), and Expire kept it there as
// an expired entry; found by the combination test (long run, seed
// 1796593827390248489), where a SharedBudget then served it stale.
func TestExpireWithoutFailSafeKeepsNothing(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour, MemoryTTL: time.Minute, Jitter: -1})
	t.Cleanup(func() { _ = r.aside.Close(ctx) })
	if _, err := r.aside.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "one", nil })); err != nil {
		t.Fatal(err)
	}
	if err := r.aside.Expire(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	key := r.aside.Key("1")
	for name, c := range map[string]hoard.Cache[string]{"memory": r.memory, "shared": r.shared} {
		if e, err := c.Get(ctx, key); !errors.Is(err, hoard.ErrNotFound) {
			t.Errorf("%s tier after Expire without a fail-safe window = %+v, %v; want nothing (Expire is Delete)", name, e, err)
		}
	}
}
