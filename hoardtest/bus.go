package hoardtest

import (
	"context"
	"sync"

	"github.com/hoard-cache/hoard"
)

// BusNetwork connects in-process [hoard.Bus] instances, for tests of
// several cache instances in one process: an event published by one is
// delivered, synchronously and in order, to the subscribers of every other.
// It can also lose messages on purpose, the way pub/sub does, and then
// tells the receivers with an InvalidateAll, as a real bus must.
type BusNetwork struct {
	mu    sync.Mutex // guards buses and lose
	buses []*LocalBus
	lose  int // how many of the next deliveries to lose
}

// NewBus returns a new instance on the network.
func (n *BusNetwork) NewBus() *LocalBus {
	n.mu.Lock()
	defer n.mu.Unlock()
	b := &LocalBus{network: n}
	n.buses = append(n.buses, b)
	return b
}

// LoseNext makes the network lose the next k deliveries. Each receiver
// that lost one gets an InvalidateAll with its next delivery, as a bus
// that noticed a gap in the sequence numbers would.
func (n *BusNetwork) LoseNext(k int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lose += k
}

// LocalBus is one instance's [hoard.Bus] on a [BusNetwork].
type LocalBus struct {
	network  *BusNetwork
	mu       sync.Mutex // guards handlers, next and lost
	handlers map[int]func([]hoard.Invalidation)
	next     int
	lost     bool // a delivery was lost: flush before the next
	// deliver serialises deliveries to this bus, so they arrive in order.
	deliver sync.Mutex
}

var _ hoard.Bus = (*LocalBus)(nil)

// Publish delivers events to every other bus of the network.
func (b *LocalBus) Publish(_ context.Context, events ...hoard.Invalidation) error {
	n := b.network
	n.mu.Lock()
	targets := make([]*LocalBus, 0, len(n.buses))
	var lost []*LocalBus
	for _, other := range n.buses {
		if other == b {
			continue
		}
		if n.lose > 0 {
			n.lose--
			lost = append(lost, other)
			continue
		}
		targets = append(targets, other)
	}
	n.mu.Unlock()
	for _, other := range lost {
		other.mu.Lock()
		other.lost = true
		other.mu.Unlock()
	}
	for _, other := range targets {
		other.receive(events)
	}
	return nil
}

func (b *LocalBus) receive(events []hoard.Invalidation) {
	b.deliver.Lock()
	defer b.deliver.Unlock()
	b.mu.Lock()
	if b.lost {
		b.lost = false
		events = append([]hoard.Invalidation{{Kind: hoard.InvalidateAll}}, events...)
	}
	handlers := make([]func([]hoard.Invalidation), 0, len(b.handlers))
	for _, h := range b.handlers {
		handlers = append(handlers, h)
	}
	b.mu.Unlock()
	for _, h := range handlers {
		h(events)
	}
}

// Subscribe registers fn for the events of other instances.
func (b *LocalBus) Subscribe(fn func([]hoard.Invalidation)) (unsubscribe func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.handlers == nil {
		b.handlers = make(map[int]func([]hoard.Invalidation))
	}
	id := b.next
	b.next++
	b.handlers[id] = fn
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.handlers, id)
	}
}
