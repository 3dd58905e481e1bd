package xfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// The ids the readers read: the hot key, which expires every TTL, and the
// key of the pure-hit phase, which does not expire during the run.
const (
	hotID = "hot"
	hitID = "hit"
	// hitTTL is the TTL of the pure-hit key.
	hitTTL = time.Hour
)

// Run runs the experiment on server for each of cfg's strategies in turn,
// each on keys of its own, and returns the report. It writes a line of
// progress to progress (nil for none) as each strategy starts.
func Run(ctx context.Context, cfg Config, server *Server, progress io.Writer) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	rep := &Report{Config: cfg, Server: server.Description}
	for _, s := range cfg.Strategies {
		_, _ = fmt.Fprintf(progress, "xfetch: %-11s %d instances × %d readers, %v hit phase + %v (TTL %v, delta %v)\n",
			s, cfg.Instances, cfg.Readers, cfg.HitDuration, cfg.Duration, cfg.TTL, cfg.Delta)
		load := loadAverage()
		res, err := runStrategy(ctx, &cfg, server.Addr, s)
		if err != nil {
			return rep, fmt.Errorf("xfetch: %s: %w", s, err)
		}
		res.Load = [2]string{load, loadAverage()}
		rep.Results = append(rep.Results, *res)
	}
	return rep, nil
}

// runStrategy runs the pure-hit phase, then the main phase, of strategy s
// on fresh instances.
func runStrategy(ctx context.Context, cfg *Config, addr string, s Strategy) (_ *Result, err error) {
	prefix := cfg.KeyPrefix + ":" + s.String()
	var instances []*instance
	defer func() {
		// Background refreshes get a while to finish; then the keys go,
		// then the instances.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*cfg.TTL)
		defer cancel()
		for _, in := range instances {
			if in.aside != nil {
				err = errors.Join(err, in.aside.Close(cctx))
			}
		}
		if len(instances) > 0 {
			in := instances[0]
			err = errors.Join(err, in.client.Del(cctx, in.keys(hotID, hitID)...).Err())
		}
		for _, in := range instances {
			err = errors.Join(err, in.close(cctx))
		}
	}()
	for i := range cfg.Instances {
		in, err := newInstance(cfg, s, i, addr, prefix)
		if err != nil {
			return nil, err
		}
		instances = append(instances, in)
	}

	hit := newSource(cfg.Delta, hitTTL, cfg.Instances)
	for _, in := range instances {
		if _, err := in.get(ctx, hitID, hit); err != nil {
			return nil, fmt.Errorf("loading the pure-hit key: %w", err)
		}
	}
	// The first quarter of the pure-hit phase, which opens the clients'
	// connections, is left out.
	hitWarmup := cfg.HitDuration / 4
	hitRecs := runPhase(ctx, cfg, instances, hitID, hit, hitWarmup, hitWarmup+cfg.HitDuration, nil)

	hot := newSource(cfg.Delta, cfg.TTL, cfg.Instances)
	var before HoardCounts
	recs := runPhase(ctx, cfg, instances, hotID, hot, cfg.Warmup, cfg.Duration, func() {
		for _, in := range instances {
			before.add(in.metrics())
		}
	})
	var after HoardCounts
	for _, in := range instances {
		after.add(in.metrics())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return summarize(cfg, s, recs, hitRecs, hot, after.minus(before)), nil
}

// runPhase has every instance's readers read id from src until duration
// has passed, counting the requests sent in [from, duration), and returns
// their records. atFrom, when not nil, is called at from.
func runPhase(ctx context.Context, cfg *Config, instances []*instance, id string, src *source, from, duration time.Duration, atFrom func()) []*recorder {
	var recs []*recorder
	var start, end time.Time
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for _, in := range instances {
		get := func(ctx context.Context) error {
			_, err := in.get(ctx, id, src)
			return err
		}
		for range cfg.Readers {
			rec := newRecorder(in.index, from, duration, cfg.missThreshold(), cfg.MaxSamples)
			recs = append(recs, rec)
			wg.Go(func() {
				<-ready
				rec.run(ctx, start, end, cfg.Think, get)
			})
		}
	}
	start = time.Now()
	end = start.Add(duration)
	src.begin(start, from)
	close(ready)
	if atFrom != nil {
		if sleepCtx(ctx, time.Until(start.Add(from))) == nil {
			atFrom()
		}
	}
	wg.Wait()
	return recs
}

// loadAverage returns the machine's load average over the last minute, or
// "" where /proc/loadavg does not tell.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
