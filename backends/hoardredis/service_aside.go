package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// NoLocker, given as the Locker of a policy's Stampede to [NewAside]
// (&hoard.Stampede{Locker: hoardredis.NoLocker}), makes a cache that takes no
// distributed lock: each process loads a missing key once, on its
// own. Used directly as a hoard.Locker it grants every lock at once, which
// is the same.
var NoLocker hoard.Locker = noLocker{}

// noLocker is the type of [NoLocker].
type noLocker struct{}

func (noLocker) TryLock(context.Context, string, time.Duration) (hoard.Lock, error) {
	return noLock{}, nil
}

// noLock is a lock of [NoLocker]: held by everyone, never in Redis.
type noLock struct{}

func (noLock) Refresh(context.Context, time.Duration) error { return nil }
func (noLock) Release(context.Context) error                { return nil }

// NewAside returns the two-tier cache-aside of the service's cache name:
// a memory tier bounded as ServiceOptions say, in front of a Redis tier,
// its keys "app:name:<id>". name is the cache's name in keys, metrics and
// errors: 1 to 64 ASCII letters, digits, '-', '_' or '.', unique in the
// service, and none of ns, lock, bus, wb and probe, which the service keeps.
//
// policy carries the cache's policy (TTL, FailSafe, Namespace, TagsOf,
// EarlyRefresh...); nil takes hoard's defaults. The fields it leaves zero
// get the service's:
//
//   - Name: name (a policy's Name must be empty or name);
//   - Keys: a KeyBuilder with the prefix "app:name" (a policy's Keys must
//     have that prefix);
//   - Memory: a memory cache bounded by MemoryMaxEntries and MemoryMaxBytes,
//     made and closed by the service;
//   - Shared: a Redis [Cache] on the service's client with its Codec;
//   - Bus, Invalidator: the service's (with ServiceOptions.Tracking, the
//     Bus is the service's bus and its [Tracker] together);
//   - Stampede: the service's Locker with hoard's defaults when the policy
//     has no Stampede, the service's Locker in the policy's Stampede when
//     it names no Locker; a Stampede whose Locker is [NoLocker] takes none;
//   - Breaker, SharedBudget, Logger: the service's;
//   - Metrics: metrics named name that pass every event to the service's
//     Recorder; Clock: the service's.
//
// A Memory or Shared the policy gives stays its giver's, to close after the
// service. The Aside and the memory tier made for it are the service's:
// [Service.Close] closes them (the Aside's own Close may be called before,
// to wait for its background loads).
func NewAside[V any](s *Service, name string, policy *hoard.AsideOptions[V]) (*hoard.Aside[V], error) {
	if s == nil {
		return nil, fmt.Errorf("%w: redis service: nil Service", hoard.ErrInvalidOption)
	}
	o, err := asideOptions(s, name, policy)
	if err != nil {
		return nil, err
	}
	if err := s.checkFree("cache", name); err != nil {
		return nil, err
	}
	if o.Metrics == nil {
		o.Metrics = hoard.NewMetrics(name, s.opts.Recorder)
	}
	if o.Shared == nil {
		if o.Shared, err = New[V](s.client, &Options{Codec: s.opts.Codec, TagPrefix: s.tagPrefix(), CounterTTL: s.opts.CounterTTL, Clock: o.Clock}); err != nil {
			return nil, err
		}
	}
	closeMemory := func() error { return nil }
	if o.Memory == nil {
		mem, err := memory.New(&memory.Options[V]{
			MaxEntries: s.opts.MemoryMaxEntries, MaxBytes: s.opts.MemoryMaxBytes, Metrics: o.Metrics, Clock: o.Clock,
		})
		if err != nil {
			return nil, fmt.Errorf("hoard: redis service %q: cache %q: memory tier: %w", s.app, name, err)
		}
		o.Memory, closeMemory = mem, mem.Close
	}
	a, err := hoard.NewAside(&o)
	if err != nil {
		return nil, errors.Join(err, closeMemory())
	}
	s.counters.keepTagStampsFor(2 * entryLife(&o))
	closeAll := func(ctx context.Context) error { return errors.Join(a.Close(ctx), closeMemory()) }
	if err := s.adopt("cache", name, o.Metrics, closeAll); err != nil {
		return nil, errors.Join(err, closeAll(context.Background()))
	}
	return a, nil
}

// hoardDefaultTTL is hoard.AsideOptions.TTL's default.
const hoardDefaultTTL = 5 * time.Minute

// entryLife is the longest an entry of an Aside with options o is kept:
// its TTL (hoard's default when unset) or its NegativeTTL when longer,
// plus its fail-safe window. A loader's SetTTL may exceed it.
func entryLife[V any](o *hoard.AsideOptions[V]) time.Duration {
	life := o.TTL
	if life <= 0 {
		life = hoardDefaultTTL
	}
	life = max(life, o.NegativeTTL)
	if o.FailSafe != nil && o.FailSafe.Window > 0 {
		life += o.FailSafe.Window
	}
	if life < 0 || life > MaxTTL { // overflowed: for ever, as far as Redis goes
		return MaxTTL
	}
	return life
}

// asideOptions is policy with the service's Name, Keys, Bus, Invalidator,
// Stampede and Clock where it leaves them zero; the tiers and metrics are
// NewAside's to make.
func asideOptions[V any](s *Service, name string, policy *hoard.AsideOptions[V]) (hoard.AsideOptions[V], error) {
	var o hoard.AsideOptions[V]
	if policy != nil {
		o = *policy
	}
	if err := checkCacheName(name); err != nil {
		return o, err
	}
	if o.Name != "" && o.Name != name {
		return o, fmt.Errorf("%w: redis service %q: cache %q: the policy's Name %q differs", hoard.ErrInvalidOption, s.app, name, o.Name)
	}
	o.Name = name
	prefix := s.app + ":" + name
	if o.Keys == (hoard.KeyBuilder{}) {
		kb, err := hoard.NewKeyBuilder(prefix, nil)
		if err != nil {
			return o, err
		}
		o.Keys = kb
	} else if o.Keys.Prefix() != prefix {
		return o, fmt.Errorf("%w: redis service %q: cache %q: the policy's Keys have the prefix %q, not the service's %q",
			hoard.ErrInvalidOption, s.app, name, o.Keys.Prefix(), prefix)
	}
	if o.Bus == nil {
		o.Bus = s.CacheBus()
	}
	if o.Invalidator == nil {
		o.Invalidator = s.inv
	}
	switch {
	case o.Stampede == nil:
		o.Stampede = &hoard.Stampede{Locker: s.locker}
	case o.Stampede.Locker == NoLocker:
		o.Stampede = nil
	case o.Stampede.Locker == nil:
		st := *o.Stampede // the policy's stays as it was
		st.Locker = s.locker
		o.Stampede = &st
	}
	if o.Breaker == nil {
		o.Breaker = s.breaker
	}
	if o.SharedBudget == nil {
		o.SharedBudget = s.opts.SharedBudget
	}
	if o.Logger == nil {
		o.Logger = s.opts.Logger
	}
	if o.Clock == nil {
		o.Clock = s.opts.Clock
	}
	return o, nil
}

// NewWriteBehindQueue returns the service's durable write-behind queue
// name (give it to hoard.WriteBehindOptions.Queue): a [StreamQueue] whose
// stream is "app:wb:{name}", shared by every instance of the application.
// name follows the rules of a cache's name; a queue may share its name
// with a cache. opts may be nil; its Name must be empty or name, its
// KeyPrefix empty or "app:wb:", and its Codec defaults to the service's.
// The queue is the service's: [Service.Close] closes it, so close the
// WriteBehind that uses it (which drains it) first.
func NewWriteBehindQueue[V any](s *Service, name string, opts *StreamQueueOptions) (*StreamQueue[V], error) {
	if s == nil {
		return nil, fmt.Errorf("%w: redis service: nil Service", hoard.ErrInvalidOption)
	}
	if err := checkName("queue", name); err != nil {
		return nil, err
	}
	var o StreamQueueOptions
	if opts != nil {
		o = *opts
	}
	prefix := s.app + ":wb:"
	switch {
	case o.Name != "" && o.Name != name:
		return nil, fmt.Errorf("%w: redis service %q: queue %q: the options' Name %q differs", hoard.ErrInvalidOption, s.app, name, o.Name)
	case o.KeyPrefix != "" && o.KeyPrefix != prefix:
		return nil, fmt.Errorf("%w: redis service %q: queue %q: KeyPrefix %q is not the service's %q", hoard.ErrInvalidOption, s.app, name, o.KeyPrefix, prefix)
	}
	o.Name, o.KeyPrefix = name, prefix
	if o.Codec == nil {
		o.Codec = s.opts.Codec
	}
	q, err := NewStreamQueue[V](s.client, &o)
	if err != nil {
		return nil, err
	}
	if err := s.adopt("queue", name, nil, q.Close); err != nil {
		return nil, errors.Join(err, q.Close(context.Background()))
	}
	return q, nil
}
