package memory

import (
	"container/list"
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard"
)

// tagClock is the memory backend's hoard.TagClock. It keeps each tag's
// stamp for the stamp TTL (see Options.TagStampTTL), then drops it, and
// its floor keeps the largest stamp dropped: a tag with no stamp reads as
// the floor, so the entries a dropped stamp invalidated (their epoch below
// it) never become valid again. An entry whose epoch is below the floor
// and that has a tag with no stamp reads as invalidated: one loaded before
// an invalidation older than the TTL, which outlived the longest life the
// TTL is set by.
type tagClock struct {
	ttl time.Duration // Options.TagStampTTL: > 0 fixed, < 0 for ever, 0 from maxLife

	mu     sync.RWMutex
	epoch  int64                    // guarded by mu; 0 until first used
	floor  int64                    // guarded by mu: the largest stamp dropped
	stamps map[string]*list.Element // guarded by mu: of order, holding a *stamp
	order  list.List                // guarded by mu: stamps, oldest first

	// maxLife is the longest life (KeepUntil less the time of the write)
	// of a tagged entry stored, in ns; math.MaxInt64 for one kept for
	// ever.
	maxLife atomic.Int64
}

// stamp is one tag's stamp and when it was made.
type stamp struct {
	tag   string
	epoch int64
	at    time.Time
}

// Epoch returns the current tag epoch. See hoard.TagClock.
func (c *Cache[V]) Epoch(context.Context) (int64, error) {
	t := &c.tags
	t.mu.RLock()
	e := t.epoch
	t.mu.RUnlock()
	if e != 0 {
		return e, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.epoch == 0 {
		t.epoch = c.clock.Now().UnixMicro()
	}
	return t.epoch, nil
}

// InvalidateTags advances the epoch and stamps tags with it, and drops the
// stamps older than the stamp TTL.
func (c *Cache[V]) InvalidateTags(ctx context.Context, tags ...string) (int64, error) {
	if _, err := c.Epoch(ctx); err != nil {
		return 0, err
	}
	now := c.clock.Now()
	t := &c.tags
	t.mu.Lock()
	defer t.mu.Unlock()
	t.epoch++
	if t.stamps == nil {
		t.stamps = make(map[string]*list.Element)
	}
	for _, tag := range tags {
		if el, ok := t.stamps[tag]; ok {
			s := el.Value.(*stamp)
			s.epoch, s.at = t.epoch, now
			t.order.MoveToBack(el)
			continue
		}
		t.stamps[tag] = t.order.PushBack(&stamp{tag: tag, epoch: t.epoch, at: now})
	}
	t.dropOld(now)
	return t.epoch, nil
}

// dropOld drops the stamps made longer than the stamp TTL before now,
// raising the floor to them. t.mu must be held.
func (t *tagClock) dropOld(now time.Time) {
	ttl := t.stampTTL()
	if ttl <= 0 {
		return
	}
	for el := t.order.Front(); el != nil; el = t.order.Front() {
		s := el.Value.(*stamp)
		if now.Sub(s.at) < ttl {
			return
		}
		t.floor = max(t.floor, s.epoch)
		delete(t.stamps, s.tag)
		t.order.Remove(el)
	}
}

// stampTTL is how long stamps are kept: Options.TagStampTTL when set,
// else twice the longest life of a tagged entry stored; 0 (for ever) when
// none was stored, or one was kept for ever.
func (t *tagClock) stampTTL() time.Duration {
	switch {
	case t.ttl != 0:
		return t.ttl
	case t.maxLife.Load() >= math.MaxInt64/2:
		return 0
	}
	return 2 * time.Duration(t.maxLife.Load())
}

// noteLife records the life of a tagged entry written at now.
func (t *tagClock) noteLife(keepUntil, now time.Time) {
	life := int64(math.MaxInt64)
	if !keepUntil.IsZero() {
		life = int64(keepUntil.Sub(now))
	}
	for {
		cur := t.maxLife.Load()
		if life <= cur || t.maxLife.CompareAndSwap(cur, life) {
			return
		}
	}
}

// TagEpochs returns the epoch each tag was last invalidated at. A tag with
// no stamp (never invalidated, or its stamp dropped) reads as the floor:
// 0 until a stamp was dropped. The clock lives and dies with the entries.
func (c *Cache[V]) TagEpochs(_ context.Context, tags []string) ([]int64, error) {
	t := &c.tags
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]int64, len(tags))
	for i, tag := range tags {
		if el, ok := t.stamps[tag]; ok {
			out[i] = el.Value.(*stamp).epoch
		} else {
			out[i] = t.floor
		}
	}
	return out, nil
}

var _ hoard.TagClock = (*Cache[int])(nil)
