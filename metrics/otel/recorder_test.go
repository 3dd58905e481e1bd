package otel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	otelglobal "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
)

// testBuckets keep the expected histograms short.
var testBuckets = []float64{0.01, 0.1, 1}

// newTestRecorder returns a Recorder on an SDK provider with a manual
// reader, which the test collects from.
func newTestRecorder(t testing.TB) (*Recorder, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	rec, err := New(mp, &Options{LoadBuckets: testBuckets})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return rec, reader
}

// collect reads every metric of the hoard scope, by name.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, ScopeName)
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
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

func eventAttrs(cache, event, tier string) attribute.Set {
	return attribute.NewSet(
		attribute.String("cache", cache), attribute.String("event", event), attribute.String("tier", tier))
}

// eventKeyOf is eventAttrs as a map key.
func eventKeyOf(cache, event, tier string) attribute.Distinct {
	set := eventAttrs(cache, event, tier)
	return set.Equivalent()
}

func TestRecorderValues(t *testing.T) {
	rec, reader := newTestRecorder(t)
	feed(hoard.NewMetrics("products", rec))
	got := collect(t, reader)

	wantEvents := metricdata.Metrics{
		Name:        EventsName,
		Description: "Cache events (hit, miss, load, eviction, ...) by cache, event and tier.",
		Unit:        "{event}",
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality,
			IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{
				{Attributes: eventAttrs("products", "hit", "memory"), Value: 3},
				{Attributes: eventAttrs("products", "hit", "shared"), Value: 1},
				{Attributes: eventAttrs("products", "miss", ""), Value: 2},
				{Attributes: eventAttrs("products", "load", ""), Value: 2},
				{Attributes: eventAttrs("products", "load_error", ""), Value: 1},
				{Attributes: eventAttrs("products", "lock_wait", ""), Value: 1},
				{Attributes: eventAttrs("products", "eviction", "memory"), Value: 7},
			},
		},
	}
	metricdatatest.AssertEqual(t, wantEvents, got[EventsName], metricdatatest.IgnoreTimestamp())

	wantLoads := metricdata.Metrics{
		Name:        LoadDurationName,
		Description: "Duration of cache loader calls, by cache and outcome (ok or error).",
		Unit:        "s",
		Data: metricdata.Histogram[float64]{
			Temporality: metricdata.CumulativeTemporality,
			DataPoints: []metricdata.HistogramDataPoint[float64]{
				{
					Attributes:   attribute.NewSet(attribute.String("cache", "products"), attribute.String("outcome", "ok")),
					Count:        1,
					Sum:          0.02,
					Bounds:       testBuckets,
					BucketCounts: []uint64{0, 1, 0, 0},
					Min:          metricdata.NewExtrema(0.02),
					Max:          metricdata.NewExtrema(0.02),
				},
				{
					Attributes:   attribute.NewSet(attribute.String("cache", "products"), attribute.String("outcome", "error")),
					Count:        1,
					Sum:          3,
					Bounds:       testBuckets,
					BucketCounts: []uint64{0, 0, 0, 1},
					Min:          metricdata.NewExtrema(3.0),
					Max:          metricdata.NewExtrema(3.0),
				},
			},
		},
	}
	metricdatatest.AssertEqual(t, wantLoads, got[LoadDurationName], metricdatatest.IgnoreTimestamp())

	wantWait := metricdata.Metrics{
		Name:        LockWaitName,
		Description: "Time spent waiting for another process's load of the same key, by cache.",
		Unit:        "s",
		Data: metricdata.Histogram[float64]{
			Temporality: metricdata.CumulativeTemporality,
			DataPoints: []metricdata.HistogramDataPoint[float64]{{
				Attributes:   attribute.NewSet(attribute.String("cache", "products")),
				Count:        1,
				Sum:          0.005,
				Bounds:       testBuckets, // LockWaitBuckets default to LoadBuckets
				BucketCounts: []uint64{1, 0, 0, 0},
				Min:          metricdata.NewExtrema(0.005),
				Max:          metricdata.NewExtrema(0.005),
			}},
		},
	}
	metricdatatest.AssertEqual(t, wantWait, got[LockWaitName], metricdatatest.IgnoreTimestamp())

	if len(got) != 3 {
		t.Errorf("collected %d metrics, want 3", len(got))
	}
}

// sums returns hoard.events' points by attribute set.
func sums(t *testing.T, m metricdata.Metrics) map[attribute.Distinct]int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is %T, want metricdata.Sum[int64]", m.Name, m.Data)
	}
	out := map[attribute.Distinct]int64{}
	for _, dp := range sum.DataPoints {
		out[dp.Attributes.Equivalent()] = dp.Value
	}
	return out
}

func TestConcurrent(t *testing.T) {
	rec, reader := newTestRecorder(t)
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

	got := collect(t, reader)
	s := sums(t, got[EventsName])
	var hits, loads int64
	for _, c := range caches {
		hits += s[eventKeyOf(c.Name(), "hit", "memory")]
		hits += s[eventKeyOf(c.Name(), "hit", "shared")]
		loads += s[eventKeyOf(c.Name(), "load", "")]
	}
	if want := int64(2 * goroutines * perG); hits != want {
		t.Errorf("hits = %d, want %d", hits, want)
	}
	if want := int64(goroutines * perG); loads != want {
		t.Errorf("loads = %d, want %d", loads, want)
	}
	var count uint64
	for _, dp := range got[LoadDurationName].Data.(metricdata.Histogram[float64]).DataPoints {
		count += dp.Count
	}
	if want := uint64(goroutines * perG); count != want {
		t.Errorf("load durations = %d, want %d", count, want)
	}
}

func TestAddAllocs(t *testing.T) {
	for name, rec := range map[string]*Recorder{
		"sdk":  func() *Recorder { r, _ := newTestRecorder(t); return r }(),
		"noop": must(New(noop.NewMeterProvider(), nil)),
	} {
		rec.Add("products", hoard.EventHit, hoard.TierMemory, 1)
		rec.ObserveLoad("products", time.Millisecond, false)
		rec.ObserveLockWait("products", time.Millisecond)
		for op, f := range map[string]func(){
			"Add":             func() { rec.Add("products", hoard.EventHit, hoard.TierMemory, 1) },
			"ObserveLoad":     func() { rec.ObserveLoad("products", time.Millisecond, false) },
			"ObserveLockWait": func() { rec.ObserveLockWait("products", time.Millisecond) },
		} {
			if n := testing.AllocsPerRun(1000, f); n != 0 {
				t.Errorf("%s %s: %v allocs per call after warm-up, want 0", name, op, n)
			}
		}
	}
}

func must(r *Recorder, err error) *Recorder {
	if err != nil {
		panic(err)
	}
	return r
}

func TestIgnoresNonPositiveAndNil(t *testing.T) {
	rec, reader := newTestRecorder(t)
	rec.Add("products", hoard.EventHit, hoard.TierMemory, 0)
	rec.Add("products", hoard.EventHit, hoard.TierMemory, -5)
	rec.ObserveLoad("products", -time.Second, false)
	got := collect(t, reader)
	if m, ok := got[EventsName]; ok && len(m.Data.(metricdata.Sum[int64]).DataPoints) != 0 {
		t.Errorf("n ≤ 0 made points: %+v", m.Data)
	}
	dp := got[LoadDurationName].Data.(metricdata.Histogram[float64]).DataPoints
	if len(dp) != 1 || dp[0].Sum != 0 {
		t.Errorf("negative duration: %+v, want one point with sum 0", dp)
	}

	var nilRec *Recorder
	m := hoard.NewMetrics("products", nilRec) // a typed nil in the interface
	feed(m)
	if got := m.Snapshot().Total(hoard.EventHit); got != 4 {
		t.Errorf("hoard's own count = %d, want 4", got)
	}
}

func TestInvalidUTF8CacheName(t *testing.T) {
	rec, reader := newTestRecorder(t)
	rec.Add("bad\xffname", hoard.EventHit, hoard.TierMemory, 2)
	s := sums(t, collect(t, reader)[EventsName])
	if got := s[eventKeyOf("bad\uFFFDname", "hit", "memory")]; got != 2 {
		t.Errorf("sanitised series = %d, want 2 (all: %v)", got, s)
	}
}

// Two Recorders on one provider feed the same series.
func TestTwoRecordersOneProvider(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	a := must(New(mp, nil))
	b := must(New(mp, nil))
	a.Add("products", hoard.EventHit, hoard.TierMemory, 1)
	b.Add("products", hoard.EventHit, hoard.TierMemory, 2)
	s := sums(t, collect(t, reader)[EventsName])
	if got := s[eventKeyOf("products", "hit", "memory")]; got != 3 || len(s) != 1 {
		t.Errorf("points %v, want one of 3", s)
	}
}

// A nil provider is the global one.
func TestNilProviderIsGlobal(t *testing.T) {
	prev := otelglobal.GetMeterProvider()
	defer otelglobal.SetMeterProvider(prev)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	otelglobal.SetMeterProvider(mp)

	rec, err := New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec.Add("products", hoard.EventMiss, hoard.TierNone, 4)
	s := sums(t, collect(t, reader)[EventsName])
	if got := s[eventKeyOf("products", "miss", "")]; got != 4 {
		t.Errorf("global provider saw %v, want miss 4", s)
	}
}

func TestDefaultBuckets(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	rec := must(New(mp, nil))
	rec.ObserveLoad("products", 3*time.Millisecond, false)
	rec.ObserveLockWait("products", 3*time.Millisecond)
	got := collect(t, reader)
	for _, name := range []string{LoadDurationName, LockWaitName} {
		dp := got[name].Data.(metricdata.Histogram[float64]).DataPoints[0]
		if len(dp.Bounds) != 16 || dp.Bounds[0] != 0.0005 || math.Abs(dp.Bounds[15]-16.384) > 1e-9 {
			t.Errorf("%s bounds %v, want 0.0005 doubling to 16.384", name, dp.Bounds)
		}
		// 3ms is in (0.002, 0.004]: bucket 3.
		if dp.BucketCounts[3] != 1 {
			t.Errorf("%s bucket counts %v, want 3ms in bucket 3", name, dp.BucketCounts)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for name, o := range map[string]Options{
		"empty buckets":         {LoadBuckets: []float64{}},
		"equal buckets":         {LoadBuckets: []float64{0.1, 0.1}},
		"decreasing buckets":    {LoadBuckets: []float64{1, 0.1}},
		"NaN bucket":            {LoadBuckets: []float64{math.NaN()}},
		"+Inf bucket":           {LoadBuckets: []float64{1, math.Inf(1)}},
		"bad lock wait buckets": {LockWaitBuckets: []float64{2, 1}},
	} {
		t.Run(name, func(t *testing.T) {
			rec, err := New(noop.NewMeterProvider(), &o)
			if !errors.Is(err, hoard.ErrInvalidOption) || rec != nil {
				t.Fatalf("New = %v, %v; want ErrInvalidOption", rec, err)
			}
			if !strings.HasPrefix(err.Error(), "hoard: ") {
				t.Errorf("error %q lacks the hoard: prefix", err)
			}
		})
	}
	b := []float64{0.01, 0.1}
	o := &Options{LoadBuckets: b}
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

// BenchmarkAddNoop is the Recorder's own cost: the noop provider does
// nothing with the measurement.
func BenchmarkAddNoop(b *testing.B) {
	rec := must(New(noop.NewMeterProvider(), nil))
	b.ReportAllocs()
	for b.Loop() {
		rec.Add("products", hoard.EventHit, hoard.TierMemory, 1)
	}
}

// BenchmarkWithAttributes is what Add would cost building its attributes
// on every call.
func BenchmarkWithAttributes(b *testing.B) {
	rec, _ := newTestRecorder(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rec.events.Add(ctx, 1, metric.WithAttributes(
			attribute.String("cache", "products"),
			attribute.String("event", hoard.EventHit.String()),
			attribute.String("tier", hoard.TierMemory.String())))
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
