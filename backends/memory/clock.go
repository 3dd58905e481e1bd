package memory

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/hoard-cache/hoard"
)

// otterClock gives otter the cache's clock, so that the cache, otter and
// whatever reads the same hoard.Clock (the Aside in front) agree on when an
// entry expires: the clock itself when it already speaks otter's interface,
// as hoardtest.FakeClock does; for hoard.SystemClock an adapter that reads
// it once per resolution (see coarseClock), or on every access when
// resolution is not positive (see systemClock); else an adapter that never
// ticks.
//
// otter's own clock (nil) would not do for the system clock: it is the wall
// clock at the cache's start plus the monotonic time since, so it never
// follows a step of the wall clock, which hoard.SystemClock follows within
// a second. The cache and otter would then disagree on expiry.
func otterClock(c hoard.Clock, resolution time.Duration) otter.Clock {
	switch c := c.(type) {
	case hoard.SystemClock:
		if resolution > 0 {
			return newCoarseClock(resolution)
		}
		return &systemClock{}
	case otter.Clock:
		return c
	default:
		return clockAdapter{c}
	}
}

// stopClock stops what otterClock started for c.
func stopClock(c otter.Clock) {
	if s, ok := c.(interface{ stop() }); ok {
		s.stop()
	}
}

// systemClock is hoard.SystemClock as an otter.Clock. Its ticks, which
// drive otter's periodic clean-up of expired entries, come from a
// time.Ticker, as those of otter's own clock do. otter cannot stop the
// ticker of a clock it was given, so stop (from Cache.Close) does.
type systemClock struct {
	// base is the last reading of hoard.SystemClock (see NowNano).
	base atomic.Pointer[clockReading]

	mu      sync.Mutex // guards ticker and stopped
	ticker  *time.Ticker
	stopped bool
}

// clockReading is a reading of hoard.SystemClock, with its monotonic
// clock reading, and in Unix ns.
type clockReading struct {
	at   time.Time
	nano int64
}

// systemClockRefresh is how often NowNano reads hoard.SystemClock itself.
const systemClockRefresh = time.Millisecond

// NowNano returns hoard.SystemClock's time in Unix ns. otter reads its
// clock on every hit, and reading hoard.SystemClock there (its Time
// arithmetic, then UnixNano) made a hit about 9% slower than with otter's
// own clock. So NowNano reads hoard.SystemClock once per
// systemClockRefresh and adds the monotonic time since the reading. That
// is the very time hoard.SystemClock gives (its base plus the monotonic
// time since), except in the first systemClockRefresh after
// hoard.SystemClock takes a new base (at most once a second): then the two
// differ by what the wall clock drifted or stepped in that second.
func (c *systemClock) NowNano() int64 {
	if b := c.base.Load(); b != nil {
		if d := time.Since(b.at); d >= 0 && d < systemClockRefresh {
			return b.nano + int64(d)
		}
	}
	now := hoard.SystemClock{}.Now()
	r := &clockReading{at: now, nano: now.UnixNano()}
	c.base.Store(r)
	return r.nano
}

// Tick returns the ticks of the clock's ticker, started on the first call;
// nil once the clock is stopped.
func (c *systemClock) Tick(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	if c.ticker == nil {
		c.ticker = time.NewTicker(d)
	}
	return c.ticker.C
}

func (c *systemClock) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.ticker != nil {
		c.ticker.Stop()
	}
}

// clockAdapter makes a hoard.Clock an otter.Clock that never ticks: entries
// then expire when read, not by a periodic clean-up.
type clockAdapter struct{ hoard.Clock }

func (a clockAdapter) NowNano() int64 { return a.Now().UnixNano() }

func (clockAdapter) Tick(time.Duration) <-chan time.Time { return nil }
