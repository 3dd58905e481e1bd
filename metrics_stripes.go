package hoard

import (
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Hits are the one event a cache counts on nearly every call, from every
// core at once. One atomic counter for them is one cache line that the
// cores take from each other on every hit: measured, it doubled the cost
// of a parallel hit from the memory tier (issue 15). So hits and negative
// hits are counted in stripes, one cache line each. A goroutine counts in
// the stripe its stack's address picks (see stackStripe): the same one
// call after call, and goroutines running at the same time mostly pick
// different ones, with nothing to fetch from a pool. When the stripe turns
// out contended (a failed compare-and-swap) the count goes to a stripe
// drawn at random, as java.util.concurrent.atomic.LongAdder's probe moves.
// Snapshot adds the stripes up.

// hotStripe is one share of the hit counts, alone on its cache line.
type hotStripe struct {
	hits     [tierCount]atomic.Int64
	negative [tierCount]atomic.Int64
	_        [64 - 2*tierCount*8]byte
}

// maxHotStripes bounds the stripes of one Metrics (64 bytes each).
const maxHotStripes = 64

// stripesPerProc is how many stripes a Metrics has per P: with more
// stripes than goroutines running at once, two of them rarely share one,
// since a goroutine's stripe does not move for good when contended.
const stripesPerProc = 4

// newHotStripes returns stripesPerProc stripes per GOMAXPROCS, rounded
// up to a power of two and at most maxHotStripes.
func newHotStripes() []hotStripe {
	n := 1
	for n < stripesPerProc*runtime.GOMAXPROCS(0) && n < maxHotStripes {
		n *= 2
	}
	return make([]hotStripe, n)
}

// stackStripe is a number that picks the calling goroutine's stripe: a
// hash of its stack's address, which is the goroutine's own while it runs
// (goroutines running at once have different stacks) and stays the same
// from call to call unless the stack moves. Bits below 2 KiB, which tell
// call depths apart rather than goroutines, are dropped.
func stackStripe() uint32 {
	var here byte
	return uint32((uint64(uintptr(unsafe.Pointer(&here))>>11) * 0x9e3779b97f4a7c15) >> 32)
}

// isHot reports whether ev at tier is counted in the stripes.
func isHot(ev Event, tier Tier) bool {
	return (ev == EventHit || ev == EventNegativeHit) && tier < tierCount
}

// addHot counts n events ev (a hit or a negative hit) at tier in the
// calling goroutine's stripe, or in one drawn at random when that one is
// contended. m is not nil and ev, tier are in range.
func (m *Metrics) addHot(ev Event, tier Tier, n int64) {
	if len(m.stripes) == 0 { // a Metrics not made by NewMetrics
		m.counts[ev][tier].Add(n)
		return
	}
	c := m.hotCounter(ev, tier, stackStripe())
	if old := c.Load(); !c.CompareAndSwap(old, old+n) {
		m.hotCounter(ev, tier, rand.Uint32()).Add(n) // contended: see hotStripe
	}
}

func (m *Metrics) hotCounter(ev Event, tier Tier, stripe uint32) *atomic.Int64 {
	s := &m.stripes[stripe&uint32(len(m.stripes)-1)]
	if ev == EventHit {
		return &s.hits[tier]
	}
	return &s.negative[tier]
}

// hitHere counts a hit (ev: EventHit or EventNegativeHit) at tier and
// tells the recorder: Add for the hit path, without Add's checks.
func (m *Metrics) hitHere(ev Event, tier Tier) {
	if m == nil {
		return
	}
	m.addHot(ev, tier, 1)
	if m.recorder != nil {
		m.recorder.Add(m.name, ev, tier, 1)
	}
}

// hotCount adds up the stripes' count of ev at tier.
func (m *Metrics) hotCount(ev Event, tier Tier) int64 {
	var n int64
	for i := range m.stripes {
		n += m.hotCounter(ev, tier, uint32(i)).Load()
	}
	return n
}

// hitsOn counts hits fresh hits and negative negative hits at tier, as
// hitHere does one.
func (m *Metrics) hitsOn(tier Tier, hits, negative int) {
	if m == nil {
		return
	}
	for _, c := range [...]struct {
		ev Event
		n  int
	}{{EventHit, hits}, {EventNegativeHit, negative}} {
		if c.n > 0 {
			m.addHot(c.ev, tier, int64(c.n))
			if m.recorder != nil {
				m.recorder.Add(m.name, c.ev, tier, int64(c.n))
			}
		}
	}
}
