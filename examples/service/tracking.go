package main

import (
	"context"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// asideBus is the Bus of a cache the service builds itself (the page
// caches): the Service's bus, and with -redis-tracking its Tracker beside
// it, as the Service gives the Asides it makes. (The Service keeps that
// pairing to itself, so the example pairs them again.)
func asideBus(svc *hoardredis.Service) hoard.Bus {
	if svc.Tracker() == nil {
		return svc.Bus()
	}
	return trackedBus{bus: svc.Bus(), tracker: svc.Tracker()}
}

// trackedBus publishes on the bus and delivers what the bus and the
// tracker deliver: the service's invalidations, and Redis's reports of
// writes to the service's keys by anyone.
type trackedBus struct {
	bus     *hoardredis.Bus
	tracker *hoardredis.Tracker
}

// Publish publishes events on the bus; Redis reports the writes to the
// tracker by itself.
func (b trackedBus) Publish(ctx context.Context, events ...hoard.Invalidation) error {
	return b.bus.Publish(ctx, events...)
}

// Subscribe subscribes fn to both; their deliveries may run concurrently,
// which an Aside's evictions allow.
func (b trackedBus) Subscribe(fn func(events []hoard.Invalidation)) (unsubscribe func()) {
	u1, u2 := b.bus.Subscribe(fn), b.tracker.Subscribe(fn)
	return func() { u1(); u2() }
}
