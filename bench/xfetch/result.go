package xfetch

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Report is the outcome of [Run].
type Report struct {
	Config  Config // with the defaults filled in
	Server  string // Server.Description
	Results []Result
}

// Result returns the result of strategy s, or nil when it did not run.
func (r *Report) Result(s Strategy) *Result {
	for i := range r.Results {
		if r.Results[i].Strategy == s {
			return &r.Results[i]
		}
	}
	return nil
}

// Result is what one strategy did after the warm-up.
type Result struct {
	Strategy Strategy

	// Reads counts the reads sent; Requests adds the requests a paced
	// client would have sent while a read stalled (see the package doc).
	Reads, Requests int64
	// Misses counts the requests that waited Delta/2 or more; RawMisses
	// the reads that did.
	Misses, RawMisses int64
	// Stalls counts the misses (requests) during whose wait no recompute
	// ran: they waited for something else (the CPU, the garbage
	// collector, Redis). Counted on the samples, so exact unless
	// MaxSamples thinned them.
	Stalls int64
	// Errors counts the reads that failed, over the whole run; FirstError
	// is the first of them ("" for none).
	Errors     int64
	FirstError string

	// Recomputes counts the recomputes begun after the warm-up, and
	// PerPeriod divides it by the TTL periods after the warm-up.
	Recomputes int64
	PerPeriod  float64
	// Expiries groups those recomputes by the expiry they answered: a
	// recompute that begins less than TTL/4 after the previous one answers
	// the same expiry.
	Expiries []Expiry
	// MaxConcurrent is the most recomputes that ran at once after the
	// warm-up (the source's gauge).
	MaxConcurrent int64
	// MeanLead is how long, on average, the entries early refreshes
	// replaced still had to live when the refresh began; 0 without any.
	MeanLead time.Duration

	// Latency is over the requests, RawLatency over the reads alone.
	Latency, RawLatency Latency
	// Hit is the latency of the pure-hit phase: reads of a key that does
	// not expire, through the same path.
	Hit Latency

	// Hoard is hoard's own metrics (zero for plain).
	Hoard HoardCounts

	// Load is the machine's load average over the last minute when the
	// strategy began and ended ("" where the system does not tell).
	Load [2]string

	// Recomputed lists every recompute of the hot key, warm-up included.
	Recomputed []Recompute
	// Slow lists the misses (requests of latency ≥ Delta/2), by time.
	Slow []Sample
	// Trace holds the samples sent during the ChartWindow after the
	// warm-up, sorted by time.
	Trace []Sample `json:"-"`
}

// Expiry is the recomputes that answered one expiry of the hot key.
type Expiry struct {
	First, Last time.Duration // the first recompute's start, the last one's end
	Recomputes  int
}

// Latency is a latency distribution's summary.
type Latency struct {
	P50, P99, Max time.Duration
}

// ExpiryRange returns the fewest, mean and most recomputes per expiry.
func (r *Result) ExpiryRange() (least int, mean float64, most int) {
	if len(r.Expiries) == 0 {
		return 0, 0, 0
	}
	least, total := math.MaxInt, 0
	for _, e := range r.Expiries {
		least, most = min(least, e.Recomputes), max(most, e.Recomputes)
		total += e.Recomputes
	}
	return least, float64(total) / float64(len(r.Expiries)), most
}

// summarize turns the records of a strategy's phases into its result.
func summarize(cfg *Config, s Strategy, recs, hitRecs []*recorder, hot *source, metrics HoardCounts) *Result {
	res := &Result{Strategy: s, Hoard: metrics, MaxConcurrent: hot.maxRunning.Load()}
	var c counts
	var all, raw []time.Duration
	for _, r := range recs {
		c.add(r.counts)
		res.Errors += r.errors
		if res.FirstError == "" && r.firstErr != nil {
			res.FirstError = r.firstErr.Error()
		}
		for _, smp := range r.samples {
			all = append(all, smp.Latency)
			if smp.Latency >= cfg.missThreshold() {
				res.Slow = append(res.Slow, smp)
			}
			if !smp.Backfilled {
				raw = append(raw, smp.Latency)
			}
			if smp.At < cfg.Warmup+cfg.ChartWindow {
				res.Trace = append(res.Trace, smp)
			}
		}
	}
	bySent := func(a, b Sample) int { return cmp.Compare(a.At, b.At) }
	slices.SortFunc(res.Trace, bySent)
	slices.SortFunc(res.Slow, bySent)
	res.Reads, res.Requests, res.Misses, res.RawMisses = c.reads, c.requests, c.misses, c.rawMisses
	res.Latency, res.RawLatency = summary(all, c.max), summary(raw, c.max)
	var hitAll []time.Duration
	var hc counts
	for _, r := range hitRecs {
		hc.add(r.counts)
		res.Errors += r.errors
		for _, smp := range r.samples {
			hitAll = append(hitAll, smp.Latency)
		}
	}
	res.Hit = summary(hitAll, hc.max)

	res.Recomputed = hot.recomputes()
	res.Stalls = stalls(recs, res.Recomputed, cfg.missThreshold())
	var leads []time.Duration
	for _, rc := range res.Recomputed {
		if rc.Start < cfg.Warmup || rc.Start >= cfg.Duration {
			continue
		}
		res.Recomputes++
		if rc.Lead > 0 {
			leads = append(leads, rc.Lead)
		}
	}
	res.PerPeriod = float64(res.Recomputes) / cfg.periods()
	res.Expiries = groupRecomputes(res.Recomputed, cfg.Warmup, cfg.Duration, expiryGap(cfg))
	if len(leads) > 0 {
		var sum time.Duration
		for _, l := range leads {
			sum += l
		}
		res.MeanLead = sum / time.Duration(len(leads))
	}
	return res
}

// stalls counts the samples of at least threshold whose wait overlaps no
// recompute of rs (sorted by start).
func stalls(recs []*recorder, rs []Recompute, threshold time.Duration) int64 {
	// latestEnd[i] is the latest end among rs[:i+1].
	latestEnd := make([]time.Duration, len(rs))
	for i, rc := range rs {
		latestEnd[i] = rc.End
		if i > 0 {
			latestEnd[i] = max(latestEnd[i], latestEnd[i-1])
		}
	}
	var n int64
	for _, r := range recs {
		for _, s := range r.samples {
			if s.Latency < threshold {
				continue
			}
			// The recomputes begun before the wait ended; one of them
			// overlaps it if it ended after the wait began.
			begun, _ := slices.BinarySearchFunc(rs, s.At+s.Latency, func(rc Recompute, t time.Duration) int { return cmp.Compare(rc.Start, t) })
			if begun == 0 || latestEnd[begun-1] <= s.At {
				n++
			}
		}
	}
	return n
}

// summary sorts lat and summarizes it; most is the exact maximum (the
// samples may have been thinned).
func summary(lat []time.Duration, most time.Duration) Latency {
	slices.Sort(lat)
	return Latency{P50: quantile(lat, 0.5), P99: quantile(lat, 0.99), Max: most}
}

// quantile returns the q-quantile of sorted: the smallest value with at
// least a share q of the values at or below it; 0 when sorted is empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// expiryGap is the gap between the starts of two recomputes from which
// the second answers another expiry. The recomputes of one expiry begin
// within a few Delta of each other (a storm within a millisecond, the
// instances' own XFetch refreshes within a few Delta, a second load under
// the lock after the first); successive expiries are TTL + Delta apart, or
// with early refresh TTL + Delta less the refresh lead, which stays well
// below TTL - TTL/4.
func expiryGap(cfg *Config) time.Duration { return cfg.TTL / 4 }

// groupRecomputes groups the recomputes (sorted by start) begun in
// [from, to) by the expiry they answered: a recompute that begins less than
// gap after the previous one answers the same expiry.
func groupRecomputes(rs []Recompute, from, to, gap time.Duration) []Expiry {
	var out []Expiry
	var lastStart time.Duration
	for _, rc := range rs {
		if rc.Start < from || rc.Start >= to {
			continue
		}
		if n := len(out); n > 0 && rc.Start-lastStart < gap {
			out[n-1].Recomputes++
			out[n-1].Last = max(out[n-1].Last, rc.End)
		} else {
			out = append(out, Expiry{First: rc.Start, Last: rc.End, Recomputes: 1})
		}
		lastStart = rc.Start
	}
	return out
}
