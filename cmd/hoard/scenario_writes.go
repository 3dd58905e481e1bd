package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hoard-cache/hoard"
)

type writeSide struct {
	Updates    int    `json:"updates"`
	StoreCalls int64  `json:"store_calls"`
	PutP50     string `json:"put_p50"`
	LagMean    string `json:"lag_mean,omitempty"`
	LagMax     string `json:"lag_max,omitempty"`
	StaleReads int    `json:"stale_reads"`
	LostWrites int    `json:"lost_writes"`
}

type writesData struct {
	WriteThrough writeSide `json:"write_through"`
	WriteBehind  writeSide `json:"write_behind"`
}

// writer is how a scenario writes: a write-through or a write-behind.
type writer interface {
	Put(ctx context.Context, id string, v Product, tags ...string) error
}

// writePool is how many products the writes go to, so ids are updated
// several times each and write-behind can coalesce.
func writePool(e *env) int { return min(1000, e.cfg.products) }

// runWrites updates products through write-through, then write-behind, on
// every instance, and checks that afterwards every instance reads the new
// values and the database holds them.
func runWrites(ctx context.Context, e *env, p progress) (*result, error) {
	f, err := e.newFleet(fleetOptions{name: "writes", bus: true, aside: hoard.AsideOptions[Product]{TTL: 10 * time.Minute}})
	defer func() { _ = f.Close() }()
	if err != nil {
		return nil, err
	}
	var d writesData

	wts := make([]writer, len(f.asides))
	for i, a := range f.asides {
		wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[Product]{Aside: a, Store: store{e.db}})
		if err != nil {
			return nil, err
		}
		wts[i] = wt
	}
	if d.WriteThrough, err = writeRun(ctx, e, f, p, "write-through", wts, nil); err != nil {
		return nil, err
	}

	wbs := make([]*hoard.WriteBehind[Product], len(f.asides))
	ws := make([]writer, len(f.asides))
	for i, a := range f.asides {
		wb, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[Product]{Aside: a, Store: store{e.db}})
		if err != nil {
			for _, wb := range wbs[:i] {
				_ = wb.Close(ctx)
			}
			return nil, err
		}
		wbs[i], ws[i] = wb, wb
	}
	flush := func(ctx context.Context) error {
		for _, wb := range wbs {
			if err := wb.Flush(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	d.WriteBehind, err = writeRun(ctx, e, f, p, "write-behind", ws, flush)
	var lagSum time.Duration
	var lagCount int64
	var lagMax time.Duration
	for _, wb := range wbs {
		s := wb.Stats().Snapshot()
		lagSum, lagCount, lagMax = lagSum+s.Lag.Sum, lagCount+s.Lag.Count, max(lagMax, s.Lag.Max)
		if cerr := wb.Close(ctx); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, err
	}
	if lagCount > 0 {
		d.WriteBehind.LagMean = fmtDuration(lagSum / time.Duration(lagCount))
	}
	d.WriteBehind.LagMax = fmtDuration(lagMax)

	r := &result{
		Title: fmt.Sprintf("4. writes: %s updates of %d products from %d instances, through each pattern",
			fmtInt(int64(e.cfg.writes)), writePool(e), len(f.asides)),
		Data:   d,
		header: []string{"", "updates", "store calls", "p50 Put", "lag mean", "lag max", "stale reads", "lost writes"},
	}
	r.row("write-through", d.WriteThrough.Updates, d.WriteThrough.StoreCalls, d.WriteThrough.PutP50, "-", "-", d.WriteThrough.StaleReads, d.WriteThrough.LostWrites)
	r.row("write-behind", d.WriteBehind.Updates, d.WriteBehind.StoreCalls, d.WriteBehind.PutP50, d.WriteBehind.LagMean, d.WriteBehind.LagMax, d.WriteBehind.StaleReads, d.WriteBehind.LostWrites)
	for _, s := range []struct {
		name string
		s    writeSide
	}{{"write-through", d.WriteThrough}, {"write-behind", d.WriteBehind}} {
		r.promise(s.name+": every instance reads the new values", s.s.StaleReads == 0, "%d stale reads", s.s.StaleReads)
		r.promise(s.name+": the database holds every write", s.s.LostWrites == 0, "%d lost writes", s.s.LostWrites)
	}
	return r, nil
}

// writeRun warms every instance's cache with the pool's products, makes
// e.cfg.writes updates spread over the instances (each instance owns the
// ids ≡ its number modulo the instance count, so the writes of one id
// are in order), flushes, waits for the bus, then checks every instance
// and the database.
func writeRun(ctx context.Context, e *env, f *fleet, p progress, name string, ws []writer, flush func(context.Context) error) (writeSide, error) {
	pool := writePool(e)
	ids := make([]string, pool)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	batch := hoard.BatchLoaderFunc[Product](e.db.Products)
	for _, a := range f.asides { // old values in every tier
		if _, err := a.GetMany(ctx, ids, batch); err != nil {
			return writeSide{}, err
		}
	}
	calls0 := e.db.writes.Load()
	n := len(ws)
	var (
		mu   sync.Mutex
		lat  latencies
		done int
		wg   sync.WaitGroup
		errs = make([]error, n)
		last = make([]map[string]int64, n) // per instance: the rev it last wrote per id
	)
	stop := p.start(name, func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("updates %d/%d  store calls %d", done, e.cfg.writes, e.db.writes.Load()-calls0)
	})
	for i, w := range ws {
		last[i] = map[string]int64{}
		wg.Go(func() {
			var mine latencies
			var owned []int
			for id := i; id < pool; id += n {
				owned = append(owned, id)
			}
			for k := range e.cfg.writes/n + btoi(i < e.cfg.writes%n) {
				id := owned[k%len(owned)]
				cur, err := e.db.peek(ctx, strconv.Itoa(id))
				if err != nil {
					errs[i] = err
					return
				}
				// The row may lag this instance's writes (write-behind):
				// rev moves on from the later of the two.
				rev := cur.Rev + 1
				if prev, ok := last[i][strconv.Itoa(id)]; ok {
					rev = max(rev, prev+1)
				}
				cur.Rev, cur.Price = rev, cur.Price+1
				began := time.Now()
				if err := w.Put(ctx, strconv.Itoa(id), cur); err != nil {
					errs[i] = err
					return
				}
				mine.observe(time.Since(began))
				last[i][strconv.Itoa(id)] = rev
				mu.Lock()
				done++
				mu.Unlock()
			}
			mu.Lock()
			lat.merge(&mine)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			stop()
			return writeSide{}, err
		}
	}
	if flush != nil {
		if err := flush(ctx); err != nil {
			stop()
			return writeSide{}, err
		}
	}
	stop()
	s := writeSide{Updates: done, StoreCalls: e.db.writes.Load() - calls0, PutP50: fmtDuration(lat.quantile(0.5))}
	if err := e.settle(ctx); err != nil {
		return s, err
	}
	loader := hoard.LoaderFunc[Product](e.db.Product)
	for _, m := range last {
		for id, rev := range m {
			row, err := e.db.peek(ctx, id)
			if err != nil {
				return s, err
			}
			if row.Rev != rev {
				s.LostWrites++
			}
			for _, a := range f.asides {
				v, err := a.Get(ctx, id, loader)
				if err != nil {
					return s, err
				}
				if v.Rev < rev {
					s.StaleReads++
				}
			}
		}
	}
	return s, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
