package changefeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Row is one row of a change: column name to its value in PostgreSQL's text
// format. A NULL column, or a TOASTed one that the change left unchanged,
// is absent.
type Row map[string]string

// Op is the kind of a row change.
type Op byte

// The row changes a feed reports.
const (
	Insert Op = 'I'
	Update Op = 'U'
	Delete Op = 'D'
)

// Change is one committed row change of a published table.
type Change struct {
	Table string // schema-qualified: "public.users"
	Op    Op
	// Old is the old row of an Update or Delete: its replica identity
	// columns (the primary key by default, every column with REPLICA
	// IDENTITY FULL), nil for an Update that kept the key.
	Old Row
	New Row // the new row of an Insert or Update; nil for a Delete
}

// Invalidations is what a transaction's changes make stale.
type Invalidations struct {
	IDs        []string // ids of the cache (Aside.Delete)
	Tags       []string // tags (Invalidator.InvalidateTags)
	Namespaces []string // namespaces to bump (Invalidator.BumpNamespace)
}

func (i *Invalidations) empty() bool {
	return len(i.IDs) == 0 && len(i.Tags) == 0 && len(i.Namespaces) == 0
}

// Sink applies invalidations. It returns nil only once they are durable:
// deleted from the shared tier and published on the bus. Any error leaves
// the transaction unconfirmed: the feed reconnects and replays it.
//
// An error joined with hoard.ErrDeferred (a CircuitBreaker keeping the
// change for later) is an error here: the breaker keeps it in memory only,
// and a consumer that dies loses it, so the feed replays instead.
type Sink interface {
	Invalidate(ctx context.Context, inv Invalidations) error
	// Flush makes everything the feed's tables may have put in the caches
	// unreachable (bump their namespaces, say): called when the slot is
	// created, after changes that were not recorded.
	Flush(ctx context.Context) error
}

// SinkFuncs is a Sink from functions, for wiring an Aside and an
// Invalidator: Delete: aside.Delete, InvalidateTags: inv.InvalidateTags.
// A nil function with something to do is an error.
type SinkFuncs struct {
	Delete         func(ctx context.Context, ids ...string) error
	InvalidateTags func(ctx context.Context, tags ...string) error
	BumpNamespace  func(ctx context.Context, ns string) error
	FlushAll       func(ctx context.Context) error
}

// Invalidate implements Sink.
func (s SinkFuncs) Invalidate(ctx context.Context, inv Invalidations) error {
	var errs []error
	if len(inv.IDs) > 0 {
		errs = append(errs, call(s.Delete != nil, "Delete", func() error { return s.Delete(ctx, inv.IDs...) }))
	}
	if len(inv.Tags) > 0 {
		errs = append(errs, call(s.InvalidateTags != nil, "InvalidateTags", func() error { return s.InvalidateTags(ctx, inv.Tags...) }))
	}
	for _, ns := range inv.Namespaces {
		errs = append(errs, call(s.BumpNamespace != nil, "BumpNamespace", func() error { return s.BumpNamespace(ctx, ns) }))
	}
	return errors.Join(errs...)
}

// Flush implements Sink.
func (s SinkFuncs) Flush(ctx context.Context) error {
	return call(s.FlushAll != nil, "FlushAll", func() error { return s.FlushAll(ctx) })
}

func call(set bool, name string, f func() error) error {
	if !set {
		return fmt.Errorf("hoard: changefeed: SinkFuncs.%s is nil", name)
	}
	return f()
}

// Table maps the changes of one table to invalidations. IDs and Tags are
// called with each row of a change (old and new), so a key or a tag that
// changed invalidates both values.
type Table struct {
	Name       string               // "users" (schema public) or "schema.table"
	IDs        func(r Row) []string // cache ids of a row; nil for none
	Tags       func(r Row) []string // tags of a row; nil for none
	Namespaces []string             // bumped by every change, and by TRUNCATE
}

// Options configure a Feed.
type Options struct {
	// ConnString is the database to follow (a URL or key=value string);
	// the role needs the REPLICATION attribute, and pg_hba.conf must let it
	// open replication connections.
	ConnString string
	// Slot names the replication slot, also the publication and the lease;
	// it must be unique per application on the server. Default "hoard_feed".
	Slot   string
	Tables []Table
	Sink   Sink
	// StatusInterval is how often the feed reports its confirmed position
	// when idle (PostgreSQL's wal_sender_timeout, 60s by default, must be
	// longer). Default 10s.
	StatusInterval time.Duration
	// Repeat is how long after a transaction's invalidations the feed
	// applies them again, to undo a load that read the row before the
	// change committed and wrote it after the first invalidation; it
	// should exceed the longest load. The transaction is confirmed after
	// the second application. Default 1s; negative: apply once.
	Repeat time.Duration
	// RetryDelay is the pause before reconnecting after an error. Default 1s.
	RetryDelay time.Duration
	Logger     *slog.Logger // default slog.Default()
}

func (o *Options) check() (map[string]*Table, error) {
	if o.ConnString == "" {
		return nil, errors.New("hoard: changefeed: Options.ConnString is empty")
	}
	if o.Sink == nil {
		return nil, errors.New("hoard: changefeed: Options.Sink is nil")
	}
	if len(o.Tables) == 0 {
		return nil, errors.New("hoard: changefeed: Options.Tables is empty")
	}
	if o.Slot == "" {
		o.Slot = "hoard_feed"
	}
	for _, r := range o.Slot {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return nil, fmt.Errorf("hoard: changefeed: Options.Slot %q: only a-z, 0-9 and _ are allowed", o.Slot)
		}
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = 10 * time.Second
	}
	if o.Repeat == 0 {
		o.Repeat = time.Second
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	tables := make(map[string]*Table, len(o.Tables))
	for i := range o.Tables {
		t := &o.Tables[i]
		name := qualified(t.Name)
		if name == "" {
			return nil, fmt.Errorf("hoard: changefeed: Tables[%d].Name %q is not table or schema.table", i, t.Name)
		}
		if _, dup := tables[name]; dup {
			return nil, fmt.Errorf("hoard: changefeed: table %s is declared twice", name)
		}
		tables[name] = t
	}
	return tables, nil
}

// qualified returns "schema.table" for "table" or "schema.table", or "" for
// a malformed name.
func qualified(name string) string {
	parts := strings.Split(name, ".")
	switch {
	case len(parts) == 1 && parts[0] != "":
		return "public." + parts[0]
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return name
	}
	return ""
}
