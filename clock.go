package hoard

import "time"

// Clock tells the time. Caches and patterns take one in their options so that
// tests move time forward instead of sleeping; hoardtest.FakeClock is one.
type Clock interface {
	Now() time.Time
}

// SystemClock is the [Clock] of the machine: [time.Now].
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ClockOrSystem returns c, or [SystemClock] when c is nil.
func ClockOrSystem(c Clock) Clock {
	if c == nil {
		return SystemClock{}
	}
	return c
}
