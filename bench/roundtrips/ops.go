package roundtrips

import (
	"context"
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
)

// batch is how many ids the GetMany operations ask for.
const batch = 100

// Op is one operation whose round trips are counted.
type Op struct {
	Name string // "Get: miss, load, write-back"
	How  string // the configuration
	// Min is the fewest round trips the operation could make, and Why says
	// what they are and what keeps it from fewer.
	Min int
	Why string
	// Budget is the most hoard makes now: TestRoundTrips fails above it,
	// so a change that adds a round trip is seen.
	Budget int
	// setup readies the state the operation needs (not counted); run is
	// the operation, on instance A unless it says otherwise.
	setup func(ctx context.Context, f *fixture) (run func(ctx context.Context) error, err error)
	// onB: the operation runs on instance B (whose client is counted).
	onB bool
}

var loadOne = hoard.LoaderFunc[Item](func(_ context.Context, id string) (Item, error) {
	return Item{ID: id, Name: "item " + id}, nil
})

// Ops are the operations, in the order of the table.
func Ops() []Op {
	return []Op{
		{Name: "Get: hit in the memory tier", How: "`Aside.Get`, no Locker", Min: 0, Budget: 0,
			Why: "the memory tier answers",
			setup: func(ctx context.Context, f *fixture) (func(context.Context) error, error) {
				id := f.id()
				return get(f.a.plain, id), getErr(f.a.plain.Get(ctx, id, loadOne))
			}},
		{Name: "Get: hit in Redis", How: "`Aside.Get` on another instance (its memory tier empty), no Locker", Min: 1, Budget: 1, onB: true,
			Why: "one GET; the value is written to the memory tier, in-process",
			setup: func(ctx context.Context, f *fixture) (func(context.Context) error, error) {
				id := f.id()
				return get(f.b.plain, id), getErr(f.a.plain.Get(ctx, id, loadOne))
			}},
		{Name: "Get: miss, load, write-back", How: "`Aside.Get` of an id no tier holds, no Locker", Min: 2, Budget: 2,
			Why: "a read (GET, its token with it) and a compare-and-set write (one script). The tag epoch the entry records is read once per MaxStaleness and after a tag invalidation heard of on the bus: that miss makes 3",
			setup: func(_ context.Context, f *fixture) (func(context.Context) error, error) {
				return get(f.a.plain, f.id()), nil
			}},
		{Name: "Get: miss, load, write-back, with the Locker", How: "`Aside.Get`, the service's Locker (one load across instances)", Min: 4, Budget: 5,
			Why: "the read, the lock, the compare-and-set write, the release. hoard makes a 5th: the read again once the lock is held (its holder may just have written). A lock script that also read the entry would save it, with the lock's key in the entry's slot (redislock's scripts cannot)",
			setup: func(_ context.Context, f *fixture) (func(context.Context) error, error) {
				return get(f.a.locked, f.id()), nil
			}},
		{Name: "Get: miss in a namespace", How: "`Aside.Get`, `Namespace` set, its version known locally", Min: 2, Budget: 2,
			Why: "as a miss: the namespace's version is read once per MaxStaleness, not per call",
			setup: func(ctx context.Context, f *fixture) (func(context.Context) error, error) {
				return get(f.a.ns, f.id()), getErr(f.a.ns.Get(ctx, f.id(), loadOne))
			}},
		{Name: fmt.Sprintf("GetMany of %d: all in Redis", batch), How: "`Aside.GetMany` on another instance (memory tier empty)", Min: 1, Budget: 1, onB: true,
			Why: "one MGET (one per node and slot group on Cluster); the memory tier is filled in-process",
			setup: func(ctx context.Context, f *fixture) (func(context.Context) error, error) {
				ids := f.ids(batch)
				_, err := f.a.plain.GetMany(ctx, ids, f.store)
				return getMany(f.b.plain, ids, f.store), err
			}},
		{Name: fmt.Sprintf("GetMany of %d: none cached", batch), How: "`Aside.GetMany`, one batch load", Min: 2, Budget: 2,
			Why: "one MGET, then one pipeline of compare-and-set scripts (the tag epoch as for a miss)",
			setup: func(_ context.Context, f *fixture) (func(context.Context) error, error) {
				return getMany(f.a.plain, f.ids(batch), f.store), nil
			}},
		{Name: "write-through Put", How: "`WriteThrough.Put` of a cached id (WriteUpdate), no tags", Min: 3, Budget: 4,
			Why: "the token read (GET), the version (INCR: its key is not in the entry's slot) and the compare-and-set write. The 4th is the bus message (PUBLISH), which the write's script could send, but the bus's publisher numbers and batches its messages (see Delete)",
			setup: func(ctx context.Context, f *fixture) (func(context.Context) error, error) {
				id := f.id()
				return func(ctx context.Context) error {
					return f.a.wt.Put(ctx, id, Item{ID: id, Name: "renamed"})
				}, getErr(f.a.plain.Get(ctx, id, loadOne))
			}},
		{Name: "Delete (a bus message)", How: "`Aside.Delete` of one id: tombstone in Redis, message to the other instances", Min: 1, Budget: 2,
			Why: "one script that writes the tombstone and publishes the message. Not done: the bus's publisher numbers its messages (receivers find lost ones by the gaps) and batches the messages of concurrent calls into one PUBLISH; a script publishing on its own would break the numbering",
			setup: func(ctx context.Context, f *fixture) (func(context.Context) error, error) {
				id := f.id()
				return func(ctx context.Context) error { return f.a.plain.Delete(ctx, id) }, getErr(f.a.plain.Get(ctx, id, loadOne))
			}},
		{Name: "a bus message received", How: "instance B, while A deletes an id B holds in memory", Min: 0, Budget: 0, onB: true,
			Why: "the message comes on B's subscription; B evicts in-process",
			setup: func(ctx context.Context, f *fixture) (func(context.Context) error, error) {
				id := f.id()
				if err := getErr(f.a.plain.Get(ctx, id, loadOne)); err != nil {
					return nil, err
				}
				if err := getErr(f.b.plain.Get(ctx, id, loadOne)); err != nil {
					return nil, err
				}
				drain(f.b.evicted)
				return func(ctx context.Context) error {
					if err := f.a.plain.Delete(ctx, id); err != nil {
						return err
					}
					return waitEvicted(ctx, f.b)
				}, nil
			}},
		{Name: "tag invalidation", How: "`Invalidator.InvalidateTags` of one tag", Min: 1, Budget: 2,
			Why: "one script that advances the epoch, stamps the tag and publishes the message; the PUBLISH is the bus's (see Delete)",
			setup: func(_ context.Context, f *fixture) (func(context.Context) error, error) {
				return func(ctx context.Context) error { return f.a.svc.Invalidator().InvalidateTags(ctx, "tag-"+f.id()) }, nil
			}},
		{Name: "namespace bump", How: "`Invalidator.BumpNamespace`", Min: 1, Budget: 2,
			Why: "one script that increments the version and publishes the message; the PUBLISH is the bus's (see Delete)",
			setup: func(_ context.Context, f *fixture) (func(context.Context) error, error) {
				return func(ctx context.Context) error {
					_, err := f.a.svc.Invalidator().BumpNamespace(ctx, "catalog")
					return err
				}, nil
			}},
	}
}

func get(a *hoard.Aside[Item], id string) func(context.Context) error {
	return func(ctx context.Context) error { return getErr(a.Get(ctx, id, loadOne)) }
}

func getErr(_ Item, err error) error { return err }

func getMany(a *hoard.Aside[Item], ids []string, l hoard.BatchLoader[Item]) func(context.Context) error {
	return func(ctx context.Context) error {
		m, err := a.GetMany(ctx, ids, l)
		if err == nil && len(m) != len(ids) {
			err = fmt.Errorf("GetMany: %d of %d values", len(m), len(ids))
		}
		return err
	}
}

// waitEvicted waits until the bus has made in evict an entry of its
// plain cache from its memory tier.
func waitEvicted(ctx context.Context, in *instance) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	select {
	case <-in.evicted:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the bus message did not reach instance B: %w", ctx.Err())
	}
}

// drain empties c.
func drain(c chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}
