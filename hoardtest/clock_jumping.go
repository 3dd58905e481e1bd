package hoardtest

import (
	"errors"
	"time"
)

// Fault injection for tests of code built on hoard: [NewFaultyCache] and
// [NewFaultyLocker] wrap a backend and let the test decide, call by call,
// whether it fails, how long it takes, and what else happens while it is
// under way; [Faults] is a ready-made, seeded decider (a backend that is
// down, or fails a share of its calls, or is slow); [JumpingClock] moves a
// [FakeClock] forward in the middle of the code that reads it.

// JumpingClock is a [hoard.Clock] on a [FakeClock] that can jump forward
// while the code under test reads it: after each Now, it advances the
// fake clock by Jump() (when positive), so the next read, by the same
// code or another goroutine, sees a later time, as on a machine that
// stalled between two reads. NowNano (otter's clock) reads without
// jumping. Give each component its own JumpingClock on one FakeClock to
// choose where time may jump.
type JumpingClock struct {
	Clock *FakeClock
	// Jump returns how far to move the clock after a read; 0 or less: not
	// at all. nil: never. Called concurrently.
	Jump func() time.Duration
}

// Now returns the fake clock's time, then maybe moves the clock on.
func (c *JumpingClock) Now() time.Time {
	t := c.Clock.Now()
	if c.Jump != nil {
		if d := c.Jump(); d > 0 {
			c.Clock.Advance(d)
		}
	}
	return t
}

// NowNano returns the fake clock's time as Unix nanoseconds, without a
// jump.
func (c *JumpingClock) NowNano() int64 { return c.Clock.NowNano() }

// Tick returns nil, as FakeClock's does.
func (c *JumpingClock) Tick(time.Duration) <-chan time.Time { return nil }

// IsInjected reports whether err is, or wraps, an error of a fault
// injected by [Faults].
func IsInjected(err error) bool { return errors.Is(err, ErrInjected) }
