package memory

import (
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// With the system clock, otter must read hoard.SystemClock, the clock the
// cache (and the Aside in front of it) reads: otter's own clock is the
// wall clock at its start plus the monotonic time since, which never
// follows a step of the wall clock, so after a step the two would disagree
// on whether an entry has expired.
func TestOtterReadsSystemClock(t *testing.T) {
	oc := otterClock(hoard.SystemClock{})
	if oc == nil {
		t.Fatal("otterClock(SystemClock) = nil: otter reads a clock of its own")
	}
	defer stopClock(oc)
	before := hoard.SystemClock{}.Now().UnixNano()
	got := oc.NowNano()
	after := hoard.SystemClock{}.Now().UnixNano()
	if got < before || got > after {
		t.Errorf("NowNano = %d; want it between the SystemClock's reads %d and %d", got, before, after)
	}
}

// The system clock's ticks drive otter's periodic clean-up; stopping the
// clock (Close does) stops its ticker, and a Tick after that gives none.
func TestSystemClockTicksUntilStopped(t *testing.T) {
	oc := otterClock(hoard.SystemClock{})
	if oc == nil {
		t.Fatal("otterClock(SystemClock) = nil: otter reads a clock of its own")
	}
	tick := oc.Tick(time.Millisecond)
	if tick == nil {
		t.Fatal("Tick = nil: no periodic clean-up")
	}
	select {
	case <-tick:
	case <-time.After(10 * time.Second):
		t.Fatal("no tick in 10s")
	}
	stopClock(oc)
	if tick := oc.Tick(time.Millisecond); tick != nil {
		t.Error("Tick after the clock was stopped gives ticks")
	}
}
