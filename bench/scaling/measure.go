package scaling

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// Sample is the ns/op of one benchmark in each round.
type Sample []float64

// Median is the median of the rounds.
func (s Sample) Median() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	xs := slices.Clone(s)
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// Spread is the least and greatest round.
func (s Sample) Spread() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range s {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// bench is one benchmark of a measurement: its function, and an error its
// reads found (a miss where a hit was due).
type bench struct {
	name string
	f    func(b *testing.B) error
}

// measure runs the benches rounds times, each bench once per round in
// turn, for benchtime each, and returns each one's ns/op per round. A
// bench that fails stops the measure with its error.
func measure(rounds int, benchtime time.Duration, benches ...bench) ([]Sample, error) {
	restore, err := setBenchTime(benchtime)
	if err != nil {
		return nil, err
	}
	defer restore()
	out := make([]Sample, len(benches))
	for range rounds {
		for i, bn := range benches {
			var ferr error
			r := testing.Benchmark(func(b *testing.B) {
				b.ReportAllocs()
				if err := bn.f(b); err != nil && ferr == nil {
					ferr = err
				}
			})
			if ferr != nil {
				return nil, fmt.Errorf("%s: %w", bn.name, ferr)
			}
			if r.N == 0 {
				return nil, fmt.Errorf("%s: the benchmark did not run", bn.name)
			}
			out[i] = append(out[i], float64(r.T.Nanoseconds())/float64(r.N))
		}
	}
	return out, nil
}

// setBenchTime sets testing.Benchmark's -test.benchtime, registering the
// testing flags first when this is not a test binary; restore puts it back.
func setBenchTime(d time.Duration) (restore func(), err error) {
	if flag.Lookup("test.benchtime") == nil {
		testing.Init()
	}
	f := flag.Lookup("test.benchtime")
	old := f.Value.String()
	if err := f.Value.Set(d.String()); err != nil {
		return nil, err
	}
	return func() { _ = f.Value.Set(old) }, nil
}
