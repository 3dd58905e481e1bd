package xfetch

import (
	"fmt"
	"time"
)

// Target is one of issue 4's targets, checked against a report.
type Target struct {
	Name string
	// Evaluated is false when a strategy the target needs did not run.
	Evaluated bool
	Met       bool
	// Detail gives the numbers the verdict rests on.
	Detail string
}

// Verdict returns "met", "NOT met" or "not evaluated".
func (t Target) Verdict() string {
	switch {
	case !t.Evaluated:
		return "not evaluated"
	case t.Met:
		return "met"
	}
	return "NOT met"
}

// The targets' thresholds.
const (
	// maxHitRatio bounds XFetch's p99 read latency, as a multiple of the
	// p99 of a pure hit through the same path.
	maxHitRatio = 2
	// maxPerPeriod bounds xfetch+lock's recomputes per TTL period.
	maxPerPeriod = 1.5
)

// Check compares a report with issue 4's targets: with XFetch, after the
// warm-up, no misses, a p99 read latency within 2x of a hit's, and with
// the lock at most 1.5 recomputes per TTL period across the instances;
// plain cache-aside, in the same run, a recompute storm at every expiry
// and a p99 near Delta (from Delta/2 to 2 Delta).
func Check(r *Report) []Target {
	var out []Target
	for _, s := range []Strategy{XFetch, XFetchLock} {
		out = append(out,
			check(r, s, s.String()+": 0 misses after the warm-up", func(res *Result) (bool, string) {
				return res.Misses == 0, fmt.Sprintf("%d misses (%d of them reads) of %d requests", res.Misses, res.RawMisses, res.Requests)
			}),
			check(r, s, s.String()+": p99 within 2x of a hit's p99", func(res *Result) (bool, string) {
				ratio := float64(res.Latency.P99) / float64(res.Hit.P99)
				return ratio <= maxHitRatio, fmt.Sprintf("p99 %s vs hit p99 %s: %.2fx", ms(res.Latency.P99), ms(res.Hit.P99), ratio)
			}))
	}
	out = append(out,
		check(r, XFetchLock, "xfetch+lock: at most 1.5 recomputes per TTL period", func(res *Result) (bool, string) {
			return res.PerPeriod <= maxPerPeriod, fmt.Sprintf("%.2f per period (%d recomputes in %.1f periods; mean refresh lead %s)",
				res.PerPeriod, res.Recomputes, r.Config.periods(), ms(res.MeanLead))
		}),
		check(r, Plain, "plain: a recompute storm at every expiry", func(res *Result) (bool, string) {
			least, mean, most := res.ExpiryRange()
			return least >= 2, fmt.Sprintf("%d expiries, %d to %d recomputes each (mean %.1f), at most %d at once",
				len(res.Expiries), least, most, mean, res.MaxConcurrent)
		}),
		check(r, Plain, "plain: p99 near delta", func(res *Result) (bool, string) {
			d := r.Config.Delta
			return res.Latency.P99 >= d/2 && res.Latency.P99 <= 2*d,
				fmt.Sprintf("p99 %s, delta %s (%.2fx)", ms(res.Latency.P99), ms(d), float64(res.Latency.P99)/float64(d))
		}))
	return out
}

func check(r *Report, s Strategy, name string, f func(*Result) (bool, string)) Target {
	res := r.Result(s)
	if res == nil {
		return Target{Name: name, Detail: s.String() + " did not run"}
	}
	met, detail := f(res)
	return Target{Name: name, Evaluated: true, Met: met, Detail: detail}
}

// ms formats d in milliseconds, with three significant digits, or in
// microseconds below 0.1ms.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.1f µs", v*1000)
}
