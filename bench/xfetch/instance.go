package xfetch

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// instance is one process of the experiment: its own Redis client and,
// for hoard's strategies, its own memory tier and Aside.
type instance struct {
	index  int // from 0
	client *goredis.Client
	prefix string // the keys' prefix, for plain
	mem    *memory.Cache[string]
	shared *sharedTier
	aside  *hoard.Aside[string] // nil for plain
}

// sharedTier is the Redis tier of an instance, counting the write-backs it
// refuses: compare-and-sets whose token no longer holds. hoard reads past
// them silently (ErrConflict is not a backend error).
type sharedTier struct {
	*hoardredis.Cache[string]
	refused atomic.Int64
}

// CompareAndSet is the Redis tier's, counting refusals.
func (t *sharedTier) CompareAndSet(ctx context.Context, key string, tok hoard.Token, e hoard.Entry[string]) error {
	err := t.Cache.CompareAndSet(ctx, key, tok, e)
	if errors.Is(err, hoard.ErrConflict) {
		t.refused.Add(1)
	}
	return err
}

// lockPrefix starts the keys of the distributed locks.
const lockPrefix = "lock:"

// newInstance opens the instance index of strategy s on the Redis at addr,
// its keys under prefix.
func newInstance(cfg *Config, s Strategy, index int, addr, prefix string) (*instance, error) {
	in := &instance{index: index, client: goredis.NewClient(&goredis.Options{Addr: addr}), prefix: prefix}
	if s == Plain {
		return in, nil
	}
	if err := in.openAside(cfg, s); err != nil {
		_ = in.close(context.Background())
		return nil, err
	}
	return in, nil
}

func (in *instance) openAside(cfg *Config, s Strategy) error {
	var err error
	if in.mem, err = memory.New[string](nil); err != nil {
		return err
	}
	redisTier, err := hoardredis.New[string](in.client, nil)
	if err != nil {
		return err
	}
	in.shared = &sharedTier{Cache: redisTier}
	opts := hoard.AsideOptions[string]{
		Name:   in.prefix,
		Memory: in.mem,
		Shared: in.shared,
		TTL:    cfg.TTL,
		Jitter: -1, // none: every expiry is crisp
	}
	if s.earlyRefresh() {
		opts.EarlyRefresh = &hoard.EarlyRefresh{Beta: cfg.Beta}
	}
	if s.locked() {
		locker, err := hoardredis.NewLocker(in.client, &hoardredis.LockerOptions{Prefix: lockPrefix})
		if err != nil {
			return err
		}
		opts.Stampede = &hoard.Stampede{Locker: locker}
	}
	in.aside, err = hoard.NewAside(&opts)
	return err
}

// get reads id, recomputing it from src on a miss.
func (in *instance) get(ctx context.Context, id string, src *source) (string, error) {
	if in.aside != nil {
		return in.aside.Get(ctx, id, src.loaders[in.index])
	}
	// The cache-aside a user writes by hand.
	key := in.prefix + ":" + id
	v, err := in.client.Get(ctx, key).Result()
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, goredis.Nil) {
		return "", err
	}
	v = src.compute(in.index, 0)
	return v, in.client.Set(ctx, key, v, src.ttl).Err()
}

// metrics returns hoard's counts of the instance; zero for plain.
func (in *instance) metrics() HoardCounts {
	if in.aside == nil {
		return HoardCounts{}
	}
	s := in.aside.Metrics().Snapshot()
	return HoardCounts{
		Misses:         s.Total(hoard.EventMiss),
		Loads:          s.Total(hoard.EventLoad),
		EarlyRefreshes: s.Total(hoard.EventEarlyRefresh),
		LockWaits:      s.Total(hoard.EventLockWait),
		BackendErrors:  s.Total(hoard.EventBackendError),
		RefusedWrites:  in.shared.refused.Load(),
	}
}

// keys returns the Redis keys the instance may have written for ids.
func (in *instance) keys(ids ...string) []string {
	var out []string
	for _, id := range ids {
		if in.aside == nil {
			out = append(out, in.prefix+":"+id)
			continue
		}
		k := in.aside.Key(id)
		out = append(out, k, lockPrefix+k)
	}
	return out
}

// close waits for the instance's background refreshes, then closes its
// memory tier and client.
func (in *instance) close(ctx context.Context) error {
	var errs []error
	if in.aside != nil {
		errs = append(errs, in.aside.Close(ctx))
	}
	if in.mem != nil {
		errs = append(errs, in.mem.Close())
	}
	errs = append(errs, in.client.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("xfetch: closing an instance: %w", err)
	}
	return nil
}

// HoardCounts are hoard's own metrics of a strategy's run after the warm-up,
// summed over the instances (zero for plain).
type HoardCounts struct {
	Misses         int64 // EventMiss: loads begun by a reader (one per flight)
	Loads          int64 // EventLoad: loader calls
	EarlyRefreshes int64 // EventEarlyRefresh: background refreshes started
	LockWaits      int64 // EventLockWait: waits for another process's load
	BackendErrors  int64 // EventBackendError
	// RefusedWrites counts the write-backs to Redis that compare-and-set
	// refused (hoard.ErrConflict), measured by the harness.
	RefusedWrites int64
}

func (h HoardCounts) minus(o HoardCounts) HoardCounts {
	return HoardCounts{
		Misses:         h.Misses - o.Misses,
		Loads:          h.Loads - o.Loads,
		EarlyRefreshes: h.EarlyRefreshes - o.EarlyRefreshes,
		LockWaits:      h.LockWaits - o.LockWaits,
		BackendErrors:  h.BackendErrors - o.BackendErrors,
		RefusedWrites:  h.RefusedWrites - o.RefusedWrites,
	}
}

func (h *HoardCounts) add(o HoardCounts) {
	h.Misses += o.Misses
	h.Loads += o.Loads
	h.EarlyRefreshes += o.EarlyRefreshes
	h.LockWaits += o.LockWaits
	h.BackendErrors += o.BackendErrors
	h.RefusedWrites += o.RefusedWrites
}
