package hoard

import (
	"sync"
	"testing"
)

// Hits counted in stripes from many goroutines at once add up exactly, in
// the snapshot and in the recorder, by every way a hit is counted.
func TestMetricsStripedHitsAddUp(t *testing.T) {
	rec := &recorded{}
	m := NewMetrics("c", rec)
	const goroutines, each = 8, 1000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := range each {
				switch i % 4 {
				case 0:
					m.Hit(TierMemory)
				case 1:
					m.hitHere(EventHit, TierMemory)
				case 2:
					m.hitsOn(TierShared, 2, 1)
				case 3:
					m.Add(EventNegativeHit, TierMemory, 1)
				}
			}
		})
	}
	wg.Wait()
	s := m.Snapshot()
	want := map[[2]int]int64{
		{int(EventHit), int(TierMemory)}:         goroutines * each / 2,
		{int(EventHit), int(TierShared)}:         goroutines * each / 2,
		{int(EventNegativeHit), int(TierShared)}: goroutines * each / 4,
		{int(EventNegativeHit), int(TierMemory)}: goroutines * each / 4,
	}
	for k, n := range want {
		ev, tier := Event(k[0]), Tier(k[1])
		if got := s.Count(ev, tier); got != n {
			t.Errorf("snapshot: %v at %v = %d; want %d", ev, tier, got, n)
		}
		if got := rec.adds["c/"+ev.String()+"/"+tier.String()]; got != n {
			t.Errorf("recorder: %v at %v = %d; want %d", ev, tier, got, n)
		}
	}
	if h := s.Hits(); h != goroutines*each*3/2 {
		t.Errorf("Hits() = %d; want %d", h, goroutines*each*3/2)
	}
}

// A Metrics that NewMetrics did not make, without stripes, still counts.
func TestMetricsZeroValueCountsHits(t *testing.T) {
	var m Metrics
	m.Hit(TierMemory)
	m.hitHere(EventHit, TierMemory)
	m.hitsOn(TierMemory, 3, 2)
	s := m.Snapshot()
	if s.Count(EventHit, TierMemory) != 5 || s.Count(EventNegativeHit, TierMemory) != 2 {
		t.Errorf("hits %d, negative %d; want 5 and 2", s.Count(EventHit, TierMemory), s.Count(EventNegativeHit, TierMemory))
	}
}
