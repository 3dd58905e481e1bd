package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-cache/hoard"
)

type changesData struct {
	Feed     feedData     `json:"feed"`
	Tracking trackingData `json:"tracking"`
	BusGrace string       `json:"bus_grace"`
}

type feedData struct {
	Skipped string `json:"skipped,omitempty"`
	Slot    string `json:"slot,omitempty"` // also the publication's name
	Updates int    `json:"updates"`
	Moves   int    `json:"category_moves"`
	Deletes int    `json:"deletes"`
	// Reached is the time from a change's commit until every instance's
	// next read served it.
	Reached      summary `json:"every_instance_reads_it,omitzero"`
	Missed       int     `json:"changes_missed"`
	ReadsChecked int     `json:"reads_checked"`
	StaleReads   int     `json:"stale_reads"`
	// MovesBothTags counts the category moves whose invalidation carried
	// the old category's tag as well as the new one's.
	MovesBothTags int           `json:"moves_with_both_tags"`
	Takeover      *takeoverData `json:"takeover,omitempty"`
}

// takeoverData is the lease's takeover: the consuming instance's feed
// stopped, changes made while no feed consumed.
type takeoverData struct {
	Stopped  int    `json:"stopped_instance"`
	TookOver int    `json:"took_over_instance"`
	Lease    string `json:"streaming_after"` // from the stop until the next feed read the slot
	// Leases counts the leases the feeds took from the stop until the gap's
	// changes arrived: more than one when a feed found the slot still held
	// by the stopped feed's walsender and tried again.
	Leases uint64 `json:"leases_taken"`
	// Replayed counts the transactions the new consumer applied before the
	// gap's: the stopped one had applied them but not confirmed them yet
	// (each is confirmed after its repeat, changefeed.Options.Repeat).
	Replayed   uint64  `json:"replayed"`
	Changes    int     `json:"changes_during_gap"`
	Reached    summary `json:"every_instance_reads_it,omitzero"`
	Missed     int     `json:"changes_missed"`
	StaleReads int     `json:"stale_reads"`
}

// changeLimit bounds the wait for one change to reach every instance: past
// it the change counts as missed.
const changeLimit = 10 * time.Second

// runHint says how to see what a skipped part shows.
const runHint = "sudo scripts/pg-logical.sh, then go -C cmd/hoard run . demo --db 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' --redis 127.0.0.1:6379"

// runChanges changes the catalogue from outside hoard and shows every
// instance's next read serving the change: UPDATEs and DELETEs on a
// connection of their own (as psql would make them) reach the caches
// through a PostgreSQL change feed run by every instance, and keys
// deleted in Redis by a plain client (as redis-cli would) leave every
// memory tier through Redis's client tracking. Either part is skipped,
// saying so, where the demo's setup cannot run it.
func runChanges(ctx context.Context, e *env, p progress) (*result, error) {
	d := changesData{BusGrace: busGrace.String()}
	var err error
	if d.Feed.Skipped, err = feedReadiness(ctx, e); err != nil {
		return nil, err
	}
	if e.mr != nil {
		d.Tracking.Skipped = "the Redis is the embedded miniredis, which has no CLIENT TRACKING; tracking needs a real Redis 6 or later (--redis)"
	}
	r := &result{
		Title: fmt.Sprintf("7. changes from outside hoard, on %d instances: a psql UPDATE/DELETE reaches them through the PostgreSQL change feed, a redis-cli DEL through Redis tracking",
			len(e.instances)),
		Data:   &d,
		header: []string{"", "changes", "p50", "p99", "max", "missed", "stale reads"},
	}
	if d.Feed.Skipped != "" && d.Tracking.Skipped != "" {
		r.Skipped = d.Feed.Skipped + "; " + d.Tracking.Skipped + ". To see it: " + runHint
		return r, nil
	}
	if d.Feed.Skipped == "" {
		if err := runFeedPart(ctx, e, p, &d.Feed); err != nil {
			return nil, err
		}
		f := &d.Feed
		r.row("UPDATE/DELETE → every instance", f.Updates+f.Moves+f.Deletes, f.Reached.P50, f.Reached.P99, f.Reached.Max, f.Missed, f.StaleReads)
		if t := f.Takeover; t != nil {
			r.row("  made during the takeover", t.Changes, t.Reached.P50, t.Reached.P99, t.Reached.Max, t.Missed, t.StaleReads)
			r.note("feed: slot %s; %d UPDATEs, %d that move a product to another category, %d DELETEs", f.Slot, f.Updates, f.Moves, f.Deletes)
			retried := ""
			if t.Leases > 1 {
				retried = fmt.Sprintf(" (%d leases taken until the gap's changes arrived: the slot was still held by the stopped feed's walsender, retried after %v)", t.Leases, feedRetryDelay)
			}
			r.note("takeover: instance %d's feed stopped, instance %d took the lease and streamed %s later%s, replayed %d transactions applied but not yet confirmed, then the gap's",
				t.Stopped, t.TookOver, t.Lease, retried, t.Replayed)
		}
		r.promise("every change reaches every instance", f.Missed == 0, "%d of %d missed", f.Missed, f.Updates+f.Moves+f.Deletes)
		r.promise("no stale read once the feed's invalidation arrived and the buses caught up", f.StaleReads == 0,
			"%d stale reads of %d (+%v)", f.StaleReads, f.ReadsChecked, busGrace)
		r.promise("a category move invalidates the old category too (REPLICA IDENTITY FULL)", f.MovesBothTags == f.Moves,
			"%d of %d moves", f.MovesBothTags, f.Moves)
		if t := f.Takeover; t != nil {
			r.promise("changes made while no feed consumed arrive after the takeover", t.Missed == 0 && t.StaleReads == 0,
				"%d of %d missed, %d stale reads", t.Missed, t.Changes, t.StaleReads)
		}
	} else {
		r.note("feed skipped: %s. To see it: %s", d.Feed.Skipped, runHint)
	}
	if d.Tracking.Skipped == "" {
		if err := runTrackingPart(ctx, e, p, &d.Tracking); err != nil {
			return nil, err
		}
	}
	if t := &d.Tracking; t.Skipped == "" {
		r.row("redis DEL → every memory tier", t.Keys, t.Dropped.P50, t.Dropped.P99, t.Dropped.Max, t.Missed, t.StaleReads)
		r.note("tracking: keys under %s, deleted by a plain client after an UPDATE behind the cache's back", t.Prefix)
		r.promise("a key deleted in Redis leaves every instance's memory tier", t.Missed == 0, "%d of %d missed", t.Missed, t.Keys)
		r.promise("every instance then reads the database's row", t.StaleReads == 0, "%d stale reads", t.StaleReads)
	} else {
		r.note("tracking skipped: %s", t.Skipped)
	}
	return r, nil
}

// runFeedPart runs a change feed on every instance, then changes products
// through a connection of its own, measuring each change until every
// instance reads it; midway it stops the consuming instance's feed.
func runFeedPart(ctx context.Context, e *env, p progress, d *feedData) (err error) {
	// The old row of an UPDATE whole, its category included: a product
	// moved to another category invalidates both.
	if _, err := e.db.db.ExecContext(ctx, "ALTER TABLE "+e.db.table+" REPLICA IDENTITY FULL"); err != nil {
		return fmt.Errorf("replica identity: %w", err)
	}
	namespace := "demo-" + e.run + "-changes"
	f, err := e.newFleet(fleetOptions{name: "changes", bus: true, aside: hoard.AsideOptions[Product]{
		TTL:       10 * time.Minute,
		Namespace: namespace,
		TagsOf:    func(_ string, v Product) []string { return []string{e.tagOf(v.Category)} },
	}})
	defer func() { err = errors.Join(err, f.Close()) }()
	if err != nil {
		return err
	}
	ff, err := e.startFeeds(ctx, f, namespace)
	defer func() { err = errors.Join(err, ff.Close()) }()
	if err != nil {
		return err
	}
	d.Slot = ff.slot
	// The slot exists once a feed flushed after creating it: from then on
	// every commit is kept for the feeds.
	if ok, err := waitFor(ctx, 30*time.Second, func() bool { return ff.flushes() > 0 && ff.consumer() >= 0 }); err != nil || !ok {
		return errors.Join(errors.New("no change feed started within 30s"), err)
	}
	if err := e.settle(ctx); err != nil {
		return err
	}
	// psql: a connection of its own, which hoard knows nothing of.
	psql, err := pgx.Connect(ctx, e.cfg.dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err = errors.Join(err, psql.Close(cctx))
	}()
	c := &changer{e: e, f: f, psql: psql, acks: ff.acks, loader: hoard.LoaderFunc[Product](e.db.Product)}
	var reached timings
	var done atomic.Int64
	stop := p.start("changes from outside hoard", func() string {
		return fmt.Sprintf("changes %d  missed %d", done.Load(), d.Missed)
	})
	defer stop()
	steady := func(until time.Time, least int) error {
		for n := 0; (n < least || time.Now().Before(until)) && c.left(); n++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			ch, err := c.make(ctx)
			if err != nil {
				return err
			}
			m, err := c.measure(ctx, ch)
			if err != nil {
				return err
			}
			d.count(ch, m)
			if m.arrived {
				reached = append(reached, m.took)
			}
			done.Add(1)
		}
		return nil
	}
	began := time.Now()
	if err := steady(began.Add(e.cfg.duration/2), 4); err != nil {
		return err
	}
	if d.Takeover, err = c.takeover(ctx, ff); err != nil {
		return err
	}
	if err := steady(began.Add(e.cfg.duration), 4); err != nil {
		return err
	}
	d.Reached = reached.summary()
	return nil
}

func (d *feedData) count(ch *change, m measured) {
	switch ch.kind {
	case "update":
		d.Updates++
	case "move":
		d.Moves++
		if m.bothTags {
			d.MovesBothTags++
		}
	case "delete":
		d.Deletes++
	}
	if !m.arrived {
		d.Missed++
	}
	d.ReadsChecked += m.checked
	d.StaleReads += m.stale
}

// changer makes changes to the catalogue through its own connection, one
// product each, and measures them.
type changer struct {
	e      *env
	f      *fleet
	psql   *pgx.Conn
	acks   *ackBook
	loader hoard.Loader[Product]
	next   int // changes made: picks the next product and kind
}

// change is one committed change of a product.
type change struct {
	id        string
	kind      string // "update", "move", "delete"
	fresh     freshness
	oldTag    string
	newTag    string
	ack       *ack
	committed time.Time
}

// measured is what became of a change.
type measured struct {
	arrived  bool          // the feed applied it and every instance read it
	took     time.Duration // from its commit until every instance read it
	checked  int           // reads checked once it arrived and the buses caught up
	stale    int           // of those, reads that did not serve it
	bothTags bool          // a move: its old and new category's tags came with it
}

// product is the product of the n-th change: a different one each time,
// from the first; the last trackedKeys are the tracking part's.
func (c *changer) product(n int) string { return strconv.Itoa(n) }

// left reports whether products remain for the steady changes and the
// takeover's.
func (c *changer) left() bool { return c.next+takeoverChanges < c.e.cfg.products-trackedKeys }

// warm reads product id on every instance, so each memory tier holds its
// old row, and returns that row.
func (c *changer) warm(ctx context.Context, id string) (Product, error) {
	var old Product
	for _, a := range c.f.asides {
		v, err := a.Get(ctx, id, c.loader)
		if err != nil {
			return old, fmt.Errorf("warm %s: %w", id, err)
		}
		old = v
	}
	return old, nil
}

// make warms the next change's product, then changes it.
func (c *changer) make(ctx context.Context) (*change, error) {
	id := c.product(c.next)
	old, err := c.warm(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.commit(ctx, id, old)
}

// commit makes the next change, to product id whose row was old, through
// the connection of its own: two UPDATEs of price, then one that moves the
// product to the next category, then a DELETE, in turn.
func (c *changer) commit(ctx context.Context, id string, old Product) (*change, error) {
	kinds := [...]string{"update", "update", "move", "delete"}
	ch := &change{id: id, kind: kinds[c.next%len(kinds)], oldTag: c.e.tagOf(old.Category)}
	c.next++
	ch.ack = c.acks.expect(id)
	t := c.e.db.table
	var rev int64
	var category int
	var err error
	switch ch.kind {
	case "update":
		err = c.psql.QueryRow(ctx, "UPDATE "+t+" SET price = price + 1, rev = rev + 1 WHERE id = $1 RETURNING rev, category", old.ID).Scan(&rev, &category)
	case "move":
		err = c.psql.QueryRow(ctx, "UPDATE "+t+" SET category = (category + 1) % "+strconv.Itoa(categories)+", rev = rev + 1 WHERE id = $1 RETURNING rev, category", old.ID).Scan(&rev, &category)
	case "delete":
		var tag interface{ RowsAffected() int64 }
		tag, err = c.psql.Exec(ctx, "DELETE FROM "+t+" WHERE id = $1", old.ID)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("product %s was not there", id)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s product %s: %w", ch.kind, id, err)
	}
	ch.committed = time.Now()
	if ch.kind == "delete" {
		ch.fresh = gone
	} else {
		ch.fresh, ch.newTag = newRev(rev), c.e.tagOf(category)
	}
	return ch, nil
}

// measure waits until every instance reads ch, and for the feed's
// invalidation of it; then, once the buses caught up, reads it once more
// on every instance: a read that does not serve it is stale.
func (c *changer) measure(ctx context.Context, ch *change) (measured, error) {
	var m measured
	took, read, err := untilFresh(ctx, c.f.asides, c.loader, ch.id, ch.fresh, ch.committed, changeLimit)
	if err != nil {
		return m, err
	}
	arrived, err := ch.ack.wait(ctx, max(changeLimit-time.Since(ch.committed), time.Millisecond))
	if err != nil {
		return m, err
	}
	m.arrived, m.took = read && arrived, took
	if !arrived {
		return m, nil
	}
	m.bothTags = ch.kind == "move" && slices.Contains(ch.ack.tags, ch.oldTag) && slices.Contains(ch.ack.tags, ch.newTag)
	if err := c.e.settle(ctx); err != nil {
		return m, err
	}
	m.checked = len(c.f.asides)
	m.stale, err = staleReads(ctx, c.f.asides, c.loader, ch.id, ch.fresh)
	return m, err
}

// takeoverChanges is how many changes are made while no feed consumes.
const takeoverChanges = 3

// takeover stops the consuming instance's feed, changes products at once,
// before another feed took the lease, then measures them: the slot kept
// them for the next consumer.
func (c *changer) takeover(ctx context.Context, ff *feedFleet) (*takeoverData, error) {
	stopped := ff.consumer()
	if stopped < 0 {
		return nil, errors.New("no feed consumes")
	}
	type warmed struct {
		id  string
		old Product
	}
	var ws []warmed
	for k := range takeoverChanges {
		id := c.product(c.next + k)
		old, err := c.warm(ctx, id)
		if err != nil {
			return nil, err
		}
		ws = append(ws, warmed{id, old})
	}
	began := time.Now()
	ff.stop(stopped)
	applied := ff.transactions()
	var changes []*change
	for _, w := range ws {
		ch, err := c.commit(ctx, w.id, w.old)
		if err != nil {
			return nil, err
		}
		changes = append(changes, ch)
	}
	t := &takeoverData{Stopped: stopped, TookOver: -1, Changes: len(changes)}
	if _, err := waitFor(ctx, changeLimit, func() bool { t.TookOver = ff.consumer(); return t.TookOver >= 0 }); err != nil {
		return nil, err
	}
	t.Lease = fmtDuration(time.Since(began))
	if t.TookOver < 0 {
		t.Lease = "never"
	}
	leases := ff.leases()
	var reached timings
	for _, ch := range changes {
		m, err := c.measure(ctx, ch)
		if err != nil {
			return nil, err
		}
		if m.arrived {
			reached = append(reached, m.took)
		} else {
			t.Missed++
		}
		t.StaleReads += m.stale
	}
	t.Reached = reached.summary()
	t.Leases = ff.leases() - leases + 1
	if n := ff.transactions() - applied; n > uint64(t.Changes) {
		t.Replayed = n - uint64(t.Changes)
	}
	return t, nil
}
