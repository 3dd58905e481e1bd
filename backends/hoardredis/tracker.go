package hoardredis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// Tracker tells an instance's memory tiers about writes to Redis made
// outside hoard, with Redis's server-assisted client-side caching: on
// every master it keeps one connection with CLIENT TRACKING on, in
// broadcast mode (BCAST) for the keys under TrackerOptions.Prefix, its
// invalidation messages redirected to itself, subscribed to
// __redis__:invalidate. Redis then reports a write to any key under the
// prefix, by any client (redis-cli, another service, a script), and the
// tracker delivers it to its subscribers as a [hoard.InvalidateKey].
//
// It is a [hoard.Bus] whose Publish sends nothing: Redis does the
// publishing, for every write. Give it to an Aside beside the [Bus]
// (a [Service] made with ServiceOptions.Tracking does so).
//
// Tracking tells of a write only while its connection lives, so the
// tracker delivers an [hoard.InvalidateAll] each time a tracking
// connection is confirmed (the first time, and after any reconnect:
// writes made meanwhile were not reported) and each time one that was
// confirmed is lost (a read error, a ping unanswered for PingInterval,
// CLIENT KILL, a master that died), and when Redis says the whole keyspace
// changed (FLUSHALL, FLUSHDB). Attempts to connect again that fail flush
// again only when Redis answered them with a refusal (an ACL, say):
// while Redis cannot be reached the memory tiers keep serving, bounded by
// their MemoryTTL, and the confirmation that ends the outage flushes them.
// A network failure between this instance and Redis alone, while others
// still write, is bounded by MemoryTTL too.
//
// The tracking connections speak RESP2, whatever the client's protocol:
// RESP2 delivers the invalidations as pub/sub messages on the connection
// that asked for them, which go-redis's PubSub reads from one goroutine
// and whose loss it reports, while RESP3 would deliver them as push
// messages on pooled connections, read only when the pool uses them.
//
// On a Redis Cluster the tracker follows the masters: it asks for them
// every RefreshInterval and whenever a tracking connection fails, tracks a
// new one (a promoted replica) with the flush above, and drops one that
// left.
//
// Handlers run under one lock, in the order each connection received its
// messages; messages of two masters have no order between them.
type Tracker struct {
	client goredis.UniversalClient
	opts   TrackerOptions

	cancel context.CancelFunc
	done   chan struct{} // closed when the topology loop and every node loop returned
	ready  chan struct{} // closed when every master's tracking was confirmed once
	kick   chan struct{} // capacity 1: ask for the masters now

	deliverMu sync.Mutex // serialises handler calls
	handlers  handlerSet

	stats trackerCounters
}

var _ hoard.Bus = (*Tracker)(nil)

// TrackerStats is a snapshot of a tracker's counters since it started.
type TrackerStats struct {
	Invalidations uint64 // keys reported written and delivered
	Ignored       uint64 // keys reported written under an Ignore prefix
	Connects      uint64 // tracking connections confirmed
	Lost          uint64 // confirmed tracking connections lost
	Flushes       uint64 // InvalidateAll events delivered
	Nodes         uint64 // masters tracked now
}

type trackerCounters struct {
	invalidations, ignored, connects, lost, flushes, nodes atomic.Uint64
}

// NewTracker returns a tracker on client and starts it: it connects to
// every master in the background (see [Tracker.Ready]). A
// *goredis.Client (a failover client included) and a
// *goredis.ClusterClient are supported; a Ring is not. Close the tracker
// when done; the client stays the caller's.
func NewTracker(client goredis.UniversalClient, opts *TrackerOptions) (*Tracker, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: redis tracker: nil client", hoard.ErrInvalidOption)
	}
	if opts == nil {
		opts = &TrackerOptions{}
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	switch c := client.(type) {
	case *goredis.Client, *goredis.ClusterClient:
		if c == (*goredis.Client)(nil) || c == (*goredis.ClusterClient)(nil) {
			return nil, fmt.Errorf("%w: redis tracker: nil client", hoard.ErrInvalidOption)
		}
	default:
		return nil, fmt.Errorf("%w: redis tracker: a %T is not supported; give it a *redis.Client or *redis.ClusterClient", hoard.ErrInvalidOption, client)
	}
	t := &Tracker{
		client: client,
		opts:   opts.withDefaults(),
		done:   make(chan struct{}),
		ready:  make(chan struct{}),
		kick:   make(chan struct{}, 1),
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go t.topologyLoop(ctx)
	return t, nil
}

// Prefix returns the key prefix Redis tracks for the tracker.
func (t *Tracker) Prefix() string { return t.opts.Prefix }

// Publish does nothing and returns nil: Redis itself reports every write
// under the prefix to every tracker.
func (t *Tracker) Publish(context.Context, ...hoard.Invalidation) error { return nil }

// Subscribe registers fn to be called with the writes Redis reports, and
// with the flushes of the tracker. fn must be quick (evict, do not load)
// and must not modify events. The returned function unsubscribes fn: no
// call of fn starts after it returns. A nil fn is never called.
func (t *Tracker) Subscribe(fn func(events []hoard.Invalidation)) (unsubscribe func()) {
	return t.handlers.subscribe(fn)
}

// deliver hands events to the handlers, under deliverMu.
func (t *Tracker) deliver(events []hoard.Invalidation) {
	if len(events) == 0 {
		return
	}
	t.deliverMu.Lock()
	defer t.deliverMu.Unlock()
	for _, h := range t.handlers.all() {
		if h.active.Load() {
			h.fn(events)
		}
	}
}

// flush delivers an InvalidateAll.
func (t *Tracker) flush() {
	t.stats.flushes.Add(1)
	t.deliver([]hoard.Invalidation{{Kind: hoard.InvalidateAll}})
}

// keys delivers an InvalidateKey for each key not ignored.
func (t *Tracker) keys(keys []string) {
	events := make([]hoard.Invalidation, 0, len(keys))
	for _, k := range keys {
		if t.opts.ignored(k) {
			t.stats.ignored.Add(1)
			continue
		}
		events = append(events, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: k})
	}
	t.stats.invalidations.Add(uint64(len(events)))
	t.deliver(events)
}

// Ready waits until tracking was confirmed on every master the tracker
// found first: from then on every write under the prefix is reported (or
// a flush delivered). Writes made before are not.
func (t *Tracker) Ready(ctx context.Context) error {
	select {
	case <-t.ready:
		return nil
	case <-t.done:
		return fmt.Errorf("%w: redis tracker %q: closed before it was ready", hoard.ErrClosed, t.opts.Prefix)
	case <-ctx.Done():
		return fmt.Errorf("hoard: redis tracker %q: waiting for tracking: %w", t.opts.Prefix, ctx.Err())
	}
}

// Close stops the tracker and closes its connections, waiting for its
// goroutines until ctx ends (then it returns an error wrapping ctx.Err()).
// Close may be called again, to wait longer.
func (t *Tracker) Close(ctx context.Context) error {
	t.cancel()
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("hoard: redis tracker %q: close: %w", t.opts.Prefix, ctx.Err())
	}
}

// Stats returns a snapshot of the tracker's counters.
func (t *Tracker) Stats() TrackerStats {
	s := &t.stats
	return TrackerStats{
		Invalidations: s.invalidations.Load(),
		Ignored:       s.ignored.Load(),
		Connects:      s.connects.Load(),
		Lost:          s.lost.Load(),
		Flushes:       s.flushes.Load(),
		Nodes:         s.nodes.Load(),
	}
}
