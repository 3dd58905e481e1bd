package compare

import (
	"fmt"
	"math"
)

// The targets of issue 15 (items 1 and 2), each a ratio to a baseline
// measured in the same run.
const (
	hitSerialMax    = 1.3  // Aside.Get from memory over otter GetIfPresent, 1 goroutine
	hitParallelMax  = 1.5  // the same, in parallel
	batchMemoryMax  = 2.0  // GetMany of 100 from memory over otter BulkGet
	batchRedisMax   = 1.05 // GetMany of 100 from Redis over MGET + json.Unmarshal
	batchAllocExtra = 2    // allocs/op GetMany may take beyond otter BulkGet's (its map's)
)

// issue15Targets checks the targets of issue 15 against the report.
func (r *Report) issue15Targets() []Target {
	var ts []Target
	h, hp := r.MemoryHit.Row(Hoard), r.MemoryHitParallel.Row(Hoard)
	o, op := r.MemoryHit.Row(OtterPresent), r.MemoryHitParallel.Row(OtterPresent)
	// otter on its CoarseClock reads the clock as hoard's memory tier does
	// by default: the ratio to it is hoard's own cost, said beside the
	// target's.
	oc, ocp := r.MemoryHit.Row(OtterCoarse), r.MemoryHitParallel.Row(OtterCoarse)
	t := Target{Goal: fmt.Sprintf("in-process hit within %.1f× of otter `GetIfPresent`, 1 goroutine (issue 15)", hitSerialMax)}
	if ok(h, o) {
		t.Known, t.Met = true, h.Median() <= hitSerialMax*o.Median()
		t.Measured = fmt.Sprintf("%s (%s vs %s ns; rounds: hoard %s, otter %s)%s", ratio(h.Median(), o.Median()), num(h.Median()), num(o.Median()), spreadNs(h), spreadNs(o), likeForLike(h, oc))
	}
	ts = append(ts, t)
	t = Target{Goal: fmt.Sprintf("in-process hit within %.1f× of otter `GetIfPresent`, parallel (issue 15)", hitParallelMax)}
	if ok(hp, op) {
		t.Known, t.Met = true, hp.Median() <= hitParallelMax*op.Median()
		t.Measured = fmt.Sprintf("%s (%s vs %s ns; rounds: hoard %s, otter %s)%s", ratio(hp.Median(), op.Median()), num(hp.Median()), num(op.Median()), spreadNs(hp), spreadNs(op), likeForLike(hp, ocp))
	}
	ts = append(ts, t)

	bh, bo := r.BatchMemory.Row(Hoard), r.BatchMemory.Row(Otter)
	t = Target{Goal: fmt.Sprintf("`GetMany` of %d from memory within %.0f× of otter `BulkGet` (issue 15)", batchSize, batchMemoryMax)}
	if ok(bh, bo) {
		t.Known, t.Met = true, bh.Median() <= batchMemoryMax*bo.Median()
		t.Measured = fmt.Sprintf("%s (%.1f vs %.1f µs)", ratio(bh.Median(), bo.Median()), bh.Median()/1e3, bo.Median()/1e3)
	}
	ts = append(ts, t)
	t = Target{Goal: fmt.Sprintf("`GetMany` of %d from memory: no allocation per id beyond the map (allocs/op at most otter `BulkGet`'s + %d) (issue 15)", batchSize, batchAllocExtra)}
	if ok(bh, bo) {
		t.Known, t.Met = true, bh.Allocs <= bo.Allocs+batchAllocExtra
		t.Measured = fmt.Sprintf("%d vs %d allocs/op, %d vs %d B/op", bh.Allocs, bo.Allocs, bh.Bytes, bo.Bytes)
	}
	ts = append(ts, t)

	rh, rr := r.BatchRedis.Row(Hoard), r.BatchRedis.Row(RawRedis)
	t = Target{Goal: fmt.Sprintf("`GetMany` of %d from Redis within %.2f× of `MGET` + `json.Unmarshal` of each (issue 15)", batchSize, batchRedisMax)}
	if ok(rh, rr) {
		t.Known, t.Met = true, rh.Median() <= batchRedisMax*rr.Median()
		t.Measured = fmt.Sprintf("%s (%.1f vs %.1f µs; rounds: hoard %s µs, raw %s µs)", ratio(rh.Median(), rr.Median()), rh.Median()/1e3, rr.Median()/1e3, spread(rh), spread(rr))
	}
	ts = append(ts, t)
	return ts
}

// likeForLike says hoard's ratio to otter on the clock hoard's memory tier
// reads (a coarse one), "" when that row was not measured.
func likeForLike(h, coarse *MicroRow) string {
	if !ok(h, coarse) {
		return ""
	}
	return fmt.Sprintf("; against otter on its `CoarseClock`, the clock hoard's memory tier reads: %s (%s ns)", ratio(h.Median(), coarse.Median()), num(coarse.Median()))
}

// spreadNs is the least and greatest ns/op of r's rounds.
func spreadNs(r *MicroRow) string {
	if r == nil || len(r.NsPerOp) == 0 {
		return "–"
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range r.NsPerOp {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return fmt.Sprintf("%s–%s ns", num(lo), num(hi))
}

// batchVerdict is the verdict of a batch table's row for lib: the issue 15
// target on its baseline row.
func (r *Report) batchVerdict(t *MicroTable, lib Lib) string {
	h := t.Row(Hoard)
	switch {
	case t == r.BatchMemory && lib == Otter:
		s := t.Row(Otter)
		return fmt.Sprintf("hoard within %.0f×: %s (hoard at %s); allocs within +%d: %s", batchMemoryMax,
			yes(ok(h, s) && h.Median() <= batchMemoryMax*s.Median()), microRatioOf(h, s), batchAllocExtra, yes(ok(h, s) && h.Allocs <= s.Allocs+batchAllocExtra))
	case t == r.BatchRedis && lib == RawRedis:
		s := t.Row(RawRedis)
		return fmt.Sprintf("hoard within %.2f×: %s (hoard at %s)", batchRedisMax, yes(ok(h, s) && h.Median() <= batchRedisMax*s.Median()), microRatioOf(h, s))
	case lib == GoRedisCache:
		return "no batch API"
	}
	return "—"
}

// microRatioOf is h's median over s's.
func microRatioOf(h, s *MicroRow) string {
	if !ok(h, s) || s.Median() == 0 {
		return "–"
	}
	return ratio(h.Median(), s.Median())
}
