package prometheus_test

import (
	"fmt"
	"os"
	"time"

	"github.com/hoard-cache/hoard"
	hoardprom "github.com/hoard-cache/hoard/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

func Example() {
	reg := prometheus.NewRegistry() // or leave Registerer nil for the default registry
	rec, err := hoardprom.New(&hoardprom.Options{Registerer: reg})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Every cache built with these metrics reports through rec.
	m := hoard.NewMetrics("products", rec)
	m.Hit(hoard.TierMemory)
	m.Hit(hoard.TierMemory)
	m.Hit(hoard.TierShared)
	m.ObserveLoad(12*time.Millisecond, false)

	mfs, err := reg.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mf := range mfs {
		if mf.GetName() == "hoard_events_total" {
			if _, err := expfmt.MetricFamilyToText(os.Stdout, mf); err != nil {
				fmt.Println(err)
			}
		}
	}
	loads, _ := testutil.GatherAndCount(reg, "hoard_load_duration_seconds")
	fmt.Println("load duration series:", loads)
	// Output:
	// # HELP hoard_events_total Cache events (hit, miss, load, eviction, ...) by cache, event and tier.
	// # TYPE hoard_events_total counter
	// hoard_events_total{cache="products",event="hit",tier="memory"} 2
	// hoard_events_total{cache="products",event="hit",tier="shared"} 1
	// hoard_events_total{cache="products",event="load",tier=""} 1
	// load duration series: 1
}
