package main

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard"
)

type invalidationData struct {
	WriteThroughs int    `json:"write_throughs"`
	Deletes       int    `json:"deletes"`
	TagInvals     int    `json:"tag_invalidations"`
	Checks        int    `json:"reads_checked"`
	StaleReads    int    `json:"stale_reads"`
	BusGrace      string `json:"bus_grace"`
}

// tagOf is the tag of a product's category. Tag stamps live in Redis under
// names shared by everyone on it: the run's name keeps the demo's apart.
func (e *env) tagOf(category int) string {
	return "demo-" + e.run + ":category:" + strconv.Itoa(category)
}

// runInvalidation changes products in rounds, each warmed first into every
// instance's memory tier, three ways in turn: a write-through on one
// instance; an update behind the cache's back followed by Aside.Delete on
// another; an update of a whole category followed by
// Invalidator.InvalidateTags on another. Once the change is acknowledged
// and the buses caught up (settle), every instance must read the row as
// the database holds it: a read older than that is stale.
func runInvalidation(ctx context.Context, e *env, p progress) (*result, error) {
	f, err := e.newFleet(fleetOptions{name: "coherent", bus: true, aside: hoard.AsideOptions[Product]{TTL: 10 * time.Minute}})
	defer func() { _ = f.Close() }()
	if err != nil {
		return nil, err
	}
	loader := hoard.LoaderFunc[Product](func(ctx context.Context, id string) (Product, error) {
		v, err := e.db.Product(ctx, id)
		if err == nil {
			hoard.SetTags(ctx, e.tagOf(v.Category))
		}
		return v, err
	})
	wts := make([]*hoard.WriteThrough[Product], len(f.asides))
	for i, a := range f.asides {
		if wts[i], err = hoard.NewWriteThrough(&hoard.WriteThroughOptions[Product]{Aside: a, Store: store{e.db}}); err != nil {
			return nil, err
		}
	}
	d := invalidationData{BusGrace: busGrace.String()}
	var rounds atomic.Int64
	stop := p.start("invalidation across instances", func() string {
		return fmt.Sprintf("changes %d", rounds.Load())
	})
	deadline := time.Now().Add(e.cfg.duration)
	n := len(f.asides)
	for round := 0; time.Now().Before(deadline) && ctx.Err() == nil; round++ {
		writer, other := round%n, (round+1)%n
		id := (round * 7919) % e.cfg.products
		category := id % categories
		ids := []string{strconv.Itoa(id)}
		if round%3 == 2 { // a few products of the category
			for k := 1; k <= 2; k++ {
				ids = append(ids, strconv.Itoa((id+k*categories)%e.cfg.products))
			}
		}
		for _, a := range f.asides { // the old values in every memory tier
			for _, id := range ids {
				if _, err := a.Get(ctx, id, loader); err != nil {
					stop()
					return nil, err
				}
			}
		}
		switch round % 3 {
		case 0:
			cur, err := e.db.peek(ctx, ids[0])
			if err == nil {
				cur.Rev, cur.Price = cur.Rev+1, cur.Price+1
				err = wts[writer].Put(ctx, ids[0], cur)
			}
			if err != nil {
				stop()
				return nil, err
			}
			d.WriteThroughs++
		case 1:
			if err := e.db.bump(ctx, "id = ?", id); err != nil {
				stop()
				return nil, err
			}
			if err := f.asides[other].Delete(ctx, ids[0]); err != nil {
				stop()
				return nil, err
			}
			d.Deletes++
		case 2:
			if err := e.db.bump(ctx, "category = ?", category); err != nil {
				stop()
				return nil, err
			}
			if err := e.instances[other].inv.InvalidateTags(ctx, e.tagOf(category)); err != nil {
				stop()
				return nil, err
			}
			d.TagInvals++
		}
		rounds.Add(1)
		if err := e.settle(ctx); err != nil {
			stop()
			return nil, err
		}
		for _, id := range ids {
			row, err := e.db.peek(ctx, id)
			if err != nil {
				stop()
				return nil, err
			}
			for _, a := range f.asides {
				v, err := a.Get(ctx, id, loader)
				if err != nil {
					stop()
					return nil, err
				}
				d.Checks++
				if v.Rev < row.Rev {
					d.StaleReads++
				}
			}
		}
	}
	stop()
	r := &result{
		Title: fmt.Sprintf("5. invalidation across %d instances (redis bus): a stale read is one older than the database after the change was acknowledged and every bus caught up (+%v)",
			n, busGrace),
		Data:   d,
		header: []string{"write-throughs", "Aside.Delete", "InvalidateTags", "reads checked", "stale reads"},
	}
	r.row(d.WriteThroughs, d.Deletes, d.TagInvals, d.Checks, d.StaleReads)
	r.promise("no instance reads a stale value after an invalidation", d.StaleReads == 0, "%d stale reads", d.StaleReads)
	return r, nil
}
