// Package xfetch runs the experiment of Vattani, Chierichetti and
// Lowenstein, "Optimal Probabilistic Cache Stampede Prevention" (VLDB
// 2015), against hoard: several instances, each with its own Redis client
// and memory tier, read one hot key whose recompute takes Delta, while the
// key expires every TTL. [Run] measures, per [Strategy], how many reads had
// to wait for a recompute, how many recomputes the source saw, and the
// read latency, and [Check] compares the results with issue 4's targets.
//
// The strategies are the naive cache-aside written by hand ([Plain]),
// hoard with the distributed lock ([Lock]), hoard with XFetch early refresh
// ([XFetch]) and both ([XFetchLock]).
//
// # Workload
//
// Each instance runs Readers goroutines. A reader reads the key, then waits
// until Think has passed since the read began, as a client sending one
// request every Think would. When a read takes longer than Think, the
// requests such a client would have sent meanwhile are recorded as well,
// each with the time it would have waited (HdrHistogram's
// recordValueWithExpectedInterval), so a stall counts once per request it
// delays rather than once per reader: without this, a closed loop hides
// stalls (coordinated omission). Latency percentiles and misses are over
// these requests; the "raw" figures are over the reads alone.
//
// A miss is a request whose latency is at least Delta/2: it waited for a
// recompute. Reads that hit take microseconds to a millisecond, so the
// threshold separates the two by an order of magnitude, and it is measured
// the same way for every strategy, whatever its code path.
//
// The first Warmup of a run (one TTL by default), holding the first load,
// is left out of every figure.
package xfetch
