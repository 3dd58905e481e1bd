package xfetch

import (
	"testing"
	"time"
)

// A read slower than the think time stands for the requests a paced client
// would have sent while it ran, each waiting until its end.
func TestRecorderBackfills(t *testing.T) {
	r := newRecorder(0, 0, time.Hour, 25*time.Millisecond, 1024)
	r.read(10*time.Millisecond, 50*time.Millisecond, time.Millisecond)
	if r.counts.reads != 1 || r.counts.requests != 50 {
		t.Fatalf("reads %d, requests %d; want 1 and 50 (the read and 49 backfilled)", r.counts.reads, r.counts.requests)
	}
	// Latencies 50ms (the read), then 49ms ... 1ms: 26 of them ≥ 25ms.
	if r.counts.misses != 26 || r.counts.rawMisses != 1 {
		t.Errorf("misses %d, raw misses %d; want 26 and 1", r.counts.misses, r.counts.rawMisses)
	}
	last := r.samples[len(r.samples)-1]
	if !last.Backfilled || last.At != 59*time.Millisecond || last.Latency != time.Millisecond {
		t.Errorf("last sample %+v; want backfilled at 59ms, waiting 1ms", last)
	}
	// A tight loop (no think time) backfills nothing.
	r = newRecorder(0, 0, time.Hour, 25*time.Millisecond, 1024)
	r.read(0, 50*time.Millisecond, -1)
	if r.counts.requests != 1 {
		t.Errorf("tight loop: %d requests; want 1", r.counts.requests)
	}
}

// Requests outside the window are not counted.
func TestRecorderWindow(t *testing.T) {
	r := newRecorder(0, time.Second, 2*time.Second, time.Millisecond, 16)
	for _, at := range []time.Duration{0, 999 * time.Millisecond, time.Second, 1999 * time.Millisecond, 2 * time.Second} {
		r.add(Sample{At: at, Latency: time.Microsecond})
	}
	if r.counts.requests != 2 || len(r.samples) != 2 {
		t.Errorf("%d requests, %d samples in [1s, 2s); want 2", r.counts.requests, len(r.samples))
	}
}

// Past MaxSamples the samples thin out evenly, and the counts stay exact.
func TestRecorderThins(t *testing.T) {
	r := newRecorder(0, 0, time.Hour, time.Second, 8)
	for i := range 100 {
		r.add(Sample{At: time.Duration(i), Latency: time.Duration(i)})
	}
	if r.counts.requests != 100 || r.counts.max != 99 {
		t.Errorf("requests %d, max %v; want 100 and 99ns", r.counts.requests, r.counts.max)
	}
	if len(r.samples) > 8 || len(r.samples) < 4 {
		t.Fatalf("%d samples kept; want 4 to 8", len(r.samples))
	}
	step := r.samples[1].At - r.samples[0].At
	for i := 1; i < len(r.samples); i++ {
		if d := r.samples[i].At - r.samples[i-1].At; d != step {
			t.Errorf("samples %v: uneven steps", r.samples)
			break
		}
	}
	if r.samples[len(r.samples)-1].At < 64 {
		t.Errorf("samples %v do not reach the end of the run", r.samples)
	}
}

func TestQuantile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := quantile(lat, c.q); got != c.want {
			t.Errorf("quantile(1..100, %v) = %v; want %v", c.q, got, c.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
}

// Recomputes closer than the gap answer one expiry.
func TestGroupRecomputes(t *testing.T) {
	ms := time.Millisecond
	rs := []Recompute{
		{Start: 100 * ms, End: 150 * ms}, // before from: left out
		{Start: 1000 * ms, End: 1050 * ms},
		{Start: 1001 * ms, End: 1060 * ms},
		{Start: 1400 * ms, End: 1450 * ms}, // 399ms after the last start: same expiry
		{Start: 2000 * ms, End: 2050 * ms},
	}
	got := groupRecomputes(rs, time.Second, 3*time.Second, 500*ms)
	if len(got) != 2 || got[0].Recomputes != 3 || got[0].Last != 1450*ms || got[1].Recomputes != 1 {
		t.Errorf("groupRecomputes = %+v", got)
	}
}

func TestCheckVerdicts(t *testing.T) {
	ms := time.Millisecond
	cfg, err := Short().withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	rep := &Report{Config: cfg, Results: []Result{
		{Strategy: Plain, Latency: Latency{P99: 15 * ms}, Expiries: []Expiry{{Recomputes: 8}, {Recomputes: 1}}},
		{Strategy: XFetchLock, Misses: 1, Latency: Latency{P99: 3 * time.Microsecond}, Hit: Latency{P99: 2 * time.Microsecond}, PerPeriod: 1.4},
	}}
	verdicts := map[string]string{}
	for _, tg := range Check(rep) {
		verdicts[tg.Name] = tg.Verdict()
	}
	for name, want := range map[string]string{
		"xfetch: 0 misses after the warm-up":                 "not evaluated",
		"xfetch+lock: 0 misses after the warm-up":            "NOT met",
		"xfetch+lock: p99 within 2x of a hit's p99":          "met",
		"xfetch+lock: at most 1.5 recomputes per TTL period": "met",
		"plain: a recompute storm at every expiry":           "NOT met",
		"plain: p99 near delta":                              "met",
	} {
		if verdicts[name] != want {
			t.Errorf("%s: %q; want %q", name, verdicts[name], want)
		}
	}
}

// A slow request while no recompute ran is a stall, not a wait for one.
func TestStalls(t *testing.T) {
	ms := time.Millisecond
	rs := []Recompute{{Start: 100 * ms, End: 150 * ms}, {Start: 120 * ms, End: 400 * ms}, {Start: 1000 * ms, End: 1050 * ms}}
	r := newRecorder(0, 0, time.Hour, 25*ms, 64)
	for _, s := range []Sample{
		{At: 90 * ms, Latency: 30 * ms},   // overlaps the first: a miss
		{At: 300 * ms, Latency: 30 * ms},  // overlaps the long second one: a miss
		{At: 500 * ms, Latency: 40 * ms},  // nothing runs: a stall
		{At: 960 * ms, Latency: 40 * ms},  // ends as the third begins: a stall
		{At: 1040 * ms, Latency: 5 * ms},  // fast: neither
		{At: 1049 * ms, Latency: 30 * ms}, // overlaps the third's end: a miss
	} {
		r.add(s)
	}
	if n := stalls([]*recorder{r}, rs, 25*ms); n != 2 {
		t.Errorf("stalls = %d; want 2", n)
	}
}

func TestMS(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1340 * time.Nanosecond:   "1.3 µs",
		250 * time.Microsecond:   "0.25 ms",
		47400 * time.Microsecond: "47.4 ms",
		135 * time.Millisecond:   "135 ms",
	} {
		if got := ms(d); got != want {
			t.Errorf("ms(%v) = %q; want %q", d, got, want)
		}
	}
}
