package changefeed

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Feed follows a database's changes to the tables of its Options and hands
// the invalidations they imply to its Sink. Run it on every instance: one
// consumes at a time, the others wait to take over.
type Feed struct {
	opts   Options
	tables map[string]*Table
	lease  int64 // the advisory lock's key

	leases    atomic.Uint64
	txns      atomic.Uint64
	flushes   atomic.Uint64
	active    atomic.Bool
	streaming atomic.Bool
	pending   atomic.Int64
}

// Stats are counters of a Feed.
type Stats struct {
	Leases uint64 // times this feed took the lease
	// Transactions counts the transactions applied to the Sink (the first
	// application; with Options.Repeat, a transaction is confirmed only
	// after its second, see Repeats).
	Transactions uint64
	Flushes      uint64 // Sink.Flush calls (slot created or recreated)
	Active       bool   // whether this feed holds the lease now
	// Streaming is whether this feed reads the slot now: it holds the
	// lease, the publication and the slot are ready and the server
	// accepted START_REPLICATION. Changes committed from then on reach
	// the Sink without a wait for a lease or a slot (a readiness check).
	Streaming bool
	// Repeats is how many applied transactions wait for their second
	// application (Options.Repeat), unconfirmed until then.
	Repeats int
}

// New checks options and returns a Feed; Run starts it.
func New(opts Options) (*Feed, error) {
	tables, err := opts.check()
	if err != nil {
		return nil, err
	}
	if _, err := pgx.ParseConfig(opts.ConnString); err != nil {
		return nil, fmt.Errorf("hoard: changefeed: Options.ConnString: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("hoard changefeed " + opts.Slot))
	return &Feed{opts: opts, tables: tables, lease: int64(h.Sum64())}, nil
}

// Stats returns the feed's counters.
func (f *Feed) Stats() Stats {
	return Stats{Leases: f.leases.Load(), Transactions: f.txns.Load(), Flushes: f.flushes.Load(), Active: f.active.Load(), Streaming: f.streaming.Load(), Repeats: int(f.pending.Load())}
}

// Run waits for the lease, then consumes the slot until ctx is done,
// reconnecting (and waiting for the lease again) after any error. It
// returns ctx's error.
func (f *Feed) Run(ctx context.Context) error {
	for {
		err := f.runOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "hoard: changefeed: restarting", slog.String("slot", f.opts.Slot), slog.Any("error", err))
		t := time.NewTimer(f.opts.RetryDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// runOnce takes the lease on a connection of its own and consumes the slot
// while holding it.
func (f *Feed) runOnce(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, f.opts.ConnString)
	if err != nil {
		return fmt.Errorf("hoard: changefeed: connect: %w", err)
	}
	defer closeQuietly(conn)
	// Blocks until the holder's session ends: its process died, its
	// connection closed, or it stopped.
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", f.lease); err != nil {
		return fmt.Errorf("hoard: changefeed: lease: %w", err)
	}
	f.leases.Add(1)
	f.active.Store(true)
	defer f.active.Store(false)
	defer f.pending.Store(0)
	f.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "hoard: changefeed: lease taken", slog.String("slot", f.opts.Slot))

	if err := f.prepare(ctx, conn); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan error, 1)
	go func() { lost <- f.watchLease(ctx, conn); cancel() }()
	err = f.stream(ctx)
	cancel()
	if lerr := <-lost; lerr != nil {
		err = errors.Join(err, lerr)
	}
	return err
}

// watchLease pings the lease's connection: when it is gone, so is the
// lease, and the consumer must stop before another takes over.
func (f *Feed) watchLease(ctx context.Context, conn *pgx.Conn) error {
	t := time.NewTicker(f.opts.StatusInterval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := conn.Ping(ctx); err != nil && ctx.Err() == nil {
				return fmt.Errorf("hoard: changefeed: lease connection lost: %w", err)
			}
		}
	}
}

func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// The error of closing a connection that is being abandoned changes
	// nothing: the server ends the session (and the lease) either way.
	_ = conn.Close(ctx)
}
