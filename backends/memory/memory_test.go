package memory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	hoardtest.TestCache(t, func(t *testing.T) hoardtest.Subject {
		clock := hoardtest.NewFakeClock(time.Now())
		c, err := memory.New(&memory.Options[hoardtest.Item]{
			MaxEntries:    1000,
			MaxValueBytes: 4096,
			Clock:         clock,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return hoardtest.Subject{Cache: c, Clock: clock, Advance: func(d time.Duration) { clock.Advance(d) }, MaxValueBytes: 4096}
	})
}

func TestConformanceSystemClock(t *testing.T) {
	hoardtest.TestCache(t, func(t *testing.T) hoardtest.Subject {
		c, err := memory.New(&memory.Options[hoardtest.Item]{MaxBytes: 1 << 20, MaxEntries: 1000})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return hoardtest.Subject{Cache: c, MaxValueBytes: 1 << 20}
	})
}

// A cache an Aside owns (its first call was GetID) stores that Aside's
// keys without their prefix, and every other key under a NUL: the suite
// runs once with its keys owned ("hoardtest:..." under the owner
// "hoardtest") and once with none owned (the owner "other"), MaxBytes on,
// so that the weights of both forms are checked too.
func TestConformanceOwned(t *testing.T) {
	for _, owner := range []string{"hoardtest", "other"} {
		t.Run("owner="+owner, func(t *testing.T) {
			hoardtest.TestCache(t, func(t *testing.T) hoardtest.Subject {
				clock := hoardtest.NewFakeClock(time.Now())
				c, err := memory.New(&memory.Options[hoardtest.Item]{MaxEntries: 1000, MaxBytes: 1 << 20, MaxValueBytes: 4096, Clock: clock})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				kb, err := hoard.NewKeyBuilder(owner, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.GetID(context.Background(), hoard.IDKey{Keys: &kb, ID: "claim"}); !errors.Is(err, hoard.ErrNotFound) {
					t.Fatalf("GetID on an empty cache: %v", err)
				}
				return hoardtest.Subject{Cache: c, Clock: clock, Advance: func(d time.Duration) { clock.Advance(d) }, MaxValueBytes: 4096}
			})
		})
	}
}
