package hoardtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Fault injection for tests of code built on hoard: [NewFaultyCache] and
// [NewFaultyLocker] wrap a backend and let the test decide, call by call,
// whether it fails, how long it takes, and what else happens while it is
// under way; [Faults] is a ready-made, seeded decider (a backend that is
// down, or fails a share of its calls, or is slow); [JumpingClock] moves a
// [FakeClock] forward in the middle of the code that reads it.

// Faults is a ready-made [Injector] that a test turns up and down: a
// backend that is down (every call fails), that fails a share of its
// calls (some of them after the call took effect), or that is slow. Its
// choices come from a seeded generator, so a test that makes its calls in
// one order gets the same faults every run. The zero Faults injects
// nothing; it is safe for concurrent use.
type Faults struct {
	mu        sync.Mutex // guards the fields below
	rng       *rand.Rand
	down      bool
	rate      float64 // share of calls failed
	afterRate float64 // share of the failed write calls that fail after taking effect
	maxDelay  time.Duration
	ops       map[Op]bool // the kinds of calls affected; nil: all
	injected  map[Op]int64
}

// NewFaults returns a Faults whose random choices follow seed.
func NewFaults(seed uint64) *Faults {
	return &Faults{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// SetDown makes every affected call fail (true) or none (false).
func (f *Faults) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// SetErrorRate makes a share p (0 to 1) of the affected calls fail, and a
// share after (0 to 1) of the failed writes fail only after taking effect.
func (f *Faults) SetErrorRate(p, after float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rate, f.afterRate = p, after
}

// SetDelay delays each affected call by a random time up to max.
func (f *Faults) SetDelay(max time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.maxDelay = max
}

// Only limits the faults to calls of the kinds ops; no ops: every kind.
func (f *Faults) Only(ops ...Op) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = nil
	if len(ops) > 0 {
		f.ops = make(map[Op]bool, len(ops))
		for _, op := range ops {
			f.ops[op] = true
		}
	}
}

// Reset turns every fault off.
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.rate, f.afterRate, f.maxDelay, f.ops = false, 0, 0, 0, nil
}

// Injected returns how many faults (failed calls) were injected into calls
// of kind op so far.
func (f *Faults) Injected(op Op) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected[op]
}

// Inject is the [Injector].
func (f *Faults) Inject(_ context.Context, c Call) Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ops != nil && !f.ops[c.Op] {
		return Fault{}
	}
	if f.rng == nil {
		f.rng = rand.New(rand.NewPCG(0, 0))
	}
	var out Fault
	if f.maxDelay > 0 {
		out.Delay = time.Duration(f.rng.Int64N(int64(f.maxDelay) + 1))
	}
	if f.down || (f.rate > 0 && f.rng.Float64() < f.rate) {
		out.Err = fmt.Errorf("%w (%s %v)", ErrInjected, c.Method, c.Keys)
		write := c.Op == OpWrite || c.Op == OpDelete || (c.Op == OpCounter && c.Delta != 0) ||
			c.Method == "InvalidateTags" || c.Method == "TryLock"
		out.After = !f.down && write && f.afterRate > 0 && f.rng.Float64() < f.afterRate
		if f.injected == nil {
			f.injected = make(map[Op]int64)
		}
		f.injected[c.Op]++
	}
	return out
}

// Chain returns an injector that asks each of injectors in turn and
// returns the first fault that fails the call, with the greatest delay
// and every Then of them all (run in order).
func Chain(injectors ...Injector) Injector {
	return func(ctx context.Context, c Call) Fault {
		var out Fault
		var thens []func()
		for _, inj := range injectors {
			if inj == nil {
				continue
			}
			f := inj(ctx, c)
			out.Delay = max(out.Delay, f.Delay)
			if out.Err == nil && f.Err != nil {
				out.Err, out.After = f.Err, f.After
			}
			if f.Then != nil {
				thens = append(thens, f.Then)
			}
		}
		if len(thens) > 0 {
			out.Then = func() {
				for _, fn := range thens {
					fn()
				}
			}
		}
		return out
	}
}
