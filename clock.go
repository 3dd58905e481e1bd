package hoard

import (
	"sync/atomic"
	"time"
)

// Clock tells the time. Caches and patterns take one in their options so that
// tests move time forward instead of sleeping; hoardtest.FakeClock is one.
type Clock interface {
	Now() time.Time
}

// SystemClock is the [Clock] of the machine.
//
// Every cache read asks the time, and time.Now reads two clocks (wall and
// monotonic), which on some virtual machines costs more than the rest of a
// memory hit. SystemClock reads only the monotonic clock, offset from a
// time.Now it takes again whenever the last one is a second old: it follows
// the wall clock to within a second's drift, and any step of the wall clock
// (NTP) within a second.
type SystemClock struct{}

// clockBase is the last time.Now the SystemClock took, monotonic reading
// included.
var clockBase atomic.Pointer[time.Time]

// Now returns the current time.
func (SystemClock) Now() time.Time {
	if b := clockBase.Load(); b != nil {
		if d := time.Since(*b); d >= 0 && d < time.Second {
			return b.Add(d)
		}
	}
	now := time.Now()
	clockBase.Store(&now)
	return now
}

// clockOrSystem returns c, or [SystemClock] when c is nil.
func clockOrSystem(c Clock) Clock {
	if c == nil {
		return SystemClock{}
	}
	return c
}
