package memory

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard"
)

// A cache with expiry reads its clock on every access, and on the virtual
// machines services run on a read of the system clock (rdtsc, trapped or
// not) is 20-40 ns: as much as the rest of a hit from otter. So by default
// the memory tier reads the time once per Options.ExpiryResolution, in one
// goroutine shared by every cache of the process with that resolution, and
// otter reads that reading: an atomic load. otter's CoarseClock does the
// same for otter's own time; this one reads hoard.SystemClock, which the
// tier's expiry must agree with (see otterClock).

// defaultExpiryResolution is Options.ExpiryResolution's default.
const defaultExpiryResolution = time.Millisecond

// coarseClock is hoard.SystemClock, in Unix ns, as of its ticker's last
// reading; with its own systemClock for Tick and for the reads the ticker
// cannot answer.
type coarseClock struct {
	systemClock
	ticker *coarseTicker
}

// NowNano returns the ticker's last reading, or reads the clock when the
// ticker has none.
func (c *coarseClock) NowNano() int64 {
	if now := c.ticker.now.Load(); now != 0 {
		return now
	}
	return c.systemClock.NowNano()
}

// stop stops the clock's Tick and gives up its share of the ticker.
func (c *coarseClock) stop() {
	c.systemClock.stop()
	c.ticker.release()
}

// coarseTicker reads hoard.SystemClock once per resolution while some
// cache uses it.
type coarseTicker struct {
	resolution time.Duration
	now        atomic.Int64 // the last reading in Unix ns; 0 while none is current
	users      int          // guarded by coarseTickers.mu
	stopping   chan struct{}
	done       chan struct{}
}

// coarseTickers are the tickers running, by resolution.
var coarseTickers struct {
	mu      sync.Mutex
	running map[time.Duration]*coarseTicker
}

// newCoarseClock returns a clock read once per resolution, sharing the
// ticker of that resolution with the other caches that use one.
func newCoarseClock(resolution time.Duration) *coarseClock {
	coarseTickers.mu.Lock()
	defer coarseTickers.mu.Unlock()
	t := coarseTickers.running[resolution]
	if t == nil {
		t = &coarseTicker{resolution: resolution, stopping: make(chan struct{}), done: make(chan struct{})}
		t.now.Store(hoard.SystemClock{}.Now().UnixNano())
		if coarseTickers.running == nil {
			coarseTickers.running = make(map[time.Duration]*coarseTicker)
		}
		coarseTickers.running[resolution] = t
		go t.run()
	}
	t.users++
	return &coarseClock{ticker: t}
}

func (t *coarseTicker) run() {
	defer close(t.done)
	tick := time.NewTicker(t.resolution)
	defer tick.Stop()
	for {
		select {
		case <-t.stopping:
			return
		case <-tick.C:
			t.now.Store(hoard.SystemClock{}.Now().UnixNano())
		}
	}
}

// release gives up a cache's share of t, stopping it after the last: the
// goroutine has returned when release does.
func (t *coarseTicker) release() {
	coarseTickers.mu.Lock()
	t.users--
	last := t.users == 0
	if last {
		delete(coarseTickers.running, t.resolution)
	}
	coarseTickers.mu.Unlock()
	if last {
		close(t.stopping)
		<-t.done
		t.now.Store(0) // a cache read after Close reads the clock itself
	}
}
