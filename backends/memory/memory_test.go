package memory_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

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
