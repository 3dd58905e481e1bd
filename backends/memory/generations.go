package memory

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/hoard-cache/hoard"
)

// stripeCount is how many generation counters a cache keeps. Keys share
// them by hash, so memory stays fixed however many keys pass through; two
// keys on one stripe only cost a refused CompareAndSet now and then.
const stripeCount = 1024

// stripe is one generation counter with the lock that orders the writes of
// its keys. gen changes only under mu; readers load it without the lock.
type stripe struct {
	mu  sync.Mutex
	gen atomic.Uint64
	_   [48]byte // keep stripes on separate cache lines
}

// generations are the tokens of the stale-set protection: every write of a
// key bumps its stripe, and CompareAndSet stores only if the stripe has not
// moved since the token was read.
type generations struct {
	seed    maphash.Seed
	stripes [stripeCount]stripe
}

func newGenerations() *generations {
	return &generations{seed: maphash.MakeSeed()}
}

func (g *generations) stripe(key string) *stripe {
	return &g.stripes[g.index(key)]
}

// index is the number of key's stripe.
func (g *generations) index(key string) int {
	return int(maphash.String(g.seed, key) % stripeCount)
}

// token is the current generation of key's stripe.
func (g *generations) token(key string) hoard.Token {
	return hoard.Token(g.stripe(key).gen.Load())
}

// lock locks and returns key's stripe.
func (g *generations) lock(key string) *stripe {
	s := g.stripe(key)
	s.mu.Lock()
	return s
}

// lockAll locks every stripe, in order, and bumps each generation: what
// happens until unlockAll invalidates every token taken before.
func (g *generations) lockAll() {
	for i := range g.stripes {
		g.stripes[i].mu.Lock()
		g.stripes[i].gen.Add(1)
	}
}

func (g *generations) unlockAll() {
	for i := range g.stripes {
		g.stripes[i].mu.Unlock()
	}
}
