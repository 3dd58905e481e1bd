package compare

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Target is one of hoard's goals and where the run puts hoard against it.
type Target struct {
	Goal     string
	Measured string
	Met      bool
	Known    bool // false: not measured (a row failed)
}

// Verdict is "met", "**missed**" or "not measured".
func (t Target) Verdict() string {
	switch {
	case !t.Known:
		return "not measured"
	case t.Met:
		return "met"
	}
	return "**missed**"
}

// Targets checks hoard's targets against the report.
func (r *Report) Targets() []Target {
	var ts []Target
	h, hp := r.MemoryHit.Row(Hoard), r.MemoryHitParallel.Row(Hoard)
	for _, peer := range []Lib{GoRedisCache, Sturdyc} {
		p, pp := r.MemoryHit.Row(peer), r.MemoryHitParallel.Row(peer)
		t := Target{Goal: "in-process hit faster than " + string(peer)}
		if ok(h, p, hp, pp) {
			t.Known, t.Met = true, h.Median() < p.Median() && hp.Median() < pp.Median()
			t.Measured = fmt.Sprintf("hoard at %s of %s's time (1 goroutine), %s (parallel)",
				ratio(h.Median(), p.Median()), peer, ratio(hp.Median(), pp.Median()))
		}
		ts = append(ts, t)
	}
	for _, peer := range []Lib{Otter, OtterPresent} {
		p, pp := r.MemoryHit.Row(peer), r.MemoryHitParallel.Row(peer)
		t := Target{Goal: "in-process hit within 2× of raw otter (" + string(peer) + ")"}
		if peer == Otter {
			t.Goal = "in-process hit within 2× of raw otter (`Get` with a `Loader`)"
		}
		if ok(h, p, hp, pp) {
			t.Known, t.Met = true, h.Median() <= 2*p.Median() && hp.Median() <= 2*pp.Median()
			t.Measured = fmt.Sprintf("%s (1 goroutine), %s (parallel)", ratio(h.Median(), p.Median()), ratio(hp.Median(), pp.Median()))
		}
		ts = append(ts, t)
	}
	t := Target{Goal: "in-process hit: 0 allocs/op"}
	if ok(h, hp) {
		t.Known, t.Met = true, h.Allocs == 0 && hp.Allocs == 0
		t.Measured = fmt.Sprintf("%d (1 goroutine), %d (parallel)", h.Allocs, hp.Allocs)
	}
	ts = append(ts, t)

	rh, raw := r.RedisHit.Row(Hoard), r.RedisHit.Row(RawRedis)
	t = Target{Goal: "Redis hit within 1.15× of raw go-redis (`GET` + `json.Unmarshal`)"}
	if ok(rh, raw) {
		t.Known, t.Met = true, rh.Median() <= 1.15*raw.Median()
		t.Measured = fmt.Sprintf("%s (medians; rounds: hoard %s µs, raw %s µs)", ratio(rh.Median(), raw.Median()), spread(rh), spread(raw))
	}
	ts = append(ts, t)

	t = Target{Goal: "stampede: 1 loader call across all instances"}
	if s := r.stampede(Hoard); s != nil && s.Err == nil {
		lo, hi := minMax(s.Loads)
		t.Known, t.Met = true, lo == 1 && hi == 1
		t.Measured = fmt.Sprintf("%s per stampede (%d rounds, %d–%d)", num(s.MeanLoads()), len(s.Loads), lo, hi)
	}
	ts = append(ts, t)

	st := r.storm(Hoard)
	t = Target{Goal: "expiry storm: 0 misses after warm-up"}
	if st != nil && st.Err == nil {
		t.Known, t.Met = true, st.Misses == 0
		t.Measured = fmt.Sprintf("%d misses in %d reads", st.Misses, st.Reads)
	}
	ts = append(ts, t)
	t = Target{Goal: "expiry storm: p99 within 2× of a hit's p99 (same readers, a key that does not expire)"}
	if st != nil && st.Err == nil && st.HitP99 > 0 {
		t.Known, t.Met = true, st.P99 <= 2*st.HitP99
		t.Measured = fmt.Sprintf("p99 %s, a hit's p99 %s: %s", dur(st.P99), dur(st.HitP99), ratio(float64(st.P99), float64(st.HitP99)))
	}
	ts = append(ts, t)

	zh, zo, zl := r.zipf(Hoard), r.zipf(Otter), r.zipf(LRU)
	t = Target{Goal: "Zipf hit ratio at least otter's"}
	if zh != nil && zo != nil && zh.Err == nil && zo.Err == nil {
		t.Known, t.Met = true, zh.HitRatio >= zo.HitRatio-0.0005
		t.Measured = fmt.Sprintf("%s vs %s (%+.1f points)", pct(zh.HitRatio), pct(zo.HitRatio), 100*(zh.HitRatio-zo.HitRatio))
		if za := r.zipf(OtterAgain); za != nil && za.Err == nil {
			t.Measured += fmt.Sprintf("; a second otter cache: %s (%+.1f points from the first)", pct(za.HitRatio), 100*(za.HitRatio-zo.HitRatio))
		}
	}
	ts = append(ts, t)
	t = Target{Goal: "Zipf hit ratio at least 10 points above an LRU of the same size"}
	if zh != nil && zl != nil && zh.Err == nil && zl.Err == nil {
		t.Known, t.Met = true, zh.HitRatio-zl.HitRatio >= 0.10
		t.Measured = fmt.Sprintf("%s vs %s: %+.1f points", pct(zh.HitRatio), pct(zl.HitRatio), 100*(zh.HitRatio-zl.HitRatio))
	}
	ts = append(ts, t)

	mh, mo := r.memory(Hoard), r.memory(Otter)
	t = Target{Goal: "memory per entry within 1.5× of otter alone (with expiry)"}
	if mh != nil && mo != nil && mh.Err == nil && mo.Err == nil && mo.PerEntry > 0 {
		t.Known, t.Met = true, mh.PerEntry <= 1.5*mo.PerEntry
		t.Measured = fmt.Sprintf("%.0f vs %.0f B: %s", mh.PerEntry, mo.PerEntry, ratio(mh.PerEntry, mo.PerEntry))
	}
	ts = append(ts, t)
	return append(ts, r.issue15Targets()...)
}

func ok(rows ...*MicroRow) bool {
	for _, r := range rows {
		if r == nil || r.Err != nil || len(r.NsPerOp) == 0 {
			return false
		}
	}
	return true
}

func (r *Report) stampede(l Lib) *StampedeResult {
	for i := range r.Stampede {
		if r.Stampede[i].Lib == l {
			return &r.Stampede[i]
		}
	}
	return nil
}

func (r *Report) storm(l Lib) *StormResult {
	for i := range r.Storm {
		if r.Storm[i].Lib == l {
			return &r.Storm[i]
		}
	}
	return nil
}

func (r *Report) zipf(l Lib) *ZipfResult {
	for i := range r.Zipf {
		if r.Zipf[i].Lib == l {
			return &r.Zipf[i]
		}
	}
	return nil
}

func (r *Report) memory(l Lib) *MemoryResult {
	for i := range r.Memory {
		if r.Memory[i].Lib == l {
			return &r.Memory[i]
		}
	}
	return nil
}

// WriteMarkdown writes the report: the command, the machine, the targets,
// then a table per workload, a row per library with absolute figures, the
// ratio to hoard and a verdict.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	c := &r.Config
	m := &r.Machine
	fmt.Fprintf(&b, "Command (from the repository root; real Redis):\n\n```sh\n%s\n```\n\n", r.Config.Command)
	fmt.Fprintf(&b, "Machine: %d cores (%s), %s %s, %s. Load average (1, 5, 15 min) %s at the start, %s at the end; "+
		"the machine is shared with other work, so micro figures are noisy: each is the median of %d runs of %v, "+
		"every library run in turn within a round (the order turned by one each round), and ratios compare figures of the same run. Run at %s, took %s.\n\n",
		m.Cores, m.CPU, m.Go, m.OS, m.Redis, m.LoadStart, m.LoadEnd, c.Count, c.BenchTime,
		r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	if c.Short {
		b.WriteString("**Short mode**: small sizes, for CI only; these figures mean little.\n\n")
	}
	b.WriteString("Peers: github.com/go-redis/cache/v9 v9.0.0, github.com/viccon/sturdyc v1.1.5, github.com/maypok86/otter/v2 v2.4.0, " +
		"github.com/redis/go-redis/v9 v9.23.0, github.com/hashicorp/golang-lru/v2 v2.0.7. The value is a `Product` struct of about 200 bytes as JSON " +
		"(hoard: default JSON codec in its envelope; go-redis/cache: MsgPack + s2; sturdyc's distributed storage: JSON). " +
		"The peers get their keys ready-made; hoard builds its keys from the ids on every call.\n\n")

	b.WriteString("### Targets\n\n| target | measured | verdict |\n|---|---|---|\n")
	for _, t := range r.Targets() {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Goal, orDash(t.Measured), t.Verdict())
	}
	b.WriteString("\n")

	r.writeMemoryHit(&b)
	r.writeRedisHit(&b)
	r.writeBatch(&b, r.BatchMemory, "3a. Batch of 100 keys, all in the in-process tier")
	r.writeBatch(&b, r.BatchRedis, "3b. Batch of 100 keys from Redis, in-process tier off")
	r.writeStampede(&b)
	r.writeStorm(&b)
	r.writeZipf(&b)
	r.writeMemory(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) writeMemoryHit(b *strings.Builder) {
	fmt.Fprintf(b, "### 1. Hit from the in-process tier\n\n%d keys read in turn, all cached; capacity 10,000. Parallel: `b.RunParallel` on %d cores.\n\n",
		max(2*batchSize, cmpOr(r.Config.MicroKeys, DefaultMicroKeys)), r.Machine.Cores)
	b.WriteString("| library | how | ns/op, 1 goroutine | × hoard | allocs/op | ns/op, parallel | × hoard | allocs/op | verdict |\n|---|---|--:|--:|--:|--:|--:|--:|---|\n")
	h, hp := r.MemoryHit.Row(Hoard), r.MemoryHitParallel.Row(Hoard)
	for i := range r.MemoryHit.Rows {
		s, p := &r.MemoryHit.Rows[i], r.MemoryHitParallel.Row(r.MemoryHit.Rows[i].Lib)
		if !s.Measured {
			fmt.Fprintf(b, "| %s | %s | – | – | – | – | – | – | n/a |\n", s.Lib, s.Note)
			continue
		}
		verdict := "—"
		switch s.Lib {
		case Hoard:
			verdict = "0 allocs/op: " + yes(ok(s, p) && s.Allocs == 0 && p.Allocs == 0)
		case GoRedisCache, Sturdyc:
			verdict = "hoard faster: " + yes(ok(h, s, hp, p) && h.Median() < s.Median() && hp.Median() < p.Median())
		case Otter, OtterPresent, OtterCoarse:
			verdict = fmt.Sprintf("hoard within 2×: %s (hoard at %s, %s)", yes(ok(h, s, hp, p) && h.Median() <= 2*s.Median() && hp.Median() <= 2*p.Median()),
				ratio(h.Median(), s.Median()), ratio(hp.Median(), p.Median()))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s.Lib, s.Note,
			microNs(s), microRatio(s, h), allocs(s), microNs(p), microRatio(p, hp), allocs(p), verdict)
	}
	b.WriteString("\n× hoard is the library's time over hoard's: above 1, hoard is faster.\n\n")
}

func (r *Report) writeRedisHit(b *strings.Builder) {
	b.WriteString("### 2. Hit from Redis, in-process tier off\n\nOne goroutine, keys read in turn, one round trip each.\n\n")
	b.WriteString("| library | how | ns/op | rounds (µs) | × hoard | allocs/op | B/op | verdict |\n|---|---|--:|--:|--:|--:|--:|---|\n")
	h := r.RedisHit.Row(Hoard)
	for i := range r.RedisHit.Rows {
		s := &r.RedisHit.Rows[i]
		if !s.Measured {
			fmt.Fprintf(b, "| %s | %s | – | – | – | – | – | n/a |\n", s.Lib, s.Note)
			continue
		}
		verdict := "—"
		if s.Lib == RawRedis {
			verdict = fmt.Sprintf("hoard within 1.15×: %s (hoard at %s)", yes(ok(h, s) && h.Median() <= 1.15*s.Median()), ratio(h.Median(), s.Median()))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %d | %s |\n", s.Lib, s.Note, microNs(s), spread(s), microRatio(s, h), allocs(s), s.Bytes, verdict)
	}
	b.WriteString("\n")
}

func (r *Report) writeBatch(b *strings.Builder, t *MicroTable, title string) {
	fmt.Fprintf(b, "### %s\n\nThe target of issue 15 is on its baseline's row.\n\n", title)
	b.WriteString("| library | how | µs per batch | × hoard | allocs/op | B/op | verdict |\n|---|---|--:|--:|--:|--:|---|\n")
	h := t.Row(Hoard)
	for i := range t.Rows {
		s := &t.Rows[i]
		if !s.Measured {
			fmt.Fprintf(b, "| %s | %s | – | – | – | – | n/a |\n", s.Lib, s.Note)
			continue
		}
		verdict := r.batchVerdict(t, s.Lib)
		us := microNs(s)
		if ok(s) {
			us = fmt.Sprintf("%.1f", s.Median()/1e3)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %d | %s |\n", s.Lib, s.Note, us, microRatio(s, h), allocs(s), s.Bytes, verdict)
	}
	b.WriteString("\n")
	for _, f := range t.Findings {
		fmt.Fprintf(b, "Found while warming: %s.\n\n", f)
	}
}

func (r *Report) writeStampede(b *strings.Builder) {
	c := r.Config.Stampede
	c.defaults()
	fmt.Fprintf(b, "### 4. Stampede\n\n%d instances (each its own client stack: Redis client, in-process tier) × %d goroutines released at once on one key no tier holds; a load takes %v; %d rounds, a new key each.\n\n",
		c.Instances, c.Goroutines, c.Delay, c.Rounds)
	b.WriteString("| library | how | loader calls per stampede, mean | min–max | × hoard | slowest reader | verdict |\n|---|---|--:|--:|--:|--:|---|\n")
	h := r.stampede(Hoard)
	for i := range r.Stampede {
		s := &r.Stampede[i]
		if s.Err != nil {
			fmt.Fprintf(b, "| %s | %s | error: %s | | | | |\n", s.Lib, s.Note, cell(s.Err))
			continue
		}
		lo, hi := minMax(s.Loads)
		verdict := "—"
		switch s.Lib {
		case Hoard:
			verdict = "1 across all instances: " + yes(lo == 1 && hi == 1)
		case HoardNoLock, GoRedisCache:
			verdict = fmt.Sprintf("at most one per instance (%d): %s", c.Instances, yes(lo >= 1 && hi <= int64(c.Instances)))
		case Naive:
			verdict = fmt.Sprintf("reference: up to %d, every reader that reads before the first SET loads", c.Instances*c.Goroutines)
		}
		rt := "–"
		if h != nil && h.Err == nil && h.MeanLoads() > 0 {
			rt = ratio(s.MeanLoads(), h.MeanLoads())
		}
		fmt.Fprintf(b, "| %s | %s | %s | %d–%d | %s | %s | %s |\n", s.Lib, s.Note, num(s.MeanLoads()), lo, hi, rt, dur(s.Slowest), verdict)
	}
	b.WriteString("\n![stampede](compare-stampede.png)\n\n")
}

func (r *Report) writeStorm(b *strings.Builder) {
	c := r.Config.Storm
	c.defaults()
	fmt.Fprintf(b, "### 5. Expiry storm\n\nOne hot key, TTL %v, a recompute takes %v; %d instances × %d readers read it for %v (a pause of %v between reads), the first %v left out. "+
		"A miss is a read that waited for a recompute (it took at least %v and a recompute ended while it waited). "+
		"Before each storm the same readers read, for %v, a key of the same library with a TTL of an hour: that hit's p99 is what the storm's p99 is held against.\n\n",
		c.TTL, c.Delay, c.Instances, c.Readers, c.Duration, c.Think, c.Warmup, c.Delay/2, c.HitPhase)
	b.WriteString("| library | how | reads | misses | recomputes (per TTL) | p50 | p99 | p99.9 | max | hit p99 | p99 ÷ hit p99 | p99 × hoard | verdict |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	h := r.storm(Hoard)
	for i := range r.Storm {
		s := &r.Storm[i]
		if s.Err != nil {
			fmt.Fprintf(b, "| %s | %s | error: %s | | | | | | | | | | |\n", s.Lib, s.Note, cell(s.Err))
			continue
		}
		verdict := "—"
		if s.Lib == Hoard {
			verdict = fmt.Sprintf("0 misses: %s; p99 ≤ 2× a hit's: %s", yes(s.Misses == 0), yes(s.HitP99 > 0 && s.P99 <= 2*s.HitP99))
		}
		rt := "–"
		if h != nil && h.Err == nil && h.P99 > 0 {
			rt = ratio(float64(s.P99), float64(h.P99))
		}
		fmt.Fprintf(b, "| %s | %s | %d | %d | %d (%.2f) | %s | %s | %s | %s | %s | %s | %s | %s |\n", s.Lib, s.Note, s.Reads, s.Misses, s.Recomputes, s.PerPeriod,
			dur(s.P50), dur(s.P99), dur(s.P999), dur(s.Max), dur(s.HitP99), ratio(float64(s.P99), float64(s.HitP99)), rt, verdict)
	}
	b.WriteString("\n![expiry storm](compare-storm.png)\n\n")
}

func (r *Report) writeZipf(b *strings.Builder) {
	c := r.Config.Zipf
	c.defaults()
	fmt.Fprintf(b, "### 6. Hit ratio, Zipf\n\n%d reads (the first %d left out) of %d keys drawn with `rand.NewZipf(s = %.2f, v = 1)`, one goroutine; in-process tier of %d entries; every library reads the same sequence.\n\n",
		c.Reads, c.Warmup, c.Keys, c.S, c.Capacity)
	b.WriteString("| library | how | hit ratio | points vs hoard | verdict |\n|---|---|--:|--:|---|\n")
	h := r.zipf(Hoard)
	for i := range r.Zipf {
		s := &r.Zipf[i]
		if s.Err != nil {
			fmt.Fprintf(b, "| %s | %s | error: %s | | |\n", s.Lib, s.Note, cell(s.Err))
			continue
		}
		verdict := "—"
		pts := "–"
		if h != nil && h.Err == nil {
			pts = fmt.Sprintf("%+.1f", 100*(s.HitRatio-h.HitRatio))
			switch s.Lib {
			case Otter:
				verdict = "hoard at least otter's: " + yes(h.HitRatio >= s.HitRatio-0.0005)
			case LRU:
				verdict = "hoard ≥ LRU + 10 points: " + yes(h.HitRatio-s.HitRatio >= 0.10)
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", s.Lib, s.Note, pct(s.HitRatio), pts, verdict)
	}
	b.WriteString("\n![hit ratio](compare-hitratio.png)\n\n")
}

func (r *Report) writeMemory(b *strings.Builder) {
	c := r.Config.Memory
	c.defaults()
	fmt.Fprintf(b, "### 7. Heap per cached entry\n\n%d entries of a %d-byte string value (each its own allocation) under keys of the same length; live heap (`runtime.ReadMemStats` after two GCs) before and after the fill, over the entries held. Key and value included: their floor is about %d bytes.\n\n",
		c.Entries, c.ValueBytes, c.ValueBytes+8+16)
	b.WriteString("| library | how | entries held | bytes per entry | × hoard | verdict |\n|---|---|--:|--:|--:|---|\n")
	h := r.memory(Hoard)
	for i := range r.Memory {
		s := &r.Memory[i]
		if s.Err != nil {
			fmt.Fprintf(b, "| %s | %s | error: %s | | | |\n", s.Lib, s.Note, cell(s.Err))
			continue
		}
		verdict := "—"
		rt := "–"
		if h != nil && h.Err == nil && h.PerEntry > 0 {
			rt = ratio(s.PerEntry, h.PerEntry)
			if s.Lib == Otter {
				verdict = fmt.Sprintf("hoard within 1.5×: %s (hoard at %s)", yes(h.PerEntry <= 1.5*s.PerEntry), ratio(h.PerEntry, s.PerEntry))
			}
		}
		fmt.Fprintf(b, "| %s | %s | %d | %.0f | %s | %s |\n", s.Lib, s.Note, s.Held, s.PerEntry, rt, verdict)
	}
	b.WriteString("\n")
}

func microNs(r *MicroRow) string {
	if r == nil || !ok(r) {
		if r != nil && r.Err != nil {
			return "error: " + cell(r.Err)
		}
		return "–"
	}
	return num(r.Median())
}

// spread is the least and greatest ns/op of r's rounds, in µs.
func spread(r *MicroRow) string {
	if r == nil || len(r.NsPerOp) == 0 {
		return "–"
	}
	lo, hi := r.NsPerOp[0], r.NsPerOp[0]
	for _, x := range r.NsPerOp {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return fmt.Sprintf("%.1f–%.1f", lo/1e3, hi/1e3)
}

func microRatio(r, h *MicroRow) string {
	if !ok(r, h) || h.Median() == 0 {
		return "–"
	}
	return ratio(r.Median(), h.Median())
}

func allocs(r *MicroRow) string {
	if r == nil || !ok(r) {
		return "–"
	}
	return fmt.Sprint(r.Allocs)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func num(x float64) string {
	switch {
	case x >= 100 || x == math.Trunc(x):
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d >= time.Microsecond:
		return fmt.Sprintf("%.1f µs", float64(d)/1e3)
	}
	return fmt.Sprintf("%d ns", d.Nanoseconds())
}

func yes(b bool) string {
	if b {
		return "met"
	}
	return "**missed**"
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func cell(err error) string {
	return strings.NewReplacer("|", "/", "\n", " ").Replace(err.Error())
}
