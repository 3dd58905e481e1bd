package memory

import (
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/hoard-cache/hoard"
)

// otterClock gives otter the cache's clock: nil (otter's own, fast, reading
// the system time) for the system clock; the clock itself when it already
// speaks otter's interface, as hoardtest.FakeClock does; else an adapter.
func otterClock(c hoard.Clock) otter.Clock {
	switch c := c.(type) {
	case hoard.SystemClock:
		return nil
	case otter.Clock:
		return c
	default:
		return clockAdapter{c}
	}
}

// clockAdapter makes a hoard.Clock an otter.Clock that never ticks: entries
// then expire when read, not by a periodic clean-up.
type clockAdapter struct{ hoard.Clock }

func (a clockAdapter) NowNano() int64 { return a.Now().UnixNano() }

func (clockAdapter) Tick(time.Duration) <-chan time.Time { return nil }
