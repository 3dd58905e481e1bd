package hoardtest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hoard-cache/hoard"
)

// testFloorCounter checks IncrAtLeast: the counter becomes the larger of
// its value plus one and the floor, exactly, in one step, also for values
// past 2^53 (where a double would round) and floors longer than the value.
func testFloorCounter(t *testing.T, s *suite) {
	c, ok := s.Cache.(hoard.FloorCounter)
	if !ok {
		t.Skip("hoardtest: cache is no FloorCounter")
	}
	ctx := context.Background()
	steps := []struct {
		floor, want int64
	}{
		{1_790_000_000_000_000, 1_790_000_000_000_000}, // a new counter becomes the floor
		{1_700_000_000_000_000, 1_790_000_000_000_001}, // a floor below: one more
		{1_790_000_000_000_001, 1_790_000_000_000_002}, // a floor equal to the value: one more
		{1_790_000_000_000_500, 1_790_000_000_000_500}, // a floor above: the floor
		{10_000_000_000_000_000, 10_000_000_000_000_000},
		{(1 << 60) + 1, (1 << 60) + 1}, // past 2^53: exact
		{1 << 60, (1 << 60) + 2},
	}
	k := s.key("floor-counter")
	for _, st := range steps {
		got, err := c.IncrAtLeast(ctx, k, st.floor)
		if err != nil {
			t.Fatalf("IncrAtLeast(%d): %v", st.floor, err)
		}
		if got != st.want {
			t.Fatalf("IncrAtLeast(%d) = %d; want %d", st.floor, got, st.want)
		}
	}
	if got, err := c.IncrBy(ctx, k, 0); err != nil || got != (1<<60)+2 {
		t.Fatalf("IncrBy(0) after IncrAtLeast = %d, %v; want %d", got, err, int64(1<<60)+2)
	}
	// A floor with more digits than the value (9 999 then 10 000).
	short := s.key("floor-counter-short")
	if _, err := c.IncrAtLeast(ctx, short, 9_998); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.IncrAtLeast(ctx, short, 9_999); got != 9_999 {
		t.Fatalf("IncrAtLeast(9 999) on 9 998 = %d", got)
	}
	if got, _ := c.IncrAtLeast(ctx, short, 10_000); got != 10_000 {
		t.Fatalf("IncrAtLeast(10 000) on 9 999 = %d", got)
	}
	if _, err := c.IncrAtLeast(ctx, short, 0); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Fatalf("IncrAtLeast(0): %v; want hoard.ErrInvalidOption", err)
	}
	// Concurrent callers each get a value of their own, each above its
	// floor and above the values handed out before.
	shared := s.key("floor-counter-concurrent")
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for w := range int64(8) {
		wg.Go(func() {
			last := int64(0)
			for i := range int64(50) {
				floor := 1_790_000_000_000_000 + w*7 + i*3
				n, err := c.IncrAtLeast(ctx, shared, floor)
				if err != nil {
					t.Error(err)
					return
				}
				if n < floor || n <= last {
					t.Errorf("IncrAtLeast(%d) = %d after %d", floor, n, last)
				}
				last = n
				mu.Lock()
				if seen[n] {
					t.Errorf("value %d handed out twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
