package memory_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// jumpClock is a hoard.Clock that reads a set time, and can be armed to
// jump forward right after its next read: what happens to a real clock
// between two reads of it.
type jumpClock struct {
	mu   sync.Mutex // guards now and jump
	now  time.Time
	jump time.Duration
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now, c.jump = c.now.Add(c.jump), 0
	return t
}

// jumpAfterNextRead makes the read after the next one d later.
func (c *jumpClock) jumpAfterNextRead(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jump = d
}

func (c *jumpClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// An entry whose KeepUntil passes between the cache's check of it and
// otter's own read of the clock must expire at once, not live for ever:
// otter takes a lifetime of 0 or less as "keep the current deadline",
// which for a new entry is none.
func TestEntryExpiringDuringSetIsNotImmortal(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	clock := &jumpClock{now: start}
	c, err := memory.New(&memory.Options[int]{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	// The cache reads start (the entry is kept); otter's next read is
	// start+1ms, the entry's KeepUntil.
	clock.jumpAfterNextRead(time.Millisecond)
	if err := c.Set(ctx, "k", hoard.Entry[int]{Value: 1, ExpiresAt: start.Add(time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	clock.set(start.Add(time.Hour))
	if e, err := c.Get(ctx, "k"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Get an hour past KeepUntil = %v, %v; want ErrNotFound", e.Value, err)
	}
}

// The same entry is not served while the clock stands still at the time
// otter stored it: a lifetime of 1ns from a clock that does not move (a
// test's fake clock) would keep it, past its KeepUntil, until the clock's
// next move.
func TestEntryExpiringDuringSetIsNotServedUnderAStillClock(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	clock := &jumpClock{now: start}
	c, err := memory.New(&memory.Options[int]{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	clock.jumpAfterNextRead(time.Millisecond)
	if err := c.Set(ctx, "k", hoard.Entry[int]{Value: 1, ExpiresAt: start.Add(time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Get(ctx, "k"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Get at KeepUntil, the clock still since the Set = %v, %v; want ErrNotFound", e.Value, err)
	}
}

// KeepUntil far in the future (a fail-safe of math.MaxInt64, a date past
// 2262 that int64 nanoseconds cannot hold) keeps the entry: its lifetime
// saturates, it never wraps around into a short one or a past one.
func TestFarFutureKeepUntilIsKept(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	// 2^64 ns on: UnixNano wraps around to start+1min.
	wraps := start.Add(math.MaxInt64).Add(math.MaxInt64).Add(2).Add(time.Minute)
	for name, keep := range map[string]time.Time{
		"2^64ns + 1min on":   wraps,
		"year 2500":          time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC),
		"year 9999":          time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
		"MaxInt64 fail-safe": start.Add(math.MaxInt64),
	} {
		t.Run(name, func(t *testing.T) {
			clock := hoardtest.NewFakeClock(start)
			c, err := memory.New(&memory.Options[int]{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			e := hoard.Entry[int]{Value: 1, ExpiresAt: start.Add(time.Second), StaleUntil: keep}
			if err := c.Set(ctx, "k", e); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Hour)
			if _, err := c.Get(ctx, "k"); err != nil {
				t.Fatalf("Get an hour on, KeepUntil %v: %v; want the entry", keep, err)
			}
		})
	}
}

// With the system clock, otter's periodic clean-up drops expired entries
// that nobody reads, and Close stops it (TestMain checks for leaks).
func TestSystemClockCleansUpExpired(t *testing.T) {
	c, err := memory.New(&memory.Options[int]{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := hoard.Entry[int]{Value: 1, ExpiresAt: hoard.SystemClock{}.Now().Add(time.Millisecond)}
	if err := c.Set(context.Background(), "k", e); err != nil {
		t.Fatal(err)
	}
	// otter cleans up once a second; wait for it, without reading the key.
	deadline := time.Now().Add(30 * time.Second)
	for c.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the expired entry was not cleaned up in 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
