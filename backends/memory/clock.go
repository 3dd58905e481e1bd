package memory

import (
	"sync"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/hoard-cache/hoard"
)

// otterClock gives otter the cache's clock, so that the cache, otter and
// whatever reads the same hoard.Clock (the Aside in front) agree on when an
// entry expires: the clock itself when it already speaks otter's interface,
// as hoardtest.FakeClock does; for hoard.SystemClock an adapter that reads
// it and ticks (see systemClock); else an adapter that never ticks.
//
// otter's own clock (nil) would not do for the system clock: it is the wall
// clock at the cache's start plus the monotonic time since, so it never
// follows a step of the wall clock, which hoard.SystemClock follows within
// a second. The cache and otter would then disagree on expiry.
func otterClock(c hoard.Clock) otter.Clock {
	switch c := c.(type) {
	case hoard.SystemClock:
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
	mu      sync.Mutex // guards ticker and stopped
	ticker  *time.Ticker
	stopped bool
}

func (*systemClock) NowNano() int64 { return hoard.SystemClock{}.Now().UnixNano() }

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
