package main

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/stores/postgres/changefeed"
)

// feedFleet is a change feed on every instance, all on one slot: they queue
// on its lease and one consumes, handing the products table's changes to
// its own instance's Aside and Invalidator.
type feedFleet struct {
	e     *env
	slot  string // also the publication's name
	dsn   string // the feeds' connection string (search_path: the run's schema)
	feeds []*changefeed.Feed
	stops []context.CancelFunc
	dones []chan struct{}
	acks  *ackBook
}

// feedRetryDelay is how soon a feed tries again after an error: after a
// takeover, the slot may still be held for a moment by the walsender of
// the feed that stopped.
const feedRetryDelay = 50 * time.Millisecond

// feedReadiness says why this demo's database cannot serve a change feed,
// or "" when it can: PostgreSQL, wal_level logical, and a replication
// connection allowed for the demo's role.
func feedReadiness(ctx context.Context, e *env) (string, error) {
	if e.cfg.dbURL == "" {
		return "the database is the embedded SQLite; the change feed needs PostgreSQL with wal_level=logical", nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch err := changefeed.Ready(cctx, e.cfg.dbURL); {
	case errors.Is(err, changefeed.ErrNotReady):
		return err.Error(), nil // what is missing
	case err != nil:
		return "", err
	}
	return "", nil
}

// withSearchPath returns the connection string dsn with search_path set to
// schema, so the feed's state table lands in the run's schema, dropped
// with it.
func withSearchPath(dsn, schema string) (string, error) {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errors.New("the --db URL does not parse")
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dsn + " search_path=" + schema, nil
}

// startFeeds starts a feed on every instance of f over the run's products
// table: a row's id is the cache's id, its category the tag of TagsOf; a
// new slot flushes the cache by bumping namespace.
func (e *env) startFeeds(ctx context.Context, f *fleet, namespace string) (*feedFleet, error) {
	conn, err := withSearchPath(e.cfg.dbURL, e.db.schema)
	if err != nil {
		return nil, err
	}
	ff := &feedFleet{e: e, slot: e.db.schema, dsn: conn, acks: newAckBook()}
	table := changefeed.Table{
		Name: e.db.table,
		IDs:  func(r changefeed.Row) []string { return []string{r["id"]} },
		Tags: func(r changefeed.Row) []string {
			c, err := strconv.Atoi(r["category"])
			if err != nil {
				return nil // no category in this row image
			}
			return []string{e.tagOf(c)}
		},
	}
	for i, a := range f.asides {
		feed, err := changefeed.New(changefeed.Options{
			ConnString: conn,
			Slot:       ff.slot,
			Tables:     []changefeed.Table{table},
			Sink:       &demoSink{aside: a, inv: e.instances[i].inv, namespace: namespace, acks: ff.acks},
			RetryDelay: feedRetryDelay,
			// The restarts of a takeover are expected; a feed that cannot
			// work shows as changes missed.
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			return ff, err
		}
		fctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = feed.Run(fctx) // fctx's error, once stopped
		}()
		ff.feeds, ff.stops, ff.dones = append(ff.feeds, feed), append(ff.stops, stop), append(ff.dones, done)
	}
	return ff, nil
}

// stop stops instance i's feed and waits for it; its session, and with
// it the lease, ends with it.
func (ff *feedFleet) stop(i int) {
	ff.stops[i]()
	<-ff.dones[i]
}

// consumer returns the instance whose feed reads the slot (it holds the
// lease, and the server streams to it), or -1.
func (ff *feedFleet) consumer() int {
	for i, f := range ff.feeds {
		if f.Stats().Streaming {
			return i
		}
	}
	return -1
}

// leases sums the leases the feeds took.
func (ff *feedFleet) leases() uint64 {
	var n uint64
	for _, f := range ff.feeds {
		n += f.Stats().Leases
	}
	return n
}

// transactions sums the transactions the feeds applied.
func (ff *feedFleet) transactions() uint64 {
	var n uint64
	for _, f := range ff.feeds {
		n += f.Stats().Transactions
	}
	return n
}

// flushes sums the Sink.Flush calls of the feeds: one once the slot exists.
func (ff *feedFleet) flushes() uint64 {
	var n uint64
	for _, f := range ff.feeds {
		n += f.Stats().Flushes
	}
	return n
}

// waitFor polls ok until it holds or limit passes.
func waitFor(ctx context.Context, limit time.Duration, ok func() bool) (bool, error) {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return false, nil
		}
		if err := sleep(ctx, probeInterval); err != nil {
			return false, err
		}
	}
	return true, nil
}

// Close stops every feed, then drops the slot and the publication (the
// state table goes with the run's schema). It runs on error paths too,
// with a context of its own.
func (ff *feedFleet) Close() error {
	for i := range ff.feeds {
		ff.stop(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return changefeed.Drop(ctx, ff.dsn, ff.slot)
}

// demoSink applies a feed's invalidations on its instance: Aside.Delete
// and Invalidator.InvalidateTags delete in Redis and publish on the bus,
// so every instance's memory tier hears them. It notes what arrived.
type demoSink struct {
	aside     *hoard.Aside[Product]
	inv       *hoard.Invalidator
	namespace string
	acks      *ackBook
}

func (s *demoSink) Invalidate(ctx context.Context, inv changefeed.Invalidations) error {
	if err := s.aside.Delete(ctx, inv.IDs...); err != nil {
		return err
	}
	if len(inv.Tags) > 0 {
		if err := s.inv.InvalidateTags(ctx, inv.Tags...); err != nil {
			return err
		}
	}
	s.acks.arrived(inv)
	return nil
}

// Flush bumps the cache's namespace: what it held before the slot existed
// is unreachable.
func (s *demoSink) Flush(ctx context.Context) error {
	_, err := s.inv.BumpNamespace(ctx, s.namespace)
	return err
}

// ackBook tells a waiting change when the feed's sink applied its id.
type ackBook struct {
	mu      sync.Mutex
	waiting map[string]*ack // guarded by mu: by id, until its arrival
}

// ack is one change's arrival: done is closed when its id was applied,
// with the tags of its transaction.
type ack struct {
	done chan struct{}
	tags []string // written before done is closed
}

func newAckBook() *ackBook { return &ackBook{waiting: map[string]*ack{}} }

// expect registers id before its change is made.
func (b *ackBook) expect(id string) *ack {
	a := &ack{done: make(chan struct{})}
	b.mu.Lock()
	b.waiting[id] = a
	b.mu.Unlock()
	return a
}

func (b *ackBook) arrived(inv changefeed.Invalidations) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range inv.IDs {
		if a, ok := b.waiting[id]; ok {
			delete(b.waiting, id)
			a.tags = inv.Tags
			close(a.done)
		}
	}
}

// wait reports whether a arrived within limit.
func (a *ack) wait(ctx context.Context, limit time.Duration) (bool, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-a.done:
		return true, nil
	case <-t.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}
