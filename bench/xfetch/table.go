package xfetch

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteMarkdown writes the report as markdown: the setup, a table of reads
// and latency, a table of recomputes, and a line per target.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	c := &r.Config
	think := "tight loop (no think time)"
	if c.Think > 0 {
		think = fmt.Sprintf("one read every %v per reader (%.0f reads/s intended)", c.Think,
			float64(c.Instances*c.Readers)*float64(time.Second)/float64(c.Think))
	}
	fmt.Fprintf(&b, "Server: %s. %d instances × %d readers, %s; TTL %v, delta %v, beta %g, jitter off; "+
		"%v per strategy, the first %v (warm-up) left out: %.1f TTL periods. A miss is a request that waited ≥ %v. "+
		"Load avg is the machine's 1-minute load average as the strategy began and ended.\n\n",
		r.Server, c.Instances, c.Readers, think, c.TTL, c.Delta, c.Beta, c.Duration, c.Warmup, c.periods(), c.missThreshold())

	b.WriteString("Reads and latency (a request is a read, or one a paced client would have sent during a stall):\n\n")
	b.WriteString("| strategy | reads (per s) | requests | misses: reads | misses: requests | of which no recompute ran | p50 | p99 | max | p99 of reads only | hit p99 | load avg |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for i := range r.Results {
		res := &r.Results[i]
		perSecond := float64(res.Reads) / (c.Duration - c.Warmup).Seconds()
		fmt.Fprintf(&b, "| %s | %d (%.1fk) | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s → %s |\n",
			res.Strategy, res.Reads, perSecond/1000, res.Requests, res.RawMisses, res.Misses, res.Stalls,
			ms(res.Latency.P50), ms(res.Latency.P99), ms(res.Latency.Max), ms(res.RawLatency.P99), ms(res.Hit.P99), res.Load[0], res.Load[1])
	}

	b.WriteString("\nRecomputes (hoard's counters summed over the instances; refused write-backs counted by the harness):\n\n")
	b.WriteString("| strategy | recomputes | per TTL period | per expiry (min / mean / max) | max concurrent | early refreshes started | lock waits | Redis write-backs refused | mean refresh lead | errors |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for i := range r.Results {
		res := &r.Results[i]
		least, mean, most := res.ExpiryRange()
		h := res.Hoard
		early, waits, refused, lead := "–", "–", "–", "–"
		if res.Strategy != Plain {
			early, waits, refused = fmt.Sprint(h.EarlyRefreshes), fmt.Sprint(h.LockWaits), fmt.Sprint(h.RefusedWrites)
		}
		if res.MeanLead > 0 {
			lead = ms(res.MeanLead)
		}
		fmt.Fprintf(&b, "| %s | %d | %.2f | %d / %.1f / %d | %d | %s | %s | %s | %s | %d |\n",
			res.Strategy, res.Recomputes, res.PerPeriod, least, mean, most, res.MaxConcurrent,
			early, waits, refused, lead, res.Errors+h.BackendErrors)
	}
	for i := range r.Results {
		if res := &r.Results[i]; res.FirstError != "" {
			fmt.Fprintf(&b, "\n%s: first read error: %s\n", res.Strategy, res.FirstError)
		}
	}

	b.WriteString("\nTargets:\n\n")
	for _, t := range Check(r) {
		fmt.Fprintf(&b, "- %s: **%s** (%s)\n", t.Name, t.Verdict(), t.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
