package hoardredis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// Bus is a [hoard.Bus] over Redis pub/sub: it carries key, prefix, tag,
// namespace and clear events to every instance of a service, which evicts
// them from its memory tier. On a Redis Cluster it uses sharded pub/sub
// (SPUBLISH, SSUBSCRIBE), so a message is handled by one shard instead of
// being broadcast over the cluster bus; elsewhere PUBLISH and SUBSCRIBE.
//
// Pub/sub delivers at most once, so the bus tells its subscribers whenever
// it may have missed a message, by delivering a [hoard.InvalidateAll] before
// anything it receives afterwards:
//
//   - every message carries its sender's instance id and a sequence number
//     that counts the sender's messages from 1: a number that skips (or
//     repeats) means messages of that sender were lost. A sender first
//     heard with a number above 1 is a gap too when its previous message
//     (each message says how long ago that was) was sent after this bus
//     subscribed; before, it is an instance that was already talking;
//   - a subscription that broke (a read error, a ping unanswered for
//     PingInterval, Redis ending it, or a reconnect go-redis made on its
//     own, seen as a second confirmation) may have missed anything published
//     until it was made again: the flush comes with the new confirmation,
//     so it precedes every message the new subscription receives;
//   - a message that does not decode may have been an invalidation (from a
//     later version of hoard, say);
//   - handlers that fall HandlerQueueSize messages behind: the bus drops what
//     waits for them and queues one InvalidateAll in its place, so it never
//     stops reading Redis (which would get it disconnected) and never drops
//     silently.
//
// The flush is the price of at-most-once delivery; a service that keeps
// a memory tier also bounds its staleness by a TTL, for the window
// between a lost message and its discovery. A subscription that stays
// down flushes too, every MaxStaleness (see [BusOptions]), and on a
// Redis Cluster the bus asks the client to reload its slot map each time
// the subscription fails, so it follows the channel's slot to a replica
// that took over.
//
// Publish sends from one goroutine: events published while a message is on
// the wire ride together in the next one (see BusOptions.MaxBatch), so a
// burst costs few round trips and a lone event goes out at once. Handlers
// run on one goroutine of the bus, in the order messages arrived.
//
// A bus owns four goroutines (publisher, subscriber, dispatcher, outage
// watch) and one pub/sub connection; Close stops them. The client stays the caller's to
// close, after the bus.
type Bus struct {
	client  goredis.UniversalClient
	opts    BusOptions
	sharded bool // SPUBLISH/SSUBSCRIBE: client is a *goredis.ClusterClient
	// reloader asks a ClusterClient to reload its slot map; nil for
	// other clients.
	reloader *slotReloader
	link     link // the subscriber's news for the outage watch

	reqs    chan *publishReq // Publish calls waiting for the publisher
	closing chan struct{}    // closed by Close: Publish takes no more calls
	cancel  context.CancelFunc
	once    sync.Once // closes closing

	pubDone  chan struct{} // closed when the publisher has returned
	subDone  chan struct{} // closed when the subscriber has returned
	dispDone chan struct{} // closed when the dispatcher has returned
	outDone  chan struct{} // closed when the outage watch has returned
	ready    chan struct{} // closed at the first confirmed subscription

	psMu     sync.Mutex
	ps       *goredis.PubSub // guarded by psMu: the subscriber's current PubSub
	psClosed bool            // guarded by psMu: Close has closed ps; make no other

	inbox inbox // received events waiting for the handlers

	handlers handlerSet

	stats busCounters
}

var _ hoard.Bus = (*Bus)(nil)

// NewBus returns a bus on client and starts it: it subscribes in the
// background (see [Bus.Ready]) and is ready to publish at once. nil opts
// give the defaults documented on [BusOptions]. Close the bus when done.
// On a *redis.ClusterClient it adds the failover hook that [New]
// describes.
func NewBus(client goredis.UniversalClient, opts *BusOptions) (*Bus, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: redis bus: nil client", hoard.ErrInvalidOption)
	}
	if opts == nil {
		opts = &BusOptions{}
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if _, ok := client.(*goredis.Ring); ok {
		// A Ring picks a shard by channel name, and its Subscribe panics
		// when no shard is up.
		return nil, fmt.Errorf("%w: redis bus: a Ring is not supported; give the bus one shard's Client", hoard.ErrInvalidOption)
	}
	o := opts.withDefaults()
	_, sharded := client.(*goredis.ClusterClient)
	b := &Bus{
		client:   client,
		opts:     o,
		sharded:  sharded,
		reloader: followFailover(client),
		link:     newLink(),
		reqs:     make(chan *publishReq, o.QueueSize),
		closing:  make(chan struct{}),
		pubDone:  make(chan struct{}),
		subDone:  make(chan struct{}),
		dispDone: make(chan struct{}),
		outDone:  make(chan struct{}),
		ready:    make(chan struct{}),
		inbox:    inbox{max: o.HandlerQueueSize, wake: make(chan struct{}, 1)},
	}
	b.inbox.stats = &b.stats
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go b.publishLoop(ctx)
	go b.subscribeLoop(ctx)
	go b.dispatchLoop(ctx)
	go b.outageLoop(ctx)
	return b, nil
}

// InstanceID returns the id this bus puts in its messages.
func (b *Bus) InstanceID() string { return b.opts.InstanceID }

// Channel returns the pub/sub channel of the bus.
func (b *Bus) Channel() string { return b.opts.Channel }

// Ready waits until the bus's subscription is confirmed by Redis for the
// first time: from then on it receives every message (or delivers an
// InvalidateAll for what it missed). Messages published before are not
// delivered, so a service that fills its memory tier before Ready returns
// may keep an entry invalidated meanwhile; call Ready first.
func (b *Bus) Ready(ctx context.Context) error {
	select {
	case <-b.ready:
		return nil
	default:
	}
	select {
	case <-b.ready:
		return nil
	case <-b.subDone:
		return fmt.Errorf("%w: redis bus %q: closed before it subscribed", hoard.ErrClosed, b.opts.Channel)
	case <-ctx.Done():
		return fmt.Errorf("hoard: redis bus %q: waiting for the subscription: %w", b.opts.Channel, ctx.Err())
	}
}

// Subscribe registers fn to be called with the events of other instances,
// in order, from one goroutine of the bus. fn must be quick (evict, do not
// load) and must not modify events. The returned function unsubscribes fn:
// no call of fn starts after it returns (one may still be running), and
// calling it again does nothing. A nil fn is never called.
func (b *Bus) Subscribe(fn func(events []hoard.Invalidation)) (unsubscribe func()) {
	return b.handlers.subscribe(fn)
}

// Close stops the bus. Publish calls already queued are sent first, while
// ctx lasts; those left when it ends fail. Then the subscription is closed
// and the goroutines stop; Close waits for them (a handler still running
// included) until ctx ends, and then returns an error wrapping ctx.Err().
// Publish and Ready fail with hoard.ErrClosed once Close has begun. Close
// may be called again, to wait longer.
func (b *Bus) Close(ctx context.Context) error {
	b.once.Do(func() { close(b.closing) })
	select {
	case <-b.pubDone:
	case <-ctx.Done():
	}
	b.cancel()
	b.psMu.Lock()
	b.psClosed = true
	if b.ps != nil {
		_ = b.ps.Close()
	}
	b.psMu.Unlock()
	for _, done := range []chan struct{}{b.pubDone, b.subDone, b.dispDone, b.outDone} {
		select {
		case <-done:
			continue
		default:
		}
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("hoard: redis bus %q: close: %w", b.opts.Channel, ctx.Err())
		}
	}
	return nil
}

// BusStats is a snapshot of a bus's counters, since it started.
type BusStats struct {
	Published     uint64 // events in messages Redis accepted
	Batches       uint64 // messages Redis accepted
	PublishErrors uint64 // messages whose PUBLISH failed
	Received      uint64 // events received from other instances
	Gaps          uint64 // messages whose sequence number showed that messages were missed
	Reconnects    uint64 // subscriptions made again after a failure
	Malformed     uint64 // messages that did not decode
	Dropped       uint64 // messages dropped, and flushed, because handlers were behind
	OutageFlushes uint64 // flushes because the subscription was down for longer than MaxStaleness
	Flushes       uint64 // InvalidateAll events the bus delivered on its own, for any of the above
}

// busCounters are the live counters behind [BusStats].
type busCounters struct {
	published, batches, publishErrors, received, gaps,
	reconnects, malformed, dropped, outageFlushes, flushes atomic.Uint64
	probes atomic.Uint64 // outage probes of the channel's node (for tests)
}

// Stats returns a snapshot of the bus's counters.
func (b *Bus) Stats() BusStats {
	s := &b.stats
	return BusStats{
		Published:     s.published.Load(),
		Batches:       s.batches.Load(),
		PublishErrors: s.publishErrors.Load(),
		Received:      s.received.Load(),
		Gaps:          s.gaps.Load(),
		Reconnects:    s.reconnects.Load(),
		Malformed:     s.malformed.Load(),
		Dropped:       s.dropped.Load(),
		OutageFlushes: s.outageFlushes.Load(),
		Flushes:       s.flushes.Load(),
	}
}

// inbox holds received events until the dispatcher hands them to the
// handlers. It is bounded: when full, what it holds is replaced by one
// InvalidateAll, which makes everything it held (and the message that did
// not fit) moot.
type inbox struct {
	max   int
	wake  chan struct{} // capacity 1: there is something to take
	stats *busCounters

	mu    sync.Mutex
	items []inboxItem // guarded by mu
}

// inboxItem is the events of one message, or a flush of the bus's own.
type inboxItem struct {
	events  []hoard.Invalidation
	flushed bool // events begin with an InvalidateAll of the bus's own
}

func (it inboxItem) flushOnly() bool { return it.flushed && len(it.events) == 1 }

// flushThen returns events after an InvalidateAll, in a new slice
// (handlers share what they are given, so nothing is reused).
func flushThen(events []hoard.Invalidation) []hoard.Invalidation {
	return append([]hoard.Invalidation{{Kind: hoard.InvalidateAll}}, events...)
}

// push queues events, preceded by an InvalidateAll when flush is set.
func (q *inbox) push(flush bool, events []hoard.Invalidation) {
	q.mu.Lock()
	switch {
	case len(q.items) >= q.max:
		var dropped uint64
		for _, it := range q.items {
			if !it.flushOnly() {
				dropped++
			}
		}
		if len(events) > 0 {
			dropped++
		}
		clear(q.items)
		q.items = append(q.items[:0], inboxItem{events: flushThen(nil), flushed: true})
		q.stats.dropped.Add(dropped)
	case flush && len(events) == 0:
		if n := len(q.items); n == 0 || !q.items[n-1].flushOnly() {
			q.items = append(q.items, inboxItem{events: flushThen(nil), flushed: true})
		}
	case flush:
		q.items = append(q.items, inboxItem{events: flushThen(events), flushed: true})
	default:
		q.items = append(q.items, inboxItem{events: events})
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns what is queued and leaves spare, emptied, in its place.
func (q *inbox) take(spare []inboxItem) []inboxItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = spare[:0]
	return items
}

// dispatchLoop hands what the subscriber received to the handlers, on one
// goroutine, in order, until ctx ends.
func (b *Bus) dispatchLoop(ctx context.Context) {
	defer close(b.dispDone)
	var batch []inboxItem
	for {
		select {
		case <-b.inbox.wake:
		case <-ctx.Done():
			return
		}
		for {
			batch = b.inbox.take(batch)
			if len(batch) == 0 {
				break
			}
			for i, it := range batch {
				if ctx.Err() != nil {
					return
				}
				if it.flushed {
					b.stats.flushes.Add(1)
				}
				for _, h := range b.handlers.all() {
					if h.active.Load() {
						h.fn(it.events)
					}
				}
				batch[i] = inboxItem{}
			}
		}
	}
}
