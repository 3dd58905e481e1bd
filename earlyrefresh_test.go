package hoard_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// draws is a Rand whose value a test sets: 0 gives u = 1 (never early),
// values near 1 give u near 0 (as eager as can be).
// It counts the draws made.
type draws struct {
	bits  atomic.Uint64
	count atomic.Int64
}

func (d *draws) set(f float64) { d.bits.Store(uint64(f * (1 << 53))) }
func (d *draws) rand() float64 {
	d.count.Add(1)
	return float64(d.bits.Load()) / (1 << 53)
}

// versioned is a source whose every load takes delta on the fake clock and
// returns the next version.
type versioned struct {
	clock   interface{ Advance(time.Duration) time.Time }
	delta   time.Duration
	mu      sync.Mutex
	version int
	fail    error
	calls   atomic.Int64
	// gate, when set, holds every load until it is closed.
	gate chan struct{}
}

func (s *versioned) Load(ctx context.Context, _ string) (string, error) {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	s.calls.Add(1)
	s.clock.Advance(s.delta)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return "", s.fail
	}
	s.version++
	return "v" + string(rune('0'+s.version)), nil
}

func (s *versioned) failWith(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

func earlyRig(t *testing.T, o hoard.AsideOptions[string]) (*world, *rig, *versioned, *draws) {
	t.Helper()
	w := newWorld(t)
	d := &draws{}
	if o.EarlyRefresh == nil {
		o.EarlyRefresh = &hoard.EarlyRefresh{}
	}
	o.Rand = d.rand
	if o.TTL == 0 {
		o.TTL = time.Minute
	}
	if o.Jitter == 0 {
		o.Jitter = -1
	}
	r := w.instance(t, o)
	return w, r, &versioned{clock: w.clock, delta: time.Second}, d
}

func waitBackground(t *testing.T, a *hoard.Aside[string]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// Near expiry, an eager draw starts one background refresh; the reader
// gets the current value at once, and the refreshed value lands in both
// tiers.
func TestEarlyRefreshInBackground(t *testing.T) {
	w, r, src, d := earlyRig(t, hoard.AsideOptions[string]{})
	ctx := context.Background()
	if v, _ := r.aside.Get(ctx, "k", src); v != "v1" {
		t.Fatalf("first Get = %q", v)
	}
	// Far from expiry even the most eager draw does nothing.
	d.set(1 - 1.0/(1<<53))
	if v, _ := r.aside.Get(ctx, "k", src); v != "v1" || src.calls.Load() != 1 {
		t.Fatalf("far from expiry: %q after %d loads", v, src.calls.Load())
	}
	// 2s before expiry with delta 1s: u = 0.01 fires (-ln 0.01 = 4.6 > 2).
	w.advance(58 * time.Second)
	d.set(0.99)
	if v, err := r.aside.Get(ctx, "k", src); v != "v1" || err != nil {
		t.Fatalf("Get that fires the refresh = %q, %v; want the current v1 at once", v, err)
	}
	waitBackground(t, r.aside)
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("%d loads; want 2 (one background refresh)", n)
	}
	if v, _ := r.aside.Get(ctx, "k", src); v != "v2" {
		t.Fatalf("after the refresh Get = %q; want v2", v)
	}
	if e, err := r.shared.Get(ctx, r.aside.Key("k")); err != nil || e.Value != "v2" {
		t.Fatalf("shared tier holds %q, %v; want v2", e.Value, err)
	}
	s := r.aside.Metrics().Snapshot()
	if s.Total(hoard.EventEarlyRefresh) != 1 || s.Total(hoard.EventMiss) != 1 {
		t.Errorf("early refreshes %d, misses %d; want 1 and 1 (the first load only)",
			s.Total(hoard.EventEarlyRefresh), s.Total(hoard.EventMiss))
	}
}

// A process draws at most EarlyRefreshDraws times per key per delta;
// reads in between keep the last verdict. A negative EarlyRefreshDraws
// draws on every read.
func TestEarlyRefreshDrawsArePaced(t *testing.T) {
	for _, c := range []struct {
		draws     int
		perBurst  int64 // draws made by a burst of 100 reads at one instant
		afterStep int64 // draws by a burst after delta/16
	}{
		{draws: 0, perBurst: 1, afterStep: 1}, // the default, 16 per delta
		{draws: 4, perBurst: 1, afterStep: 0}, // delta/16 < delta/4: still paced
		{draws: -1, perBurst: 100, afterStep: 100},
	} {
		w, r, src, d := earlyRig(t, hoard.AsideOptions[string]{EarlyRefresh: &hoard.EarlyRefresh{Draws: c.draws}})
		ctx := context.Background()
		if _, err := r.aside.Get(ctx, "k", src); err != nil {
			t.Fatal(err)
		}
		// 2s before expiry with delta 1s: within reach of a draw, but a
		// draw of u = 1 never fires.
		w.advance(58 * time.Second)
		d.set(0)
		burst := func() int64 {
			before := d.count.Load()
			for range 100 {
				if v, err := r.aside.Get(ctx, "k", src); v != "v1" || err != nil {
					t.Fatalf("Get = %q, %v", v, err)
				}
			}
			return d.count.Load() - before
		}
		if n := burst(); n != c.perBurst {
			t.Errorf("EarlyRefreshDraws %d: a burst of 100 reads drew %d times; want %d", c.draws, n, c.perBurst)
		}
		w.advance(time.Second / 16)
		if n := burst(); n != c.afterStep {
			t.Errorf("EarlyRefreshDraws %d: after delta/16, a burst drew %d times; want %d", c.draws, n, c.afterStep)
		}
		// A draw that fires still refreshes, once.
		w.advance(time.Second)
		d.set(0.99)
		if v, err := r.aside.Get(ctx, "k", src); v != "v1" || err != nil {
			t.Fatalf("Get that fires the refresh = %q, %v; want the current v1", v, err)
		}
		waitBackground(t, r.aside)
		if n := src.calls.Load(); n != 2 {
			t.Errorf("EarlyRefreshDraws %d: %d loads; want 2 (one refresh)", c.draws, n)
		}
	}
}

// A draw of u = 1 never refreshes before expiry.
func TestEarlyRefreshNeverWithUnitDraw(t *testing.T) {
	w, r, src, d := earlyRig(t, hoard.AsideOptions[string]{})
	ctx := context.Background()
	_, _ = r.aside.Get(ctx, "k", src)
	d.set(0)
	w.advance(59*time.Second + 999*time.Millisecond)
	_, _ = r.aside.Get(ctx, "k", src)
	waitBackground(t, r.aside)
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d loads; want 1", n)
	}
}

// A failed refresh keeps the old value and backs off before trying again.
func TestEarlyRefreshFailureBacksOff(t *testing.T) {
	// TTL 2m, delta 1s, Beta 2: a draw of u = 1e-7 reaches 32s ahead.
	w, r, src, d := earlyRig(t, hoard.AsideOptions[string]{TTL: 2 * time.Minute, EarlyRefresh: &hoard.EarlyRefresh{Beta: 2, Backoff: 5 * time.Second}})
	ctx := context.Background()
	_, _ = r.aside.Get(ctx, "k", src) // written at 1s, expires at 121s
	w.advance(99 * time.Second)       // 100s: 21s left
	src.failWith(errors.New("db down"))
	d.set(1 - 1e-7)
	for range 10 {
		if v, err := r.aside.Get(ctx, "k", src); v != "v1" || err != nil {
			t.Fatalf("Get during failing refreshes = %q, %v; want the old v1", v, err)
		}
		waitBackground(t, r.aside)
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("%d loads; want 2: one failed refresh (ending at 101s), then a 5s backoff", n)
	}
	w.advance(6 * time.Second) // 107s: past the backoff
	_, _ = r.aside.Get(ctx, "k", src)
	waitBackground(t, r.aside)
	if n := src.calls.Load(); n != 3 {
		t.Fatalf("%d loads after the backoff; want 3", n)
	}
	// The second failure (ending at 108s) doubles the backoff to 10s.
	w.advance(6 * time.Second) // 114s: still fresh, still backing off
	_, _ = r.aside.Get(ctx, "k", src)
	waitBackground(t, r.aside)
	if n := src.calls.Load(); n != 3 {
		t.Fatalf("%d loads within the doubled backoff; want 3", n)
	}
}

// A loader may choose its result's TTL.
func TestAdaptiveTTL(t *testing.T) {
	w := newWorld(t)
	r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour, Jitter: -1})
	ctx := context.Background()
	short := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
		hoard.SetTTL(ctx, 5*time.Second)
		return "hot", nil
	})
	if _, err := r.aside.Get(ctx, "k", short); err != nil {
		t.Fatal(err)
	}
	e, err := r.shared.Get(ctx, r.aside.Key("k"))
	if err != nil {
		t.Fatal(err)
	}
	if ttl := e.ExpiresAt.Sub(e.WrittenAt); ttl != 5*time.Second {
		t.Fatalf("TTL = %v; want the loader's 5s", ttl)
	}
	hoard.SetTTL(ctx, time.Second) // outside a load: nothing happens, no panic
}

// A loader that sees the source unchanged since the previous entry keeps
// its value and renews it.
func TestNotModifiedRenews(t *testing.T) {
	w := newWorld(t)
	r := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute, Jitter: -1, FailSafe: &hoard.FailSafe{Window: time.Hour}})
	ctx := context.Background()
	var sawPrevious string
	loads := 0
	conditional := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
		loads++
		if prev, ok := hoard.PreviousEntry[string](ctx); ok {
			sawPrevious = prev.Value
			return "", hoard.ErrNotModified
		}
		return "v1", nil
	})
	if _, err := r.aside.Get(ctx, "k", conditional); err != nil {
		t.Fatal(err)
	}
	w.advance(2 * time.Minute) // expired, still kept for the fail-safe
	v, err := r.aside.Get(ctx, "k", conditional)
	if v != "v1" || err != nil || sawPrevious != "v1" {
		t.Fatalf("Get = %q, %v (loader saw %q); want v1 renewed", v, err, sawPrevious)
	}
	e, _ := r.shared.Get(ctx, r.aside.Key("k"))
	if !e.IsFresh(w.clock.Now()) || e.Value != "v1" {
		t.Fatalf("entry not renewed: %+v", e)
	}
	if n := r.aside.Metrics().Snapshot().Total(hoard.EventLoadError); n != 0 {
		t.Errorf("ErrNotModified counted as %d load errors", n)
	}
	if loads != 2 {
		t.Errorf("%d loads; want 2", loads)
	}
	// Without a previous entry ErrNotModified is the loader's mistake.
	confused := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "", hoard.ErrNotModified })
	if _, err := r.aside.Get(ctx, "other", confused); err == nil || !errors.Is(err, hoard.ErrNotModified) {
		t.Fatalf("ErrNotModified with nothing cached: %v; want an error", err)
	}
}

// With a locker, instances that all decide to refresh early share one
// recompute: the lock holder refreshes, the others skip it, then pick the
// new value up from Redis.
func TestEarlyRefreshDistributed(t *testing.T) {
	w := newWorld(t)
	d := &draws{}
	src := &versioned{clock: w.clock, delta: time.Second}
	var instances []*rig
	for range 4 {
		locker, err := hoardredis.NewLocker(w.redis, &hoardredis.LockerOptions{Prefix: "lock:"})
		if err != nil {
			t.Fatal(err)
		}
		instances = append(instances, w.instance(t, hoard.AsideOptions[string]{
			TTL: time.Minute, Jitter: -1, Stampede: &hoard.Stampede{Locker: locker}, EarlyRefresh: &hoard.EarlyRefresh{}, Rand: d.rand,
		}))
	}
	ctx := context.Background()
	getAll := func(want string) {
		t.Helper()
		// The loads (the background refreshes) wait until every Get of the
		// round returned: a refresh that ended first would reach the other
		// instances through the bus before some of them read, and those
		// would find the new value instead of deciding on the old one.
		gate := make(chan struct{})
		src.mu.Lock()
		src.gate = gate
		src.mu.Unlock()
		var wg sync.WaitGroup
		for _, r := range instances {
			wg.Go(func() {
				if v, err := r.aside.Get(ctx, "k", src); err != nil || (want != "" && v != want) {
					t.Errorf("Get = %q, %v; want %q", v, err, want)
				}
			})
		}
		if want != "" {
			close(gate) // these Gets wait for the load they answer with
		}
		wg.Wait()
		if want == "" {
			close(gate)
		}
		for _, r := range instances {
			waitBackground(t, r.aside)
		}
	}
	getAll("v1")
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d loads to warm 4 instances; want 1", n)
	}
	w.advance(58 * time.Second) // 2s left of 60, delta 1s
	d.set(0.99)                 // u = 0.01 reaches 4.6s ahead: every instance decides to refresh
	getAll("")                  // each gets its current value at once
	getAll("")                  // the ones that skipped find the refreshed value in Redis
	d.set(0)
	getAll("v2")
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("%d loads; want 2: one warm-up, one refresh shared by 4 instances", n)
	}
	var early int64
	for _, r := range instances {
		early += r.aside.Metrics().Snapshot().Total(hoard.EventEarlyRefresh)
	}
	if early < 4 {
		t.Errorf("%d early refreshes started; want every instance to have decided to", early)
	}
}
