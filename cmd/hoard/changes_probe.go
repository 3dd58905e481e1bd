package main

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/hoard-cache/hoard"
)

// freshness tells whether a read serves a change: the new row of an
// UPDATE, "not found" after a DELETE.
type freshness func(v Product, err error) bool

func newRev(rev int64) freshness {
	return func(v Product, err error) bool { return err == nil && v.Rev >= rev }
}

func gone(_ Product, err error) bool { return errors.Is(err, hoard.ErrNotFound) }

// probeInterval is the pause between two rounds of reads while waiting for
// a change to reach every instance.
const probeInterval = 200 * time.Microsecond

// untilFresh reads id on every instance, round after round, until each
// served the change (fresh), and returns how long after from the last one
// did; ok is false when limit passed first.
func untilFresh(ctx context.Context, asides []*hoard.Aside[Product], loader hoard.Loader[Product], id string, fresh freshness, from time.Time, limit time.Duration) (took time.Duration, ok bool, err error) {
	waiting := make([]bool, len(asides))
	for i := range waiting {
		waiting[i] = true
	}
	left := len(asides)
	for {
		for i, a := range asides {
			if !waiting[i] {
				continue
			}
			v, err := a.Get(ctx, id, loader)
			if err != nil && !errors.Is(err, hoard.ErrNotFound) {
				return 0, false, err
			}
			if fresh(v, err) {
				waiting[i] = false
				left--
				took = time.Since(from)
			}
		}
		if left == 0 {
			return took, true, nil
		}
		if time.Since(from) > limit {
			return time.Since(from), false, nil
		}
		if err := sleep(ctx, probeInterval); err != nil {
			return 0, false, err
		}
	}
}

// staleReads reads id once on every instance and counts the reads that do
// not serve the change.
func staleReads(ctx context.Context, asides []*hoard.Aside[Product], loader hoard.Loader[Product], id string, fresh freshness) (int, error) {
	n := 0
	for _, a := range asides {
		v, err := a.Get(ctx, id, loader)
		if err != nil && !errors.Is(err, hoard.ErrNotFound) {
			return n, err
		}
		if !fresh(v, err) {
			n++
		}
	}
	return n, nil
}

// timings are a few measured durations, for their quantiles.
type timings []time.Duration

// quantile returns the q-quantile (nearest rank), 0 with none.
func (t timings) quantile(q float64) time.Duration {
	if len(t) == 0 {
		return 0
	}
	s := slices.Clone(t)
	slices.Sort(s)
	rank := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// summary is the quantiles of timings, as the report writes them.
type summary struct {
	P50 string `json:"p50"`
	P99 string `json:"p99"`
	Max string `json:"max"`
}

func (t timings) summary() summary {
	if len(t) == 0 {
		return summary{P50: "-", P99: "-", Max: "-"}
	}
	return summary{P50: fmtDuration(t.quantile(0.5)), P99: fmtDuration(t.quantile(0.99)), Max: fmtDuration(t.quantile(1))}
}
