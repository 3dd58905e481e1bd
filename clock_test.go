package hoard

import (
	"testing"
	"time"
)

func TestSystemClockFollowsTheWallClock(t *testing.T) {
	var c SystemClock
	prev := c.Now()
	for range 1000 {
		before := time.Now()
		got := c.Now()
		after := time.Now()
		// Within the second of drift the doc allows; in practice within µs.
		if got.Before(before.Add(-time.Second)) || got.After(after.Add(time.Second)) {
			t.Fatalf("SystemClock %v outside [%v, %v]", got, before, after)
		}
		if got.Before(prev) {
			t.Fatalf("SystemClock went back: %v after %v", got, prev)
		}
		if d := got.Sub(before); d < -time.Millisecond || got.Sub(after) > time.Millisecond {
			t.Fatalf("SystemClock off the wall clock by %v", d)
		}
		prev = got
	}
}

func BenchmarkClock(b *testing.B) {
	b.Run("impl=system", func(b *testing.B) {
		var c SystemClock
		for b.Loop() {
			_ = c.Now()
		}
	})
	b.Run("impl=time.Now", func(b *testing.B) {
		for b.Loop() {
			_ = time.Now()
		}
	})
}
