package hoard

import (
	"math"
	"testing"
	"time"
)

// The decision is exactly the paper's inequality.
func TestXFetchDecisionExact(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	delta := 100 * time.Millisecond
	for _, c := range []struct {
		left time.Duration // until expiry
		beta float64
		u    float64
		want bool
	}{
		// -delta*beta*ln(u) >= left  <=>  u <= exp(-left/(delta*beta))
		{left: 100 * time.Millisecond, beta: 1, u: math.Exp(-1) - 1e-9, want: true},
		{left: 100 * time.Millisecond, beta: 1, u: math.Exp(-1) + 1e-9, want: false},
		{left: 200 * time.Millisecond, beta: 2, u: math.Exp(-1) - 1e-9, want: true},
		{left: 200 * time.Millisecond, beta: 2, u: math.Exp(-1) + 1e-9, want: false},
		{left: 50 * time.Millisecond, beta: 0.5, u: math.Exp(-1) - 1e-9, want: true},
		{left: 0, beta: 1, u: 1, want: true},                                     // at expiry: always
		{left: time.Hour, beta: 1, u: 1, want: false},                            // ln(1) = 0: never early
		{left: time.Nanosecond, beta: 1, u: 1, want: false},                      // u = 1 never fires before expiry
		{left: time.Minute, beta: 1, u: math.SmallestNonzeroFloat64, want: true}, // -ln(5e-324) = 744: 74s ahead
	} {
		got := xfetch(now.Add(c.left), delta, now, c.beta, c.u)
		if got != c.want {
			t.Errorf("left %v beta %v u %v: %v; want %v", c.left, c.beta, c.u, got, c.want)
		}
	}
	if xfetch(time.Time{}, delta, now, 1, 1e-300) || xfetch(now.Add(time.Second), 0, now, 1, 1e-300) {
		t.Error("entries without expiry or load duration must never refresh early")
	}
}

// Over a uniform grid of draws, the share that fires at a given time left
// is the formula's probability exp(-left/(delta*beta)), to within the grid.
func TestXFetchProbabilityMatchesFormula(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	delta := 40 * time.Millisecond
	const n = 100_000
	for _, beta := range []float64{0.5, 1, 2} {
		for _, left := range []time.Duration{0, 10 * time.Millisecond, 40 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond} {
			fired := 0
			for i := range n {
				u := (float64(i) + 0.5) / n // uniform on (0, 1)
				if xfetch(now.Add(left), delta, now, beta, u) {
					fired++
				}
			}
			want := math.Exp(-float64(left) / (float64(delta) * beta))
			if got := float64(fired) / n; math.Abs(got-want) > 2.0/n {
				t.Errorf("beta %v, %v left: fired %.5f; formula %.5f", beta, left, got, want)
			}
		}
	}
}
