package reliability_test

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/hoard-cache/hoard"
)

// countingLoader is one instance's loader of one cache over a store: it
// counts its calls, and the most calls of one key that ran at once, by the
// phase (see readLog) they began in.
type countingLoader struct {
	src   *memStore[string]
	phase *atomic.Int32
	calls atomic.Int64

	mu          sync.Mutex
	running     map[string]int  // guarded by mu: calls of each key running now
	maxParallel [phaseCount]int // guarded by mu: the most calls of one key at once
}

var _ hoard.Loader[string] = (*countingLoader)(nil)

func newCountingLoader(src *memStore[string], phase *atomic.Int32) *countingLoader {
	return &countingLoader{src: src, phase: phase, running: make(map[string]int)}
}

// Load calls the store, counting the call.
func (l *countingLoader) Load(ctx context.Context, id string) (string, error) {
	l.calls.Add(1)
	l.mu.Lock()
	l.running[id]++
	p := l.phase.Load()
	l.maxParallel[p] = max(l.maxParallel[p], l.running[id])
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.running[id]--
		l.mu.Unlock()
	}()
	return l.src.Load(ctx, id)
}

// most returns the most calls of one key that ran at once, counted when
// one began in phase.
func (l *countingLoader) most(phase int32) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.maxParallel[phase]
}
