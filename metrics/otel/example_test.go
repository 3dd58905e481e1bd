package otel_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hoard-cache/hoard"
	hoardotel "github.com/hoard-cache/hoard/metrics/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func Example() {
	// A real program passes its MeterProvider (or nil for the global one);
	// here an SDK provider with a manual reader shows what is exported.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	rec, err := hoardotel.New(mp, nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Every cache built with these metrics reports through rec.
	m := hoard.NewMetrics("products", rec)
	m.Hit(hoard.TierMemory)
	m.Hit(hoard.TierMemory)
	m.Hit(hoard.TierShared)
	m.ObserveLoad(250*time.Millisecond, false)

	// The SDK returns points in no set order: sort them to print.
	var lines []string
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch data := mt.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range data.DataPoints {
					ev, _ := dp.Attributes.Value("event")
					tier, _ := dp.Attributes.Value("tier")
					lines = append(lines, fmt.Sprintf("%s event=%s tier=%q: %d", mt.Name, ev.AsString(), tier.AsString(), dp.Value))
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					outcome, _ := dp.Attributes.Value("outcome")
					lines = append(lines, fmt.Sprintf("%s outcome=%s: count %d, sum %g%s", mt.Name, outcome.AsString(), dp.Count, dp.Sum, mt.Unit))
				}
			}
		}
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// hoard.events event=hit tier="memory": 2
	// hoard.events event=hit tier="shared": 1
	// hoard.events event=load tier="": 1
	// hoard.load.duration outcome=ok: count 1, sum 0.25s
}
