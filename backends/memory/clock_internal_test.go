package memory

import (
	"runtime"
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
	oc := otterClock(hoard.SystemClock{}, -1)
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
	for _, resolution := range []time.Duration{-1, time.Millisecond} {
		t.Run(resolution.String(), func(t *testing.T) { testTicksUntilStopped(t, resolution) })
	}
}

func testTicksUntilStopped(t *testing.T, resolution time.Duration) {
	oc := otterClock(hoard.SystemClock{}, resolution)
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

// A coarse clock reads hoard.SystemClock's time as of its ticker's last
// reading: never ahead of the clock, moving on as the ticker ticks. The
// caches of one resolution share one ticker, which stops with the last of
// them; a clock read after that reads the time itself.
func TestCoarseClockFollowsSystemClock(t *testing.T) {
	const resolution = 3 * time.Millisecond
	a := otterClock(hoard.SystemClock{}, resolution)
	b := otterClock(hoard.SystemClock{}, resolution)
	ca, cb := a.(*coarseClock), b.(*coarseClock)
	if ca.ticker != cb.ticker {
		t.Fatal("two clocks of one resolution run a ticker each")
	}
	first := a.NowNano()
	if now := (hoard.SystemClock{}).Now().UnixNano(); first > now {
		t.Fatalf("coarse reading %d is ahead of the clock %d", first, now)
	}
	for a.NowNano() == first { // the ticker's next reading
		runtime.Gosched()
	}
	if got, now := b.NowNano(), (hoard.SystemClock{}).Now().UnixNano(); got <= first || got > now {
		t.Fatalf("after a tick the shared reading is %d; want it past %d and not past %d", got, first, now)
	}
	stopClock(a)
	select {
	case <-ca.ticker.done:
		t.Fatal("the ticker stopped while a cache still used it")
	default:
	}
	stopClock(b)
	<-cb.ticker.done // stopped with the last user (and goleak checks it)
	before := hoard.SystemClock{}.Now().UnixNano()
	got := b.NowNano()
	after := hoard.SystemClock{}.Now().UnixNano()
	if got < before || got > after {
		t.Errorf("NowNano after the stop = %d; want a reading of its own between %d and %d", got, before, after)
	}
	c := otterClock(hoard.SystemClock{}, resolution).(*coarseClock)
	defer stopClock(c)
	if c.ticker == ca.ticker {
		t.Error("a clock made after the last stop shares the stopped ticker")
	}
}
