package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// Service is what every cache of one application shares on one Redis,
// built once per process: the client, one [Bus], one [Locker], one
// [hoard.Invalidator] (its tag clock and namespace counters), the memory
// budget of each cache, the metrics and the clock. Each endpoint's cache is
// then one call: [NewAside] (or [NewWriteBehindQueue] for a durable
// write-behind queue).
//
// Every name hoard writes in Redis derives from the application's name, so
// two applications, or two environments ("shop-prod", "shop-staging"), on
// one Redis never touch each other's state, and a Redis user limited to
// the keys ~app:* and the channels &app:* can run all of it. For the
// application "shop":
//
//	shop:<cache>:<id>           entries of the cache <cache> (its KeyBuilder prefix is shop:<cache>)
//	shop:{shop:tags}:…          the tag clock: epoch, start, floor, aging set and stamps, in one Cluster hash slot
//	shop:ns:<namespace>         namespace versions
//	shop:lock:<key>             distributed load locks
//	shop:bus                    the invalidation bus's pub/sub channel
//	shop:wb:{<queue>}           write-behind streams, and their ":depth" counters
//	shop:probe:<random>         the start-up check's key, deleted at once
//
// With ServiceOptions.Tracking it also holds a [Tracker] of the keys under
// "app:" (see [Service.Tracker]).
//
// A Service is safe for concurrent use. It owns the goroutines of its bus,
// its tracker and the memory tiers it makes; [Service.Close] stops them. The client
// stays the caller's, to close after the Service.
type Service struct {
	app    string
	client goredis.UniversalClient
	opts   ServiceOptions // with defaults

	counters *Cache[struct{}] // the tag clock and the namespace counters
	bus      *Bus
	tracker  *Tracker // nil unless ServiceOptions.Tracking
	locker   *Locker
	inv      *hoard.Invalidator
	breaker  *hoard.CircuitBreaker // nil with NoBreaker

	mu      sync.Mutex
	names   map[string]struct{}           // guarded by mu: kind and name of the caches and queues made
	closers []func(context.Context) error // guarded by mu: what NewAside and NewWriteBehindQueue made, in order
	metrics []*hoard.Metrics              // guarded by mu: of the caches made, in order
	closed  bool                          // guarded by mu: Close has begun
}

// NewService checks that Redis is usable for the application app and
// returns the Service that wires its caches. nil opts give the defaults
// documented on [ServiceOptions].
//
// app names the application (or the application and its environment) in
// every Redis name (see [Service]): 1 to 64 ASCII letters, digits, '-',
// '_' or '.'; a bad name is an error wrapping hoard.ErrInvalidOption.
//
// NewService makes the checks a cache would otherwise fail silently
// (behind an Aside a failing tier is read past, only counted), each within
// StartTimeout: a PING (an unreachable server, a wrong password), a write,
// read and delete of a key under "app:" (an ACL that forbids the
// application's keys), a read of the tag clock (scripts allowed), and the
// bus's subscription (channels allowed; messages published before it would
// be missed). A failed check is an error from NewService, prefixed
// "hoard: redis service", naming the check and wrapping the cause:
// hoard.ErrUnavailable for a server that cannot be reached or does not
// answer in time, hoard.ErrBackend for a refusal (WRONGPASS, NOPERM), or
// ctx's error when ctx ends.
func NewService(ctx context.Context, client goredis.UniversalClient, app string, opts *ServiceOptions) (*Service, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: redis service: nil client", hoard.ErrInvalidOption)
	}
	if err := checkName("application", app); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &ServiceOptions{}
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	s := &Service{app: app, client: client, opts: o, names: map[string]struct{}{}}
	if err := s.checkServer(ctx); err != nil {
		return nil, err
	}
	var err error
	if s.counters, err = New[struct{}](client, &Options{TagPrefix: s.tagPrefix(), TagStampTTL: o.TagStampTTL, CounterTTL: o.CounterTTL, Clock: o.Clock}); err != nil {
		return nil, err
	}
	s.counters.deriveTagStampTTL = o.TagStampTTL == 0
	if err := s.checkTagClock(ctx); err != nil {
		return nil, err
	}
	if s.locker, err = NewLocker(client, &LockerOptions{Prefix: app + ":lock:"}); err != nil {
		return nil, err
	}
	s.bus, err = NewBus(client, &BusOptions{
		Channel: app + ":bus", InstanceID: o.InstanceID, MaxStaleness: o.MaxStaleness, Logger: o.Logger, Clock: o.Clock,
	})
	if err != nil {
		return nil, err
	}
	if !o.NoBreaker {
		if s.breaker, err = s.newBreaker(); err != nil {
			return nil, errors.Join(err, s.closeShared(ctx))
		}
	}
	s.inv, err = hoard.NewInvalidator(&hoard.InvalidatorOptions{
		Counter: s.counters, TagClock: s.counters, Bus: s.bus, Breaker: s.breaker,
		MaxStaleness: o.MaxStaleness, NamespacePrefix: app + ":ns:", Clock: o.Clock,
		HardTimeout: o.SharedBudget.HardTimeout,
	})
	if err == nil {
		err = s.checkBus(ctx)
	}
	if err == nil && o.Tracking {
		err = s.startTracker(ctx)
	}
	if err != nil {
		// The bus may be subscribing still: give its Close as long as a check.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.StartTimeout)
		defer cancel()
		return nil, errors.Join(err, s.closeShared(closeCtx))
	}
	return s, nil
}

// tagPrefix is the prefix of the tag clock's keys: under the application's
// prefix, with a hash tag of its own so the clock's keys share a Cluster
// slot and different applications' clocks do not.
func (s *Service) tagPrefix() string { return s.app + ":{" + s.app + ":tags}" }

// App returns the application's name, the first part of every Redis name
// the service writes.
func (s *Service) App() string { return s.app }

// Client returns the Redis client the service was made with.
func (s *Service) Client() goredis.UniversalClient { return s.client }

// Bus returns the application's invalidation bus, on the channel
// "app:bus". Publish an [hoard.InvalidateAll] on it to make every other
// instance flush the memory tiers of every cache of the application.
func (s *Service) Bus() *Bus { return s.bus }

// Locker returns the application's locker, whose locks are the keys
// "app:lock:<key>".
func (s *Service) Locker() *Locker { return s.locker }

// Invalidator returns the application's invalidator: namespace versions
// under "app:ns:" and the tag clock under "app:{app:tags}", announced on the
// bus. Its InvalidateTags and BumpNamespace reach every cache of the
// application, and no other application's.
func (s *Service) Invalidator() *hoard.Invalidator { return s.inv }

// Metrics returns the metrics of the caches made by [NewAside], in the
// order they were made.
func (s *Service) Metrics() []*hoard.Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.metrics)
}

// Close closes what the service made: the Asides made by [NewAside] (each
// Close waits for its background loads) and their memory tiers, the queues
// made by [NewWriteBehindQueue], then the invalidator and the bus. The
// caches stay usable without the bus, but publish nothing more; close the
// service when its caches are done with (after any WriteBehind has
// drained). It waits until ctx ends at most, and returns the errors of
// what failed to close. Close may be called again, to wait longer for the
// bus; [NewAside] fails with hoard.ErrClosed once Close has begun. The
// client stays the caller's.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	closers := s.closers
	s.closers = nil
	s.mu.Unlock()
	var errs []error
	for _, c := range slices.Backward(closers) {
		errs = append(errs, c(ctx))
	}
	errs = append(errs, s.closeShared(ctx))
	return errors.Join(errs...)
}

// closeShared closes the invalidator and the bus, those made.
func (s *Service) closeShared(ctx context.Context) error {
	var errs []error
	if s.inv != nil {
		errs = append(errs, s.inv.Close())
	}
	if s.tracker != nil {
		errs = append(errs, s.tracker.Close(ctx))
	}
	if s.bus != nil {
		errs = append(errs, s.bus.Close(ctx))
	}
	if s.breaker != nil {
		errs = append(errs, s.breaker.Close())
	}
	return errors.Join(errs...)
}

// newBreaker is the breaker of ServiceOptions.Breaker, with a PING probe,
// the service's logger and its recorder unless the options give theirs.
func (s *Service) newBreaker() (*hoard.CircuitBreaker, error) {
	var bo hoard.BreakerOptions
	if s.opts.Breaker != nil {
		bo = *s.opts.Breaker
	}
	if bo.Name == "" {
		bo.Name = "breaker"
	}
	if bo.Probe == nil {
		bo.Probe = func(ctx context.Context) error { return wrapErr("ping", "", s.client.Ping(ctx).Err()) }
	}
	if bo.Logger == nil {
		bo.Logger = s.opts.Logger
	}
	if bo.Metrics == nil {
		bo.Metrics = hoard.NewMetrics(bo.Name, s.opts.Recorder)
	}
	return hoard.NewCircuitBreaker(&bo)
}

// Breaker returns the circuit breaker the service's caches share, nil with
// ServiceOptions.NoBreaker.
func (s *Service) Breaker() *hoard.CircuitBreaker { return s.breaker }

// adopt records that the service made the cache or queue (kind) name,
// closed by closer, unless the name is taken or the service closed; then
// it returns an error and the caller closes what it made.
func (s *Service) adopt(kind, name string, m *hoard.Metrics, closer func(context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(kind, name); err != nil {
		return err
	}
	s.names[kind+" "+name] = struct{}{}
	s.closers = append(s.closers, closer)
	if m != nil {
		s.metrics = append(s.metrics, m)
	}
	return nil
}

// usable reports why the cache or queue (kind) name cannot be made now:
// the service is closed, or one of that kind and name exists. s.mu must be
// held.
func (s *Service) usable(kind, name string) error {
	if s.closed {
		return fmt.Errorf("%w: redis service %q: %s %q made after Close", hoard.ErrClosed, s.app, kind, name)
	}
	if _, ok := s.names[kind+" "+name]; ok {
		return fmt.Errorf("%w: redis service %q: a %s named %q exists already", hoard.ErrInvalidOption, s.app, kind, name)
	}
	return nil
}

// checkFree is usable for a caller that does not hold s.mu, before it
// makes anything.
func (s *Service) checkFree(kind, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usable(kind, name)
}
