package hoard_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// Oversize input through an Aside: an id of a MiB gets a key no longer than
// the KeyBuilder's MaxLen (hashed), so it is cached like any other; a
// value over the tiers' MaxValueBytes is served to the caller but not
// cached, and each refusal is counted as a backend error of its tier
// (both tiers refuse it with ErrTooLarge: see the backends' tests).
func TestBadInputAsideOversize(t *testing.T) {
	const limit = 1 << 10
	mr, client := redistest.Miniredis(t)
	shared, err := hoardredis.New[string](client, &hoardredis.Options{MaxValueBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := memory.New(&memory.Options[string]{MaxEntries: 100, MaxValueBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "big", Memory: mem, Shared: shared, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer a.Close(ctx)
	var loads atomic.Int64
	loader := hoard.LoaderFunc[string](func(_ context.Context, id string) (string, error) {
		loads.Add(1)
		if id == "big" {
			return strings.Repeat("v", 4*limit), nil
		}
		return "small", nil
	})

	longID := strings.Repeat("x", 1<<20)
	if k := a.Key(longID); len(k) > 512 || !strings.HasPrefix(k, "big:%H") {
		t.Fatalf("key of a 1 MiB id is %d bytes: %.40q", len(k), k)
	}
	for range 2 {
		if v, err := a.Get(ctx, longID, loader); err != nil || v != "small" {
			t.Fatalf("Get of a 1 MiB id = %q, %v", v, err)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads for two Gets of a 1 MiB id; want 1 (cached under its hashed key)", n)
	}
	for _, k := range mr.Keys() {
		if len(k) > 512 {
			t.Fatalf("a %d-byte key reached Redis", len(k))
		}
	}

	loads.Store(0)
	for range 2 {
		v, err := a.Get(ctx, "big", loader)
		if err != nil || len(v) != 4*limit {
			t.Fatalf("Get of an oversize value = %d bytes, %v; want it served", len(v), err)
		}
	}
	if n := loads.Load(); n != 2 {
		t.Fatalf("%d loads for two Gets of an oversize value; want 2: it must not be cached", n)
	}
	if mr.Exists(a.Key("big")) {
		t.Fatal("the oversize value reached Redis")
	}
	s := a.Metrics().Snapshot()
	if m, r := s.Count(hoard.EventBackendError, hoard.TierMemory), s.Count(hoard.EventBackendError, hoard.TierShared); m != 2 || r != 2 {
		t.Fatalf("backend errors: memory %d, redis %d; want 2 each (one refusal per Get and tier)", m, r)
	}
}

// Durations so long that sums of them would overflow (a FailSafe of
// math.MaxInt64 made every Redis write fail) are refused at construction.
func TestAsideRefusesOverflowingDurations(t *testing.T) {
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mem.Close() }()
	for _, o := range []hoard.AsideOptions[string]{{FailSafe: &hoard.FailSafe{Window: math.MaxInt64}}, {TTL: math.MaxInt64}, {NegativeTTL: math.MaxInt64 - 1}, {Stampede: &hoard.Stampede{Locker: &hoard.LocalLocker{}, LockTTL: math.MaxInt64}}} {
		o.Memory = mem
		_, err := hoard.NewAside(&o)
		if !errors.Is(err, hoard.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "hoard: ") {
			t.Errorf("NewAside(%+v): %v; want a hoard: ErrInvalidOption", o, err)
		}
	}
}
