package hoardredis

import (
	"context"
	"fmt"

	"github.com/hoard-cache/hoard"
)

// The service's tracking: one Tracker per Service, on the application's
// prefix, whose invalidations reach each Aside beside the bus's.

// startTracker starts the service's tracker and waits, within
// StartTimeout, until every master tracks the application's keys.
func (s *Service) startTracker(ctx context.Context) error {
	p := s.app + ":"
	ignore := make([]string, 0, len(reservedNames)+1)
	for _, r := range reservedNames {
		ignore = append(ignore, p+r+":")
	}
	ignore = append(ignore, p+"{") // the tag clock's hash-tagged keys
	var err error
	s.tracker, err = NewTracker(s.client, &TrackerOptions{Prefix: p, Ignore: ignore, Logger: s.opts.Logger})
	if err != nil {
		return err
	}
	if err := s.check(ctx, s.tracker.Ready); err != nil {
		return s.startErr(ctx, fmt.Sprintf("tracking of the keys %q* (CLIENT TRACKING on every master; may this Redis user run it? the tracker logs the reason of each failed attempt)", p), err)
	}
	return nil
}

// Tracker returns the service's tracker, nil unless ServiceOptions.Tracking.
func (s *Service) Tracker() *Tracker { return s.tracker }

// CacheBus is the Bus to give a cache built outside the Service (an
// httpcache page cache, an Aside made with hoard.NewAside), the one the
// Service gives the Asides it makes: it publishes on [Service.Bus] and
// delivers what the bus delivers and, with ServiceOptions.Tracking, the
// [Tracker]'s reports of writes to the application's keys by other
// clients too. Without Tracking it is Service.Bus.
func (s *Service) CacheBus() hoard.Bus {
	if s.tracker == nil {
		return s.bus
	}
	return trackedBus{bus: s.bus, tracker: s.tracker}
}

// trackedBus publishes on the bus and delivers what the bus and the
// tracker deliver. Their handlers run on different goroutines, so a
// subscriber's fn may be called concurrently (an Aside's evictions are
// safe to).
type trackedBus struct {
	bus     *Bus
	tracker *Tracker
}

// Publish publishes events on the bus; the tracker needs none.
func (b trackedBus) Publish(ctx context.Context, events ...hoard.Invalidation) error {
	return b.bus.Publish(ctx, events...)
}

// Subscribe subscribes fn to the bus and to the tracker.
func (b trackedBus) Subscribe(fn func(events []hoard.Invalidation)) (unsubscribe func()) {
	u1, u2 := b.bus.Subscribe(fn), b.tracker.Subscribe(fn)
	return func() { u1(); u2() }
}
