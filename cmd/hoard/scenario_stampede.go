package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// hotReaders is how many goroutines read the hot key on each instance.
const hotReaders = 16

// hotTTL is the hot key's TTL in the stampede scenario: it expires many
// times in a run.
const hotTTL = 250 * time.Millisecond

type stampedeSide struct {
	Reads          int64   `json:"reads"`
	Queries        int64   `json:"db_queries"`
	Expiries       int     `json:"expiries"`
	PerExpiry      float64 `json:"db_queries_per_expiry"`
	MaxOnOneExpiry int     `json:"max_db_queries_on_one_expiry"`
}

type stampedeData struct {
	Naive stampedeSide `json:"naive"`
	Hoard stampedeSide `json:"hoard_locked"`
}

// loadLog records when a hot key's loads started, to group them by
// expiry.
type loadLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (l *loadLog) add() {
	l.mu.Lock()
	l.times = append(l.times, time.Now())
	l.mu.Unlock()
}

func (l *loadLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.times)
}

// expiries groups the loads into expiries: a load within window of the
// first load of a group belongs to it. It returns the groups' sizes.
func (l *loadLog) expiries(window time.Duration) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := slices.Clone(l.times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	var groups []int
	var start time.Time
	for _, t := range ts {
		if len(groups) == 0 || t.Sub(start) >= window {
			groups, start = append(groups, 0), t
		}
		groups[len(groups)-1]++
	}
	return groups
}

func (l *loadLog) side(reads int64) stampedeSide {
	g := l.expiries(hotTTL / 2)
	s := stampedeSide{Reads: reads, Expiries: len(g)}
	for _, n := range g {
		s.Queries += int64(n)
		s.MaxOnOneExpiry = max(s.MaxOnOneExpiry, n)
	}
	if len(g) > 0 {
		s.PerExpiry = float64(s.Queries) / float64(len(g))
	}
	return s
}

// hammer runs hotReaders goroutines per instance calling read until the
// run ends, and returns how many reads completed.
func hammer(ctx context.Context, instances int, d time.Duration, read func(ctx context.Context, instance int) error) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		reads atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
	)
	for i := range instances {
		for range hotReaders {
			wg.Go(func() {
				for ctx.Err() == nil {
					if err := read(ctx, i); err != nil {
						if ctx.Err() == nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
							cancel()
						}
						return
					}
					reads.Add(1)
					_ = sleep(ctx, 200*time.Microsecond) // a little think time
				}
			})
		}
	}
	wg.Wait()
	return reads.Load(), errors.Join(errs...)
}

// runStampede reads one hot, expiring key from every instance at once:
// first with naive cache-aside (GET; on a miss, query and SET), then with
// hoard and its distributed lock.
func runStampede(ctx context.Context, e *env, p progress) (*result, error) {
	half := e.cfg.duration / 2
	var d stampedeData

	// Naive: every reader that misses queries.
	naiveKey := "hoard-demo:" + e.run + ":naive:report"
	var naive loadLog
	stop := p.start("stampede: naive", func() string { return fmt.Sprintf("db queries %d", naive.count()) })
	reads, err := hammer(ctx, len(e.instances), half, func(ctx context.Context, i int) error {
		c := e.instances[i].client
		b, err := c.Get(ctx, naiveKey).Bytes()
		if err == nil {
			var v Product
			return json.Unmarshal(b, &v)
		}
		if !errors.Is(err, goredis.Nil) {
			return err
		}
		naive.add()
		v, err := e.db.SlowReport(ctx)
		if err != nil {
			return err
		}
		b, _ = json.Marshal(v)
		return c.Set(ctx, naiveKey, b, hotTTL).Err()
	})
	stop()
	if err != nil {
		return nil, fmt.Errorf("naive: %w", err)
	}
	d.Naive = naive.side(reads)

	// hoard: one load per expiry across every instance.
	f, err := e.newFleet(fleetOptions{
		name:   "report",
		locker: true,
		aside:  hoard.AsideOptions[Product]{TTL: hotTTL, Jitter: -1},
	})
	defer func() { _ = f.Close() }()
	if err != nil {
		return nil, err
	}
	var locked loadLog
	loader := hoard.LoaderFunc[Product](func(ctx context.Context, _ string) (Product, error) {
		locked.add()
		return e.db.SlowReport(ctx)
	})
	stop = p.start("stampede: hoard + lock", func() string { return fmt.Sprintf("db queries %d", locked.count()) })
	reads, err = hammer(ctx, len(e.instances), half, func(ctx context.Context, i int) error {
		_, err := f.asides[i].Get(ctx, "report", loader)
		return err
	})
	stop()
	if err != nil {
		return nil, fmt.Errorf("hoard: %w", err)
	}
	d.Hoard = locked.side(reads)

	r := &result{
		Title: fmt.Sprintf("2. stampede: a hot key (TTL %v, query %v) read by %d instances × %d goroutines, %v each",
			hotTTL, 10*e.cfg.latency, len(e.instances), hotReaders, half),
		Data:   d,
		header: []string{"", "reads", "expiries", "DB queries", "per expiry", "max on one expiry"},
	}
	for _, s := range []struct {
		name string
		s    stampedeSide
	}{{"naive cache-aside", d.Naive}, {"hoard + redis lock", d.Hoard}} {
		r.row(s.name, s.s.Reads, s.s.Expiries, s.s.Queries, fmt.Sprintf("%.1f", s.s.PerExpiry), s.s.MaxOnOneExpiry)
	}
	r.promise("hoard with the lock queries at most once per expiry", d.Hoard.MaxOnOneExpiry <= 1,
		"max %d on one expiry", d.Hoard.MaxOnOneExpiry)
	return r, nil
}
