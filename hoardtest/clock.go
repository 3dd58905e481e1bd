package hoardtest

import (
	"sync"
	"time"
)

// FakeClock is a [hoard.Clock] that moves only when told to, so tests of
// expiry, refresh and fail-safe advance time instead of sleeping. The zero
// FakeClock starts at the Unix epoch; [NewFakeClock] starts at a given time.
// It is safe for concurrent use.
//
// It also satisfies otter's clock (NowNano and Tick), so the memory backend
// can hand it to otter and both agree on the time.
type FakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

// NewFakeClock returns a FakeClock reading start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start}
}

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = time.Unix(0, 0)
	}
	return c.now
}

// NowNano returns Now as Unix nanoseconds.
func (c *FakeClock) NowNano() int64 { return c.Now().UnixNano() }

// Tick returns nil: a fake clock never ticks, so nothing runs periodically
// behind a test's back.
func (c *FakeClock) Tick(time.Duration) <-chan time.Time { return nil }

// Advance moves the clock forward by d and returns the new time.
func (c *FakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = time.Unix(0, 0)
	}
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
