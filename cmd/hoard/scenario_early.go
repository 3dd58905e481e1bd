package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard"
)

// earlyTTL is the hot key's TTL in the early-refresh scenario.
const earlyTTL = 300 * time.Millisecond

type earlySide struct {
	Reads      int64  `json:"reads"`
	Waited     int64  `json:"reads_that_waited"`
	Recomputes int64  `json:"recomputes"`
	Max        string `json:"read_max"`
}

type earlyData struct {
	Without earlySide `json:"without_early_refresh"`
	With    earlySide `json:"with_early_refresh"`
}

// runEarlyRefresh reads a hot key with a short TTL continuously, without
// and then with early refresh; both with the distributed lock.
func runEarlyRefresh(ctx context.Context, e *env, p progress) (*result, error) {
	half := e.cfg.duration / 2
	query := 10 * e.cfg.latency
	side := func(name string, early bool) (earlySide, error) {
		aside := hoard.AsideOptions[Product]{TTL: earlyTTL, Jitter: -1}
		if early {
			aside.EarlyRefresh = &hoard.EarlyRefresh{}
		}
		f, err := e.newFleet(fleetOptions{name: name, locker: true, aside: aside})
		defer func() { _ = f.Close() }()
		if err != nil {
			return earlySide{}, err
		}
		var recomputes, waited atomic.Int64
		loader := hoard.LoaderFunc[Product](func(ctx context.Context, _ string) (Product, error) {
			recomputes.Add(1)
			return e.db.SlowReport(ctx)
		})
		for _, a := range f.asides { // warm up: the first load is not what this measures
			if _, err := a.Get(ctx, "report", loader); err != nil {
				return earlySide{}, err
			}
		}
		recomputes.Store(0)
		var mu sync.Mutex
		var lat latencies
		label := "early refresh: off"
		if early {
			label = "early refresh: on"
		}
		stop := p.start(label, func() string {
			return fmt.Sprintf("waited %d  recomputes %d", waited.Load(), recomputes.Load())
		})
		reads, err := hammer(ctx, len(f.asides), half, func(ctx context.Context, i int) error {
			began := time.Now()
			_, err := f.asides[i].Get(ctx, "report", loader)
			took := time.Since(began)
			if err == nil {
				if took >= query/2 {
					waited.Add(1)
				}
				mu.Lock()
				lat.observe(took)
				mu.Unlock()
			}
			return err
		})
		stop()
		return earlySide{Reads: reads, Waited: waited.Load(), Recomputes: recomputes.Load(), Max: fmtDuration(lat.quantile(1))}, err
	}
	var d earlyData
	var err error
	if d.Without, err = side("early-off", false); err != nil {
		return nil, err
	}
	if d.With, err = side("early-on", true); err != nil {
		return nil, err
	}
	r := &result{
		Title: fmt.Sprintf("3. early refresh: a hot key (TTL %v, query %v) read continuously by %d instances × %d goroutines, %v each",
			earlyTTL, query, len(e.instances), hotReaders, half),
		Data:   d,
		header: []string{"", "reads", fmt.Sprintf("waited ≥ %v", query/2), "recomputes", "slowest read"},
	}
	r.row("hoard + lock", d.Without.Reads, d.Without.Waited, d.Without.Recomputes, d.Without.Max)
	r.row("+ EarlyRefresh", d.With.Reads, d.With.Waited, d.With.Recomputes, d.With.Max)
	return r, nil
}
