package xfetch

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard"
)

// Recompute is one call of the source: the recompute of a value.
type Recompute struct {
	Instance   int           // the instance that ran it, from 0
	Start, End time.Duration // since the phase began
	// Lead is, for an early refresh, how long the entry it replaced had
	// left to live when it began; 0 for a recompute after expiry.
	Lead time.Duration
}

// source is the slow source of truth of one phase: each recompute sleeps
// delta and returns a new value. It counts the recomputes and how many run
// at once (an atomic gauge), and logs when each ran.
type source struct {
	delta   time.Duration
	ttl     time.Duration          // how long the values it gives stay fresh
	loaders []hoard.Loader[string] // hoard's loader, one per instance

	// Set before the readers start, read-only after.
	start  time.Time
	warmup time.Duration

	seq        atomic.Int64
	running    atomic.Int64 // the gauge: recomputes running now
	maxRunning atomic.Int64 // its highest value after the warm-up

	mu  sync.Mutex
	log []Recompute // guarded by mu
}

// newSource returns a source for instances instances whose recomputes take
// delta and give values fresh for ttl.
func newSource(delta, ttl time.Duration, instances int) *source {
	s := &source{delta: delta, ttl: ttl}
	for i := range instances {
		s.loaders = append(s.loaders, hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
			return s.hoardLoad(ctx, i), nil
		}))
	}
	return s
}

// begin sets the phase's start and the warm-up the max gauge ignores.
func (s *source) begin(start time.Time, warmup time.Duration) {
	s.start, s.warmup = start, warmup
}

// compute is one recompute by instance: it takes delta and returns a new
// value.
func (s *source) compute(instance int, lead time.Duration) string {
	begin := time.Now()
	n := s.running.Add(1)
	if begin.Sub(s.start) >= s.warmup {
		for {
			m := s.maxRunning.Load()
			if n <= m || s.maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
	}
	time.Sleep(s.delta)
	s.running.Add(-1)
	end := time.Now()
	s.mu.Lock()
	s.log = append(s.log, Recompute{Instance: instance, Start: begin.Sub(s.start), End: end.Sub(s.start), Lead: lead})
	s.mu.Unlock()
	return "value-" + strconv.FormatInt(s.seq.Add(1), 10)
}

// hoardLoad is the load of hoard's strategies by instance. It sets the
// value's TTL and, for a refresh of an entry still fresh, notes how early
// it runs.
func (s *source) hoardLoad(ctx context.Context, instance int) string {
	hoard.SetTTL(ctx, s.ttl)
	var lead time.Duration
	if prev, ok := hoard.PreviousEntry[string](ctx); ok {
		lead = max(time.Until(prev.ExpiresAt), 0)
	}
	return s.compute(instance, lead)
}

// recomputes returns the log sorted by start.
func (s *source) recomputes() []Recompute {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.log)
	slices.SortFunc(out, func(a, b Recompute) int { return cmp.Compare(a.Start, b.Start) })
	return out
}
