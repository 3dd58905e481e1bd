package scaling

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Region is the name of the part of docs/benchmarks.md cmd/scaling owns.
const Region = "scaling"

// WriteMarkdown writes the report's tables.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	c := &r.Config
	fmt.Fprintf(&b, "Command (from the repository root):\n\n```sh\n%s\n```\n\n", c.Command)
	fmt.Fprintf(&b, "Machine: %s; %s. Load average (1, 5, 15 min) %s at the start, %s at the end: the machine is shared with other work, "+
		"so each micro figure is the median of %d runs of %v, every series of a table in turn within a round. Run at %s, took %s.\n\n",
		r.Machine, r.Redis, r.LoadStart, r.LoadEnd, c.Rounds, c.BenchTime, r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	if c.Short {
		b.WriteString("**Short mode**: small sizes, for CI only; these figures mean little.\n\n")
	}
	b.WriteString("Growth is given as the slope between neighbouring points on log-log axes: 0 is a constant cost, 1 a cost that grows as the size.\n\n")
	r.writeValues(&b)
	r.writeBatches(&b)
	r.writeEntries(&b)
	r.writeInstances(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// slope is the log-log slope from (x0, y0) to (x1, y1).
func slope(x0, y0, x1, y1 float64) float64 {
	return math.Log(y1/y0) / math.Log(x1/x0)
}

func us(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "–"
	case ns < 10_000:
		return fmt.Sprintf("%.2f", ns/1e3)
	case ns < 1_000_000:
		return fmt.Sprintf("%.1f", ns/1e3)
	}
	return fmt.Sprintf("%.0f", ns/1e3)
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func size(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// valuePairs are the hoard series of the value table, each with its
// baseline.
var valuePairs = [][2]string{{VMemHit, VOtter}, {VRedisHit, VRawGet}, {VRedisHitS2, VRawGet}, {VMiss, VNaiveMiss}, {VMissS2, VNaiveMiss}, {VGetMany, VMGet}, {VGetManyS2, VMGet}}

func (r *Report) writeValues(b *strings.Builder) {
	b.WriteString("#### Value size: a hit, a miss with write-back, a GetMany\n\n")
	fmt.Fprintf(b, "The value is a `Doc` (an id and a body of English-like words, which S2 shrinks to about half); each row's size is its JSON. "+
		"\"JSON + S2\" is `hoard.Compressed(hoard.JSON, &hoard.CompressOptions{Threshold: 1})`. The miss reads an id no tier holds, loads it "+
		"(the loader costs nothing) and writes it back to memory and Redis; its baseline is a naive cache-aside (GET, json.Marshal, SET). "+
		"GetMany asks for %d ids, all in Redis, memory tier off. µs per operation; × is hoard over its baseline in the same round.\n\n", valuesBatch)
	b.WriteString("| value | stored (JSON) | stored (JSON + S2) |")
	for _, p := range valuePairs {
		fmt.Fprintf(b, " %s | %s | × |", p[0], p[1])
	}
	b.WriteString("\n|--:|--:|--:|" + strings.Repeat("--:|--:|--:|", len(valuePairs)) + "\n")
	for _, v := range r.Values {
		fmt.Fprintf(b, "| %s | %d B | %d B (%.0f%%) |", size(v.Size), v.Stored[codecJSON], v.Stored[codecJSONS2], 100*float64(v.Stored[codecJSONS2])/float64(v.Stored[codecJSON]))
		for _, p := range valuePairs {
			h, base := v.NS[p[0]].Median(), v.NS[p[1]].Median()
			fmt.Fprintf(b, " %s | %s | %s |", us(h), us(base), ratio(h, base))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nGrowth (slope per step):\n\n| series |")
	for i := 1; i < len(r.Values); i++ {
		fmt.Fprintf(b, " %s → %s |", size(r.Values[i-1].Size), size(r.Values[i].Size))
	}
	b.WriteString("\n|---|" + strings.Repeat("--:|", max(len(r.Values)-1, 0)) + "\n")
	for _, name := range []string{VMemHit, VOtter, VRedisHit, VRedisHitS2, VRawGet, VMiss, VMissS2, VNaiveMiss, VGetMany, VGetManyS2, VMGet} {
		fmt.Fprintf(b, "| %s |", name)
		for i := 1; i < len(r.Values); i++ {
			p0, p1 := r.Values[i-1], r.Values[i]
			fmt.Fprintf(b, " %.2f |", slope(float64(p0.Size), p0.NS[name].Median(), float64(p1.Size), p1.NS[name].Median()))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n![value size](scaling-values.png)\n\n")
}

func (r *Report) writeBatches(b *strings.Builder) {
	b.WriteString("#### Batch size: GetMany of 1 to 10,000 ids\n\n")
	b.WriteString("All ids cached: in the memory tier (against otter's `BulkGet` of the same keys), or in Redis with the memory tier off " +
		"(against one `MGET` and a `json.Unmarshal` of each value; hoard splits MGETs at its `BatchSize`, 1,000 keys, and pipelines them). " +
		"ns per id.\n\n")
	b.WriteString("| ids | " + BMemory + " | " + BOtter + " | × | " + BRedis + " | " + BMGet + " | × |\n|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range r.Batches {
		per := func(name string) float64 { return p.NS[name].Median() / float64(p.Size) }
		fmt.Fprintf(b, "| %d | %.0f | %.0f | %s | %.0f | %.0f | %s |\n", p.Size, per(BMemory), per(BOtter), ratio(per(BMemory), per(BOtter)),
			per(BRedis), per(BMGet), ratio(per(BRedis), per(BMGet)))
	}
	b.WriteString("\nGrowth of the cost of a batch (slope per step; 1 is linear in the ids):\n\n| series |")
	for i := 1; i < len(r.Batches); i++ {
		fmt.Fprintf(b, " %d → %d |", r.Batches[i-1].Size, r.Batches[i].Size)
	}
	b.WriteString("\n|---|" + strings.Repeat("--:|", max(len(r.Batches)-1, 0)) + "\n")
	for _, name := range []string{BMemory, BOtter, BRedis, BMGet} {
		fmt.Fprintf(b, "| %s |", name)
		for i := 1; i < len(r.Batches); i++ {
			p0, p1 := r.Batches[i-1], r.Batches[i]
			fmt.Fprintf(b, " %.2f |", slope(float64(p0.Size), p0.NS[name].Median(), float64(p1.Size), p1.NS[name].Median()))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n![batch size](scaling-batch.png)\n\n")
}

func (r *Report) writeEntries(b *strings.Builder) {
	b.WriteString("#### Entries held: a hit and the heap per entry, 10^3 to 10^7\n\n")
	b.WriteString("The memory tier filled through `Aside.GetMany` (capacity the count + 25%), then hits of ids drawn uniformly from all it holds; " +
		"otter (expire after write) filled with `Set` under keys of their own (hoard's are 14 bytes longer: the cache's name). " +
		"Heap: live heap after two GCs, before and after the fill, over the entries, key and `Product` value included.\n\n")
	b.WriteString("| entries | hoard hit (ns) | otter hit (ns) | × | hoard heap per entry | otter heap per entry | × |\n|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range r.Entries {
		if p.Skipped != "" {
			fmt.Fprintf(b, "| %d | %s | | | | | |\n", p.Entries, p.Skipped)
			continue
		}
		h, o := p.NS[EHoard].Median(), p.NS[EOtter].Median()
		fmt.Fprintf(b, "| %d | %.0f | %.0f | %s | %.0f B | %.0f B | %s |\n", p.Entries, h, o, ratio(h, o), p.PerEntry[EHoard], p.PerEntry[EOtter],
			ratio(p.PerEntry[EHoard], p.PerEntry[EOtter]))
	}
	b.WriteString("\n![entries](scaling-entries.png)\n\n")
}

func (r *Report) writeInstances(b *strings.Builder) {
	c := r.Config.Instances
	b.WriteString("#### Instances sharing one Redis\n\n")
	fmt.Fprintf(b, "1 to 8 instances of one application (each a `hoardredis.Service` on its own client: memory tier of %d entries, Redis tier, "+
		"bus, the default Locker) share a read load of %d reads per second over %d keys drawn from a Zipf distribution (s = 1.01); TTL %v; "+
		"%v of warm-up, then %v measured. Round trips are counted by the clients, commands by the server (INFO commandstats, which also counts "+
		"the commands run inside scripts).\n\n", c.MemoryEntries, c.Rate, c.Keys, c.TTL, c.Warmup, c.Duration)
	b.WriteString("| instances | reads/s | memory tier answered | loader calls/s | Redis round trips/s | Redis commands/s | round trips per read |\n|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range r.Instances {
		cmds := "–"
		if p.Commands >= 0 {
			cmds = fmt.Sprintf("%.0f", p.Commands)
		}
		fmt.Fprintf(b, "| %d | %.0f | %.1f%% | %.1f | %.0f | %s | %.3f |\n", p.Instances, p.Reads, 100*p.MemoryShare, p.Loads, p.RoundTrips, cmds, p.RoundTrips/p.Reads)
	}
	b.WriteString("\n![instances](scaling-instances.png)\n")
}
