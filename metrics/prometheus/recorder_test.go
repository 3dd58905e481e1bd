package prometheus

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// newTestRecorder returns a Recorder on a fresh registry, with three load
// buckets so expected histograms stay short.
func newTestRecorder(t testing.TB) (*Recorder, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	rec, err := New(&Options{Registerer: reg, LoadBuckets: []float64{0.01, 0.1, 1}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return rec, reg
}

// feed sends the same events through hoard.Metrics in every test.
func feed(m *hoard.Metrics) {
	m.Hit(hoard.TierMemory)
	m.Hit(hoard.TierMemory)
	m.Hit(hoard.TierMemory)
	m.Hit(hoard.TierShared)
	m.Miss()
	m.Miss()
	m.ObserveLoad(20*time.Millisecond, false)
	m.ObserveLoad(3*time.Second, true)
	m.ObserveLockWait(5 * time.Millisecond)
	m.Add(hoard.EventEviction, hoard.TierMemory, 7)
}

// wantEvents are the hoard_events_total values feed produces.
var wantEvents = []struct {
	event, tier string
	want        float64
}{
	{"hit", "memory", 3},
	{"hit", "shared", 1},
	{"miss", "", 2},
	{"load", "", 2},
	{"load_error", "", 1},
	{"lock_wait", "", 1},
	{"eviction", "memory", 7},
}

func TestRecorderValues(t *testing.T) {
	rec, reg := newTestRecorder(t)
	feed(hoard.NewMetrics("products", rec))

	for _, w := range wantEvents {
		got := testutil.ToFloat64(rec.events.WithLabelValues("products", w.event, w.tier))
		if got != w.want {
			t.Errorf("hoard_events_total{event=%q,tier=%q} = %v, want %v", w.event, w.tier, got, w.want)
		}
	}
	if n := testutil.CollectAndCount(rec.events); n != len(wantEvents) {
		t.Errorf("hoard_events_total has %d series, want %d", n, len(wantEvents))
	}

	const want = `
# HELP hoard_load_duration_seconds Duration of cache loader calls, by cache and outcome (ok or error).
# TYPE hoard_load_duration_seconds histogram
hoard_load_duration_seconds_bucket{cache="products",outcome="error",le="0.01"} 0
hoard_load_duration_seconds_bucket{cache="products",outcome="error",le="0.1"} 0
hoard_load_duration_seconds_bucket{cache="products",outcome="error",le="1"} 0
hoard_load_duration_seconds_bucket{cache="products",outcome="error",le="+Inf"} 1
hoard_load_duration_seconds_sum{cache="products",outcome="error"} 3
hoard_load_duration_seconds_count{cache="products",outcome="error"} 1
hoard_load_duration_seconds_bucket{cache="products",outcome="ok",le="0.01"} 0
hoard_load_duration_seconds_bucket{cache="products",outcome="ok",le="0.1"} 1
hoard_load_duration_seconds_bucket{cache="products",outcome="ok",le="1"} 1
hoard_load_duration_seconds_bucket{cache="products",outcome="ok",le="+Inf"} 1
hoard_load_duration_seconds_sum{cache="products",outcome="ok"} 0.02
hoard_load_duration_seconds_count{cache="products",outcome="ok"} 1
# HELP hoard_lock_wait_seconds Time spent waiting for another process's load of the same key, by cache.
# TYPE hoard_lock_wait_seconds histogram
hoard_lock_wait_seconds_bucket{cache="products",le="0.01"} 1
hoard_lock_wait_seconds_bucket{cache="products",le="0.1"} 1
hoard_lock_wait_seconds_bucket{cache="products",le="1"} 1
hoard_lock_wait_seconds_bucket{cache="products",le="+Inf"} 1
hoard_lock_wait_seconds_sum{cache="products"} 0.005
hoard_lock_wait_seconds_count{cache="products"} 1
`
	if err := testutil.CollectAndCompare(rec.loads, strings.NewReader(want), "hoard_load_duration_seconds"); err != nil {
		t.Error(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hoard_load_duration_seconds", "hoard_lock_wait_seconds"); err != nil {
		t.Error(err)
	}
}

// TestScrape reads the series the way Prometheus does: over HTTP, as text.
func TestScrape(t *testing.T) {
	rec, reg := newTestRecorder(t)
	feed(hoard.NewMetrics("products", rec))

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q, want text/plain", ct)
	}

	lines := map[string]bool{}     // every sample line, verbatim
	samples := map[string]string{} // series -> value
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines[line] = true
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("malformed sample line %q", line)
		}
		samples[line[:i]] = line[i+1:]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	for _, want := range []string{
		`hoard_events_total{cache="products",event="hit",tier="memory"} 3`,
		`hoard_events_total{cache="products",event="hit",tier="shared"} 1`,
		`hoard_events_total{cache="products",event="eviction",tier="memory"} 7`,
		`hoard_load_duration_seconds_count{cache="products",outcome="ok"} 1`,
		`hoard_load_duration_seconds_count{cache="products",outcome="error"} 1`,
		`hoard_load_duration_seconds_bucket{cache="products",outcome="ok",le="0.1"} 1`,
		`hoard_lock_wait_seconds_sum{cache="products"} 0.005`,
	} {
		if !lines[want] {
			t.Errorf("scrape lacks line %s", want)
		}
	}
	// Every event, TierNone's included: its empty tier is written tier="".
	for _, w := range wantEvents {
		series := fmt.Sprintf(`hoard_events_total{cache="products",event=%q,tier=%q}`, w.event, w.tier)
		if got, ok := samples[series]; !ok || got != fmt.Sprint(w.want) {
			t.Errorf("scrape: %s = %q (found %v), want %v", series, got, ok, w.want)
		}
	}
	if t.Failed() {
		t.Logf("scraped samples: %v", samples)
	}
}

func TestConcurrent(t *testing.T) {
	rec, _ := newTestRecorder(t)
	caches := []*hoard.Metrics{
		hoard.NewMetrics("a", rec), hoard.NewMetrics("b", rec), hoard.NewMetrics("c", rec),
	}
	const goroutines, perG = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				m := caches[(g+i)%len(caches)]
				m.Hit(hoard.TierMemory)
				m.Hit(hoard.TierShared)
				m.ObserveLoad(time.Millisecond, i%2 == 0)
				m.ObserveLockWait(time.Millisecond)
			}
		})
	}
	wg.Wait()

	var hits, loads, waits float64
	for _, c := range caches {
		name := c.Name()
		hits += testutil.ToFloat64(rec.events.WithLabelValues(name, "hit", "memory"))
		hits += testutil.ToFloat64(rec.events.WithLabelValues(name, "hit", "shared"))
		loads += testutil.ToFloat64(rec.events.WithLabelValues(name, "load", ""))
		waits += testutil.ToFloat64(rec.events.WithLabelValues(name, "lock_wait", ""))
	}
	if want := float64(2 * goroutines * perG); hits != want {
		t.Errorf("hits = %v, want %v", hits, want)
	}
	if want := float64(goroutines * perG); loads != want || waits != want {
		t.Errorf("loads, lock waits = %v, %v, want %v each", loads, waits, want)
	}
	if n := testutil.CollectAndCount(rec.loads); n != 2*len(caches) {
		t.Errorf("hoard_load_duration_seconds has %d series, want %d", n, 2*len(caches))
	}
}

func TestAddAllocs(t *testing.T) {
	rec, _ := newTestRecorder(t)
	rec.Add("products", hoard.EventHit, hoard.TierMemory, 1)
	rec.ObserveLoad("products", time.Millisecond, false)
	rec.ObserveLockWait("products", time.Millisecond)
	for name, f := range map[string]func(){
		"Add":             func() { rec.Add("products", hoard.EventHit, hoard.TierMemory, 1) },
		"ObserveLoad":     func() { rec.ObserveLoad("products", time.Millisecond, false) },
		"ObserveLockWait": func() { rec.ObserveLockWait("products", time.Millisecond) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs per call after warm-up, want 0", name, n)
		}
	}
}

func TestIgnoresNonPositiveAndNil(t *testing.T) {
	rec, _ := newTestRecorder(t)
	rec.Add("products", hoard.EventHit, hoard.TierMemory, 0)
	rec.Add("products", hoard.EventHit, hoard.TierMemory, -5) // a counter panics on this
	if n := testutil.CollectAndCount(rec.events); n != 0 {
		t.Errorf("n ≤ 0 made %d series, want none", n)
	}
	rec.ObserveLoad("products", -time.Second, false)
	if got := testutil.ToFloat64(rec.events.WithLabelValues("x", "hit", "")); got != 0 {
		t.Errorf("fresh series = %v", got)
	}

	var nilRec *Recorder
	m := hoard.NewMetrics("products", nilRec) // a typed nil in the interface
	feed(m)
	if got := m.Snapshot().Total(hoard.EventHit); got != 4 {
		t.Errorf("hoard's own count = %d, want 4", got)
	}
}

func TestInvalidUTF8CacheName(t *testing.T) {
	rec, _ := newTestRecorder(t)
	rec.Add("bad\xffname", hoard.EventHit, hoard.TierMemory, 2) // client_golang panics on invalid UTF-8 labels
	if got := testutil.ToFloat64(rec.events.WithLabelValues("bad\uFFFDname", "hit", "memory")); got != 2 {
		t.Errorf("sanitised series = %v, want 2", got)
	}
}

func TestReuseRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := New(&Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(&Options{Registerer: reg})
	if err != nil {
		t.Fatalf("second New on the same registry: %v", err)
	}
	a.Add("products", hoard.EventHit, hoard.TierMemory, 1)
	b.Add("products", hoard.EventHit, hoard.TierMemory, 2)
	const want = `
# HELP hoard_events_total Cache events (hit, miss, load, eviction, ...) by cache, event and tier.
# TYPE hoard_events_total counter
hoard_events_total{cache="products",event="hit",tier="memory"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hoard_events_total"); err != nil {
		t.Error(err)
	}

	// Another namespace is another set of series, on the same registry.
	if _, err := New(&Options{Registerer: reg, Namespace: "other"}); err != nil {
		t.Errorf("New with another namespace: %v", err)
	}
}

func TestRegistrationConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	// Someone else's histogram under one of our names, with other labels.
	theirs := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hoard_lock_wait_seconds", Help: "theirs",
	}, []string{"queue"})
	reg.MustRegister(theirs)

	rec, err := New(&Options{Registerer: reg})
	if err == nil || rec != nil {
		t.Fatalf("New = %v, %v; want an error", rec, err)
	}
	if !strings.HasPrefix(err.Error(), "hoard: ") || errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("error %q: want a hoard: error that is not ErrInvalidOption", err)
	}
	// New undid the registrations it had made before the conflict: a
	// counter just like its hoard_events_total registers anew, where it
	// would be AlreadyRegisteredError had New left its own behind.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 0 {
		t.Errorf("registry gathers %d families after the failed New, want 0", len(mfs))
	}
	again := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "hoard", Name: "events_total",
		Help: "Cache events (hit, miss, load, eviction, ...) by cache, event and tier.",
	}, []string{"cache", "event", "tier"})
	if err := reg.Register(again); err != nil {
		t.Errorf("New left its counter registered: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for name, o := range map[string]Options{
		"namespace starts with digit": {Namespace: "1hoard"},
		"namespace with dash":         {Namespace: "my-app"},
		"namespace with dot":          {Namespace: "my.app"},
		"empty buckets":               {LoadBuckets: []float64{}},
		"equal buckets":               {LoadBuckets: []float64{0.1, 0.1}},
		"decreasing buckets":          {LoadBuckets: []float64{1, 0.1}},
		"NaN bucket":                  {LoadBuckets: []float64{math.NaN()}},
		"bad lock wait buckets":       {LockWaitBuckets: []float64{2, 1}},
	} {
		t.Run(name, func(t *testing.T) {
			o.Registerer = prometheus.NewRegistry()
			rec, err := New(&o)
			if !errors.Is(err, hoard.ErrInvalidOption) || rec != nil {
				t.Fatalf("New = %v, %v; want ErrInvalidOption", rec, err)
			}
			if !strings.HasPrefix(err.Error(), "hoard: ") {
				t.Errorf("error %q lacks the hoard: prefix", err)
			}
		})
	}
	for name, o := range map[string]Options{
		"zero":            {},
		"namespace":       {Namespace: "app_cache:v2"},
		"+Inf last":       {LoadBuckets: []float64{0.1, 1, math.Inf(1)}},
		"lock wait apart": {LockWaitBuckets: []float64{0.001}},
	} {
		t.Run(name, func(t *testing.T) {
			o.Registerer = prometheus.NewRegistry()
			if _, err := New(&o); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
}

func TestNewNil(t *testing.T) {
	// nil options register on the default registry; reuse makes a second
	// call fine too, in this test and in any run of it (-count).
	before := defaultEvents(t)
	for range 2 {
		rec, err := New(nil)
		if err != nil {
			t.Fatalf("New(nil): %v", err)
		}
		rec.Add("products", hoard.EventHit, hoard.TierMemory, 1)
	}
	if got := defaultEvents(t) - before; got != 2 {
		t.Errorf("hoard_events_total on the default registry grew by %v, want 2", got)
	}
}

// defaultEvents sums hoard_events_total on the default registry.
func defaultEvents(t *testing.T) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var events float64
	for _, mf := range mfs {
		if mf.GetName() == "hoard_events_total" {
			for _, m := range mf.GetMetric() {
				events += m.GetCounter().GetValue()
			}
		}
	}
	return events
}

// The callers' bucket slices are copied, not kept.
func TestBucketsCopied(t *testing.T) {
	b := []float64{0.01, 0.1, 1}
	o := &Options{Registerer: prometheus.NewRegistry(), LoadBuckets: b}
	if _, err := New(o); err != nil {
		t.Fatal(err)
	}
	c := o.withDefaults()
	b[0] = 5
	if c.LoadBuckets[0] != 0.01 || c.LockWaitBuckets[0] != 0.01 {
		t.Errorf("withDefaults kept the caller's slice: %v %v", c.LoadBuckets, c.LockWaitBuckets)
	}
}

func BenchmarkAdd(b *testing.B) {
	rec, _ := newTestRecorder(b)
	rec.Add("products", hoard.EventHit, hoard.TierMemory, 1)
	b.ReportAllocs()
	for b.Loop() {
		rec.Add("products", hoard.EventHit, hoard.TierMemory, 1)
	}
}

func BenchmarkAddParallel(b *testing.B) {
	rec, _ := newTestRecorder(b)
	rec.Add("products", hoard.EventHit, hoard.TierMemory, 1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec.Add("products", hoard.EventHit, hoard.TierMemory, 1)
		}
	})
}

// BenchmarkAddManySeries looks up among 10 caches × every event × 3 tiers.
func BenchmarkAddManySeries(b *testing.B) {
	rec, _ := newTestRecorder(b)
	names := make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprintf("cache-%d", i)
		for _, ev := range hoard.Events() {
			for _, tier := range []hoard.Tier{hoard.TierNone, hoard.TierMemory, hoard.TierShared} {
				rec.Add(names[i], ev, tier, 1)
			}
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec.Add(names[i%len(names)], hoard.EventHit, hoard.TierMemory, 1)
		i++
	}
}

// BenchmarkWithLabelValues is what Add would cost without its bound map.
func BenchmarkWithLabelValues(b *testing.B) {
	rec, _ := newTestRecorder(b)
	b.ReportAllocs()
	for b.Loop() {
		rec.events.WithLabelValues("products", hoard.EventHit.String(), hoard.TierMemory.String()).Add(1)
	}
}

func BenchmarkObserveLoad(b *testing.B) {
	rec, _ := newTestRecorder(b)
	b.ReportAllocs()
	for b.Loop() {
		rec.ObserveLoad("products", 3*time.Millisecond, false)
	}
}

// BenchmarkMetricsHit is a cache hit through hoard.Metrics, which counts
// the event itself and then calls the Recorder.
func BenchmarkMetricsHit(b *testing.B) {
	rec, _ := newTestRecorder(b)
	m := hoard.NewMetrics("products", rec)
	b.ReportAllocs()
	for b.Loop() {
		m.Hit(hoard.TierMemory)
	}
}
