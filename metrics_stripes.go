package hoard

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// Hits are the one event a cache counts on nearly every call, from every
// core at once. One atomic counter for them is one cache line that the
// cores take from each other on every hit: measured, it doubled the cost
// of a parallel hit from the memory tier (issue 15). So hits and negative
// hits are counted in stripes, one cache line each, and a caller adds to
// the stripe its token names. Tokens come from a sync.Pool, which keeps
// one per P, so the goroutines that run at the same time mostly hold
// different tokens; a token whose stripe turns out contended (a failed
// compare-and-swap) moves to another stripe at random, as
// java.util.concurrent.atomic.LongAdder's probe does. Snapshot adds the
// stripes up.

// hotStripe is one share of the hit counts, alone on its cache line.
type hotStripe struct {
	hits     [tierCount]atomic.Int64
	negative [tierCount]atomic.Int64
	_        [64 - 2*tierCount*8]byte
}

// maxHotStripes bounds the stripes of one Metrics (64 bytes each).
const maxHotStripes = 64

// newHotStripes returns GOMAXPROCS stripes, rounded up to a power of two
// and at most maxHotStripes.
func newHotStripes() []hotStripe {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < maxHotStripes {
		n *= 2
	}
	return make([]hotStripe, n)
}

// stripeToken names a stripe; see hotStripe.
type stripeToken struct{ n uint32 }

var stripeTokens = sync.Pool{New: func() any { return &stripeToken{n: rand.Uint32()} }}

// isHot reports whether ev at tier is counted in the stripes.
func isHot(ev Event, tier Tier) bool {
	return (ev == EventHit || ev == EventNegativeHit) && tier < tierCount
}

// addHot counts n events ev (a hit or a negative hit) at tier in the
// stripe tok names, moving tok to another stripe when that one is
// contended. m is not nil and ev, tier are in range.
func (m *Metrics) addHot(ev Event, tier Tier, n int64, tok *stripeToken) {
	if len(m.stripes) == 0 { // a Metrics not made by NewMetrics
		m.counts[ev][tier].Add(n)
		return
	}
	c := m.hotCounter(ev, tier, tok.n)
	if old := c.Load(); !c.CompareAndSwap(old, old+n) {
		tok.n = rand.Uint32()
		m.hotCounter(ev, tier, tok.n).Add(n)
	}
}

func (m *Metrics) hotCounter(ev Event, tier Tier, tok uint32) *atomic.Int64 {
	s := &m.stripes[tok&uint32(len(m.stripes)-1)]
	if ev == EventHit {
		return &s.hits[tier]
	}
	return &s.negative[tier]
}

// hitOn counts a hit (ev: EventHit or EventNegativeHit) at tier with the
// caller's token, and tells the recorder: Add without the pool, for the
// hit path.
func (m *Metrics) hitOn(ev Event, tier Tier, tok *stripeToken) {
	if m == nil {
		return
	}
	if len(m.stripes) > 0 {
		c := m.hotCounter(ev, tier, tok.n)
		if old := c.Load(); !c.CompareAndSwap(old, old+1) {
			tok.n = rand.Uint32() // contended: see hotStripe
			m.hotCounter(ev, tier, tok.n).Add(1)
		}
	} else {
		m.counts[ev][tier].Add(1)
	}
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
// hitOn does one.
func (m *Metrics) hitsOn(tier Tier, hits, negative int, tok *stripeToken) {
	if m == nil {
		return
	}
	for _, c := range [...]struct {
		ev Event
		n  int
	}{{EventHit, hits}, {EventNegativeHit, negative}} {
		if c.n > 0 {
			m.addHot(c.ev, tier, int64(c.n), tok)
			if m.recorder != nil {
				m.recorder.Add(m.name, c.ev, tier, int64(c.n))
			}
		}
	}
}
