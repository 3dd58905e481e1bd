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
	mu    sync.Mutex // guards buses, lose, inflight and nextPublish
	buses []*LocalBus
	lose  int // how many of the next deliveries to lose
	// inflight holds a channel per Publish under way, closed when it
	// returns: what Barrier waits for.
	inflight    map[uint64]chan struct{}
	nextPublish uint64
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

// LoseNextTo makes the network lose the next k deliveries to b only.
func (n *BusNetwork) LoseNextTo(b *LocalBus, k int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lose += k
}

// Heal cancels the losses still to come (LoseNext, LoseNextTo) and
// delivers an InvalidateAll, alone, to every bus that lost a delivery and
// has not yet made up for it, as a real bus does when it notices a gap or
// reconnects. It returns when the handlers have run.
func (n *BusNetwork) Heal() {
	n.mu.Lock()
	n.lose = 0
	buses := append([]*LocalBus(nil), n.buses...)
	n.mu.Unlock()
	for _, b := range buses {
		b.mu.Lock()
		lost := b.lost
		b.lose = 0
		b.mu.Unlock()
		if lost {
			b.receive(nil)
		}
	}
}

// Barrier returns when every Publish on the network that began before the
// call has returned, that is, when everything published before the call
// was delivered to every subscriber (or lost), or when ctx ends. The
// network delivers synchronously, so a Publish that has returned has
// delivered; Barrier is for a test that publishes from several goroutines
// and must know that a point has been passed by all of them.
func (n *BusNetwork) Barrier(ctx context.Context) error {
	n.mu.Lock()
	waits := make([]chan struct{}, 0, len(n.inflight))
	for _, ch := range n.inflight {
		waits = append(waits, ch)
	}
	n.mu.Unlock()
	for _, ch := range waits {
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// LocalBus is one instance's [hoard.Bus] on a [BusNetwork].
type LocalBus struct {
	network  *BusNetwork
	mu       sync.Mutex // guards handlers, next, lost, lose, flushing and recovered
	handlers map[int]func([]hoard.Invalidation)
	next     int
	lost     bool // a delivery was lost: flush before the next
	lose     int  // how many of the next deliveries to this bus to lose
	// flushing counts deliveries under way that make up for a loss;
	// flushes counts those begun, recovered those done (their handlers
	// have returned). Deliveries are serialised, so they end in order.
	flushing  int
	flushes   uint64
	recovered uint64
	// deliver serialises deliveries to this bus, so they arrive in order.
	deliver sync.Mutex
}

// Lost reports whether the bus has lost a delivery that its subscribers
// have not yet been told of (by an InvalidateAll whose handlers have
// returned), and a mark to hand to [LocalBus.Recovered]. A test uses it
// to know which instances may still serve what an invalidation removed:
// those that lost it, until they have recovered.
func (b *LocalBus) Lost() (pending bool, mark uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.lost:
		return true, b.flushes + 1 // the next flush makes up for it
	case b.flushing > 0:
		return true, b.flushes // the flush under way does
	}
	return false, b.recovered
}

// Recovered reports whether every loss that a call of Lost returning mark
// reported has been made up for: the InvalidateAll was delivered and its
// handlers have returned.
func (b *LocalBus) Recovered(mark uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.recovered >= mark
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
	if n.inflight == nil {
		n.inflight = make(map[uint64]chan struct{})
	}
	id := n.nextPublish
	n.nextPublish++
	done := make(chan struct{})
	n.inflight[id] = done
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.inflight, id)
		n.mu.Unlock()
		close(done)
	}()
	for _, other := range lost {
		other.mu.Lock()
		other.lost = true
		other.mu.Unlock()
	}
	for _, other := range targets {
		other.mu.Lock()
		drop := other.lose > 0
		if drop {
			other.lose--
			other.lost = true
		}
		other.mu.Unlock()
		if !drop {
			other.receive(events)
		}
	}
	return nil
}

func (b *LocalBus) receive(events []hoard.Invalidation) {
	b.deliver.Lock()
	defer b.deliver.Unlock()
	b.mu.Lock()
	flush := b.lost
	if flush {
		b.lost = false
		b.flushing++
		b.flushes++
		events = append([]hoard.Invalidation{{Kind: hoard.InvalidateAll}}, events...)
	}
	if len(events) == 0 {
		b.mu.Unlock()
		return
	}
	handlers := make([]func([]hoard.Invalidation), 0, len(b.handlers))
	for _, h := range b.handlers {
		handlers = append(handlers, h)
	}
	b.mu.Unlock()
	for _, h := range handlers {
		h(events)
	}
	if flush {
		b.mu.Lock()
		b.flushing--
		b.recovered++
		b.mu.Unlock()
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
