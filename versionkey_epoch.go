package hoard

import (
	"context"
	"time"
)

// The tag epoch a load records: read from the tag clock at most once per
// MaxStaleness, and again after every tag invalidation made here or heard
// of on the bus.
//
// An entry is invalid once one of its tags was stamped at a later epoch
// than the one its load recorded. An epoch read earlier than the load
// began is never later than the clock's at the load's start, so every
// invalidation after the load began still stamps past it: the entry can
// only look invalid sooner, never stay valid too long. What that costs:
// a value tagged with a tag invalidated elsewhere since the reading, and
// loaded before this instance hears of it (the bus's delay, or
// MaxStaleness when its message is lost), is cached as invalid and
// loaded again by the next read. What it saves: the tag clock's round
// trip on every load, a third of the round trips of a miss (issue 15).

// epochReading is a tag epoch, when it was read, and the count of tag
// changes known then (see Invalidator.tagChanges).
type epochReading struct {
	epoch   int64
	at      time.Time
	changes uint64
}

// epoch returns a tag epoch for a load about to begin: the one read last,
// when no tag change came since and it is younger than MaxStaleness, else
// the tag clock's own.
func (inv *Invalidator) epoch(ctx context.Context) (int64, error) {
	changes := inv.tagChanges.Load()
	now := inv.opts.Clock.Now()
	if r := inv.knownEpoch.Load(); r != nil && r.changes == changes && now.Sub(r.at) < inv.opts.MaxStaleness && !now.Before(r.at) {
		return r.epoch, nil
	}
	epoch, err := inv.tagClock.Epoch(ctx)
	if err != nil {
		return 0, err
	}
	inv.keepEpoch(epochReading{epoch: epoch, at: now, changes: changes})
	return epoch, nil
}

// keepEpoch keeps r as the reading epoch answers from, unless the one kept
// was read later: the clock's latest word wins, even one that went back
// (a tag clock restored from an old copy).
func (inv *Invalidator) keepEpoch(r epochReading) {
	for {
		old := inv.knownEpoch.Load()
		if old != nil && old.at.After(r.at) {
			return
		}
		if inv.knownEpoch.CompareAndSwap(old, &r) {
			return
		}
	}
}
