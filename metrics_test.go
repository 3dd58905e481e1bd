package hoard

import (
	"sync"
	"testing"
	"time"
)

// recorded is a Recorder that keeps what it is given.
type recorded struct {
	mu     sync.Mutex
	adds   map[string]int64
	loads  []time.Duration
	failed int
	waits  []time.Duration
}

func (r *recorded) Add(cache string, ev Event, tier Tier, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.adds == nil {
		r.adds = map[string]int64{}
	}
	r.adds[cache+"/"+ev.String()+"/"+tier.String()] += n
}

func (r *recorded) ObserveLoad(_ string, d time.Duration, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loads = append(r.loads, d)
	if failed {
		r.failed++
	}
}

func (r *recorded) ObserveLockWait(_ string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
}

func TestMetricsCountAndForward(t *testing.T) {
	rec := &recorded{}
	m := NewMetrics("products", rec)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				m.Hit(TierMemory)
			}
			for range 50 {
				m.Hit(TierShared)
			}
			for range 25 {
				m.Miss()
			}
			m.Add(EventNegativeHit, TierMemory, 25)
		})
	}
	wg.Wait()
	m.ObserveLoad(3*time.Millisecond, false)
	m.ObserveLoad(40*time.Millisecond, true)
	m.ObserveLockWait(2 * time.Millisecond)

	s := m.Snapshot()
	if s.Name != "products" {
		t.Errorf("Name = %q", s.Name)
	}
	for _, c := range []struct {
		ev   Event
		tier Tier
		want int64
	}{
		{EventHit, TierMemory, 400}, {EventHit, TierShared, 200}, {EventMiss, TierNone, 100},
		{EventNegativeHit, TierMemory, 100}, {EventLoad, TierNone, 2}, {EventLoadError, TierNone, 1},
		{EventLockWait, TierNone, 1},
	} {
		if got := s.Count(c.ev, c.tier); got != c.want {
			t.Errorf("Count(%v, %v) = %d; want %d", c.ev, c.tier, got, c.want)
		}
	}
	// 700 reads answered without a load of 800.
	if got, want := s.HitRate(), 700.0/800; got != want {
		t.Errorf("HitRate = %v; want %v", got, want)
	}
	if got, want := s.TierHitRate(TierMemory), 400.0/800; got != want {
		t.Errorf("TierHitRate(memory) = %v; want %v", got, want)
	}
	if got, want := s.TierHitRate(TierShared), 200.0/400; got != want {
		t.Errorf("TierHitRate(redis) = %v; want %v", got, want)
	}
	if rec.adds["products/hit/memory"] != 400 || rec.adds["products/miss/"] != 100 ||
		rec.adds["products/load_error/"] != 1 || len(rec.loads) != 2 || rec.failed != 1 || len(rec.waits) != 1 {
		t.Errorf("recorder got %v, loads %v (failed %d), waits %v", rec.adds, rec.loads, rec.failed, rec.waits)
	}
	if s.Loads.Count != 2 || s.Loads.Max != 40*time.Millisecond || s.Loads.Mean() != 21500*time.Microsecond {
		t.Errorf("Loads = %+v", s.Loads)
	}

	m.Hit(TierMemory)
	if s.Count(EventHit, TierMemory) != 400 {
		t.Error("a snapshot changed after a later event")
	}
}

func TestNilMetricsCountNothing(t *testing.T) {
	var m *Metrics
	m.Hit(TierMemory)
	m.Miss()
	m.ObserveLoad(time.Second, true)
	m.ObserveLockWait(time.Second)
	if s := m.Snapshot(); s.HitRate() != 0 || s.Total(EventHit) != 0 || m.Name() != "" {
		t.Errorf("nil Metrics snapshot = %+v", s)
	}
}

func TestDistributionQuantile(t *testing.T) {
	var h histogram
	for i := range 100 {
		h.observe(time.Duration(i+1) * time.Millisecond) // 1ms .. 100ms
	}
	d := h.snapshot()
	for _, c := range []struct {
		q        float64
		min, max time.Duration
	}{
		{0.5, 50 * time.Millisecond, 100 * time.Millisecond},
		{0.99, 99 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 100 * time.Millisecond},
	} {
		// Quantile is an upper bound, within a factor of two.
		if got := d.Quantile(c.q); got < c.min || got > 2*c.max {
			t.Errorf("Quantile(%v) = %v; want in [%v, %v]", c.q, got, c.min, 2*c.max)
		}
	}
	if (DurationHistogram{}).Quantile(0.5) != 0 {
		t.Error("empty distribution quantile not 0")
	}
}

func TestEventAndTierNames(t *testing.T) {
	for _, ev := range Events() {
		if ev.String() == "unknown" || ev.String() == "" {
			t.Errorf("event %d has no name", ev)
		}
	}
	if Event(200).String() != "unknown" || Tier(9).String() != "unknown" || TierShared.String() != "shared" {
		t.Error("names of out-of-range values")
	}
}

func BenchmarkMetricsHit(b *testing.B) {
	m := NewMetrics("bench", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Hit(TierMemory)
		}
	})
}
