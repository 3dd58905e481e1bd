package memory

import (
	"context"
	"sync"
)

// tagClock is the memory backend's hoard.TagClock. Its map keeps every tag
// ever invalidated: forgetting one would make the entries it invalidated
// valid again. It grows with the number of distinct tags invalidated.
type tagClock struct {
	mu     sync.RWMutex
	epoch  int64            // guarded by mu; 0 until first used
	stamps map[string]int64 // guarded by mu
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

// InvalidateTags advances the epoch and stamps tags with it.
func (c *Cache[V]) InvalidateTags(ctx context.Context, tags ...string) (int64, error) {
	if _, err := c.Epoch(ctx); err != nil {
		return 0, err
	}
	t := &c.tags
	t.mu.Lock()
	defer t.mu.Unlock()
	t.epoch++
	if t.stamps == nil {
		t.stamps = make(map[string]int64)
	}
	for _, tag := range tags {
		t.stamps[tag] = t.epoch
	}
	return t.epoch, nil
}

// TagEpochs returns the epoch each tag was last invalidated at, 0 for
// one never invalidated: the clock lives and dies with the entries.
func (c *Cache[V]) TagEpochs(_ context.Context, tags []string) ([]int64, error) {
	t := &c.tags
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]int64, len(tags))
	for i, tag := range tags {
		out[i] = t.stamps[tag]
	}
	return out, nil
}
