package hoard_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
)

// hvCounter is a FloorCounter on a memory cache that fails while down is
// set, as Redis does when it is unreachable, and counts its calls.
type hvCounter struct {
	mem   *memory.Cache[string]
	down  atomic.Bool
	calls atomic.Int64
}

var errHVDown = errors.New("redis: connection refused (injected)")

func newHVCounter(t *testing.T) *hvCounter {
	t.Helper()
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	return &hvCounter{mem: mem}
}

func (c *hvCounter) IncrBy(ctx context.Context, key string, delta int64) (int64, error) {
	c.calls.Add(1)
	if c.down.Load() {
		return 0, errHVDown
	}
	return c.mem.IncrBy(ctx, key, delta)
}

func (c *hvCounter) IncrAtLeast(ctx context.Context, key string, floor int64) (int64, error) {
	c.calls.Add(1)
	if c.down.Load() {
		return 0, errHVDown
	}
	return c.mem.IncrAtLeast(ctx, key, floor)
}

// hvPlainCounter hides IncrAtLeast: a Counter that is no FloorCounter.
type hvPlainCounter struct{ c *hvCounter }

func (p hvPlainCounter) IncrBy(ctx context.Context, key string, delta int64) (int64, error) {
	return p.c.IncrBy(ctx, key, delta)
}

func newHV(t *testing.T, o hoard.HybridVersionerOptions) *hoard.HybridVersioner {
	t.Helper()
	v, err := hoard.NewHybridVersioner(&o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func nextV(t *testing.T, v hoard.Versioner, id string) uint64 {
	t.Helper()
	n, err := v.NextVersion(context.Background(), id)
	if err != nil {
		t.Fatalf("NextVersion(%q): %v", id, err)
	}
	return n
}

// Without a Counter, versions are the process's clock: the time in µs, or
// one more than the last version when the clock has not moved or stepped
// back, so they strictly increase, also across goroutines.
func TestHybridVersionerClockAlone(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := hoardtest.NewFakeClock(start)
	v := newHV(t, hoard.HybridVersionerOptions{Clock: clock})
	if got := nextV(t, v, "1"); got != uint64(start.UnixMicro()) {
		t.Fatalf("first version %d, want the time in µs %d", got, start.UnixMicro())
	}
	if got := nextV(t, v, "1"); got != uint64(start.UnixMicro())+1 {
		t.Fatalf("second version in the same µs %d, want %d", got, start.UnixMicro()+1)
	}
	clock.Set(start.Add(-time.Hour)) // the clock steps back
	if got := nextV(t, v, "2"); got != uint64(start.UnixMicro())+2 {
		t.Fatalf("version after the clock stepped back %d, want %d", got, start.UnixMicro()+2)
	}
	clock.Set(start.Add(time.Second))
	if got := nextV(t, v, "1"); got != uint64(start.Add(time.Second).UnixMicro()) {
		t.Fatalf("version once the clock moved on %d, want the time", got)
	}
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			last := uint64(0)
			for range 200 {
				n := nextV(t, v, "1")
				if n <= last {
					t.Errorf("version %d after %d", n, last)
				}
				last = n
				mu.Lock()
				if seen[n] {
					t.Errorf("version %d handed out twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if v.Fallbacks() != 0 {
		t.Fatalf("%d fallbacks without a Counter, want 0", v.Fallbacks())
	}
}

// While the Counter answers, it orders the versions of an id across
// processes whatever their clocks: a process whose clock is an hour
// behind still gets a version above the one a process with a fast clock
// took before, and every version is at least its taker's clock.
func TestHybridVersionerCounterOrdersSkewedProcesses(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fast, slow := hoardtest.NewFakeClock(start.Add(time.Hour)), hoardtest.NewFakeClock(start)
	ctr := newHVCounter(t)
	for name, counter := range map[string]hoard.Counter{"floor counter": ctr, "plain counter": hvPlainCounter{ctr}} {
		t.Run(name, func(t *testing.T) {
			a := newHV(t, hoard.HybridVersionerOptions{Counter: counter, Prefix: name + ":", Clock: fast})
			b := newHV(t, hoard.HybridVersionerOptions{Counter: counter, Prefix: name + ":", Clock: slow})
			last := uint64(0)
			for i := range 20 {
				p, clock := a, fast
				if i%2 == 1 {
					p, clock = b, slow
				}
				n := nextV(t, p, "1")
				if n <= last {
					t.Fatalf("write %d got version %d, not above the previous %d", i, n, last)
				}
				if n < uint64(clock.Now().UnixMicro()) {
					t.Fatalf("write %d got version %d, behind its clock %d", i, n, clock.Now().UnixMicro())
				}
				last = n
				fast.Advance(time.Millisecond)
				slow.Advance(time.Millisecond)
			}
			if a.Fallbacks()+b.Fallbacks() != 0 {
				t.Fatalf("fallbacks %d and %d with the counter up", a.Fallbacks(), b.Fallbacks())
			}
		})
	}
}

// The outage: while the Counter fails, versions come from the clock and
// the writes go on; the failure is counted and logged once per Backoff,
// in which the Counter is not asked; once it answers again, its versions
// are above every version taken during the outage, here and in a process
// whose clock has passed them, although the id's counter was made an hour
// before (a counter that only increments would hand out versions the store
// refuses). Both the FloorCounter and the plain Counter paths.
func TestHybridVersionerOutage(t *testing.T) {
	for _, plain := range []bool{false, true} {
		name := "floor counter"
		if plain {
			name = "plain counter"
		}
		t.Run(name, func(t *testing.T) {
			start := time.Now() // the memory counter starts a new counter from the system clock
			clockA, clockB := hoardtest.NewFakeClock(start), hoardtest.NewFakeClock(start)
			ctr := newHVCounter(t)
			var counter hoard.Counter = ctr
			if plain {
				counter = hvPlainCounter{ctr}
			}
			var logs bytes.Buffer
			metrics := hoard.NewMetrics("rows", nil)
			a := newHV(t, hoard.HybridVersionerOptions{Counter: counter, Clock: clockA, Backoff: time.Second,
				Metrics: metrics, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			b := newHV(t, hoard.HybridVersionerOptions{Counter: counter, Clock: clockB, Backoff: time.Second})
			before := nextV(t, a, "1") // the id's counter is made now
			clockA.Advance(time.Hour)
			clockB.Advance(time.Hour)

			ctr.down.Store(true)
			calls := ctr.calls.Load()
			var outage []uint64
			for range 3 {
				outage = append(outage, nextV(t, a, "1"))
				clockA.Advance(100 * time.Millisecond)
			}
			if outage[0] <= before || outage[0] < uint64(start.Add(time.Hour).UnixMicro()) {
				t.Fatalf("outage version %d, want the clock (%d), above %d", outage[0], start.Add(time.Hour).UnixMicro(), before)
			}
			for i := 1; i < len(outage); i++ {
				if outage[i] <= outage[i-1] {
					t.Fatalf("outage versions %v do not increase", outage)
				}
			}
			if got := ctr.calls.Load() - calls; got != 1 {
				t.Fatalf("the counter was asked %d times during its Backoff, want once", got)
			}
			if a.Fallbacks() != 3 {
				t.Fatalf("Fallbacks = %d, want 3", a.Fallbacks())
			}
			if n := metrics.Snapshot().Count(hoard.EventBackendError, hoard.TierShared); n != 1 {
				t.Fatalf("backend errors counted %d, want 1", n)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), errHVDown.Error()) {
				t.Fatalf("log %q, want a warning with the counter's error", logs.String())
			}

			ctr.down.Store(false)
			clockA.Advance(time.Second) // past the Backoff
			clockB.Set(clockA.Now())
			after := nextV(t, a, "1")
			if after <= outage[len(outage)-1] {
				t.Fatalf("version %d after the outage, not above the outage's %v", after, outage)
			}
			if other := nextV(t, b, "1"); other <= after {
				t.Fatalf("the other process got %d after %d", other, after)
			}
			if a.Fallbacks() != 3 {
				t.Fatalf("Fallbacks = %d after recovery, want still 3", a.Fallbacks())
			}
			if !strings.Contains(logs.String(), "level=INFO") {
				t.Fatalf("log %q, want a note that the counter answers again", logs.String())
			}
		})
	}
}

// blockingCounter is a Counter whose calls hang until their ctx ends, as
// on a black-holed Redis.
type blockingCounter struct{}

func (blockingCounter) IncrBy(ctx context.Context, _ string, _ int64) (int64, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

// A counter that hangs costs one Timeout, then the version comes from the
// clock; a caller that leaves gets its ctx error, not a version.
func TestHybridVersionerTimeoutAndCallerCtx(t *testing.T) {
	v := newHV(t, hoard.HybridVersionerOptions{Counter: blockingCounter{}, Timeout: 20 * time.Millisecond})
	if n := nextV(t, v, "1"); n == 0 || v.Fallbacks() != 1 {
		t.Fatalf("version %d with %d fallbacks, want one from the clock", n, v.Fallbacks())
	}
	v = newHV(t, hoard.HybridVersionerOptions{Counter: blockingCounter{}, Timeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := v.NextVersion(ctx, "1"); !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "hoard: ") {
		t.Fatalf("NextVersion past the caller's deadline: %v, want a hoard: error wrapping it", err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.NextVersion(canceled, "1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("NextVersion with a canceled ctx: %v", err)
	}
}

func TestHybridVersionerOptions(t *testing.T) {
	for name, o := range map[string]hoard.HybridVersionerOptions{
		"negative Timeout": {Timeout: -1},
		"negative Backoff": {Backoff: -1},
	} {
		if _, err := hoard.NewHybridVersioner(&o); !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
	v, err := hoard.NewHybridVersioner(nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := nextV(t, v, "1"); n < uint64(time.Now().Add(-time.Minute).UnixMicro()) {
		t.Fatalf("version %d from nil options, want about the time in µs", n)
	}
}
