package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

type trackingData struct {
	Skipped string `json:"skipped,omitempty"`
	Prefix  string `json:"prefix,omitempty"` // the keys Redis tracks
	Keys    int    `json:"keys_deleted"`
	// Dropped is the time from the DEL until every instance's memory tier
	// had dropped the key.
	Dropped    summary `json:"every_memory_tier_dropped_it,omitzero"`
	Missed     int     `json:"missed"`
	StaleReads int     `json:"stale_reads"`
}

// trackedKeys is how many keys the tracking part deletes.
const trackedKeys = 10

// trackedFleet is a cache of products on every instance, made by a
// hoardredis Service with Tracking on, each over a memory tier the demo
// keeps so it can look into it.
type trackedFleet struct {
	svcs   []*hoardredis.Service
	mems   []*memory.Cache[Product]
	asides []*hoard.Aside[Product]
}

func (e *env) newTrackedFleet(ctx context.Context) (*trackedFleet, error) {
	t := &trackedFleet{}
	app := "demo-" + e.run + "-tracked"
	for _, in := range e.instances {
		svc, err := hoardredis.NewService(ctx, in.client, app, &hoardredis.ServiceOptions{
			Tracking:   true,
			InstanceID: fmt.Sprintf("instance-%d", in.n),
			Logger:     slog.New(slog.DiscardHandler), // a tracker that fails shows as keys missed
		})
		if err != nil {
			return t, err
		}
		t.svcs = append(t.svcs, svc)
		mem, err := memory.New(&memory.Options[Product]{MaxEntries: 10_000})
		if err != nil {
			return t, err
		}
		t.mems = append(t.mems, mem)
		a, err := hoardredis.NewAside(svc, "products", &hoard.AsideOptions[Product]{TTL: 10 * time.Minute, Memory: mem})
		if err != nil {
			return t, err
		}
		t.asides = append(t.asides, a)
	}
	return t, nil
}

// Close closes the services (and their caches), then the memory tiers.
func (t *trackedFleet) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, s := range t.svcs {
		errs = append(errs, s.Close(ctx))
	}
	for _, m := range t.mems {
		errs = append(errs, m.Close())
	}
	return errors.Join(errs...)
}

// inMemory reports whether every instance's memory tier holds key.
func (t *trackedFleet) inMemory(ctx context.Context, key string) bool {
	for _, m := range t.mems {
		if _, err := m.Get(ctx, key); err != nil {
			return false
		}
	}
	return true
}

// noneInMemory reports whether no instance's memory tier holds key.
func (t *trackedFleet) noneInMemory(ctx context.Context, key string) bool {
	for _, m := range t.mems {
		if _, err := m.Get(ctx, key); err == nil {
			return false
		}
	}
	return true
}

// runTrackingPart warms products into every instance's memory tier,
// changes each behind the cache's back, then deletes its key in Redis with
// a plain client, as an operator's redis-cli DEL would: Redis tells every
// instance's tracker, which drops the key from its memory tier.
func runTrackingPart(ctx context.Context, e *env, p progress, d *trackingData) (err error) {
	tf, err := e.newTrackedFleet(ctx)
	defer func() { err = errors.Join(err, tf.Close()) }()
	if err != nil {
		// Redis 6 or later, and a user allowed CLIENT TRACKING, are needed.
		d.Skipped = fmt.Sprintf("Redis refuses tracking: %v", err)
		return nil
	}
	d.Prefix = tf.svcs[0].Tracker().Prefix()
	o, err := redisOptions(e.cfg.redisAddr)
	if err != nil {
		return err
	}
	cli := goredis.NewClient(o) // redis-cli
	defer func() { err = errors.Join(err, cli.Close()) }()
	loader := hoard.LoaderFunc[Product](e.db.Product)
	var dropped timings
	var done atomic.Int64
	stop := p.start("redis tracking", func() string { return fmt.Sprintf("keys %d/%d", done.Load(), trackedKeys) })
	defer stop()
	for k := range trackedKeys {
		id := strconv.Itoa(e.cfg.products - 1 - k) // the feed part leaves these alone
		key := tf.asides[0].Key(id)
		// Each instance's first read fills its memory tier; the load's
		// own write to Redis is tracked too, and may empty them again:
		// read until every one holds the key.
		held, err := waitFor(ctx, 5*time.Second, func() bool {
			for _, a := range tf.asides {
				if _, err := a.Get(ctx, id, loader); err != nil {
					return false
				}
			}
			return sleep(ctx, 5*time.Millisecond) == nil && tf.inMemory(ctx, key)
		})
		if err != nil {
			return err
		}
		if !held {
			return fmt.Errorf("tracking: product %s never stayed in every memory tier", id)
		}
		if err := e.db.bump(ctx, "id = ?", id); err != nil {
			return err
		}
		row, err := e.db.peek(ctx, id)
		if err != nil {
			return err
		}
		began := time.Now()
		n, err := cli.Del(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("DEL %s: %w", key, err)
		}
		if n != 1 {
			return fmt.Errorf("DEL %s: the key was not in Redis", key)
		}
		d.Keys++
		gone, err := waitFor(ctx, changeLimit, func() bool { return tf.noneInMemory(ctx, key) })
		if err != nil {
			return err
		}
		if !gone {
			d.Missed++
			continue
		}
		dropped = append(dropped, time.Since(began))
		stale, err := staleReads(ctx, tf.asides, loader, id, newRev(row.Rev))
		if err != nil {
			return err
		}
		d.StaleReads += stale
		done.Add(1)
	}
	d.Dropped = dropped.summary()
	return nil
}
