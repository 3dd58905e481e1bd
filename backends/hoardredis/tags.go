package hoardredis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// The tag clock's scripts, with the functions they share prepended.
var (
	//go:embed scripts/tag_lib.lua
	tagLuaLib string

	//go:embed scripts/invalidate_tags.lua
	invalidateTagsSource string
	invalidateTagsScript = goredis.NewScript(tagLuaLib + invalidateTagsSource)

	//go:embed scripts/tag_epoch.lua
	tagEpochSource string
	tagEpochScript = goredis.NewScript(tagLuaLib + tagEpochSource)
)

// The tag clock's keys all start with Options.TagPrefix, which holds a
// hash tag: the scripts touch them together, so on Cluster they must live
// in one slot. Besides the epoch and the stamps, the clock keeps its start:
// the epoch it began at. A tag with no stamp reads as stamped at the start,
// so when Redis restarts empty (losing every stamp) the clock begins again
// from the time, later than any epoch an old entry carries, and no entry a
// lost stamp invalidated becomes valid again.
//
// With a TagStampTTL the stamps expire; the clock's floor and aging set
// then keep, in two keys whatever the number of tags, an epoch at least
// as late as every stamp that may have expired (scripts/tag_lib.lua), and
// a tag with no stamp reads as the later of the start and the floor.

func (c *Cache[V]) epochKey() string         { return c.opts.TagPrefix + ":epoch" }
func (c *Cache[V]) startKey() string         { return c.opts.TagPrefix + ":start" }
func (c *Cache[V]) floorKey() string         { return c.opts.TagPrefix + ":floor" }
func (c *Cache[V]) agingKey() string         { return c.opts.TagPrefix + ":aging" }
func (c *Cache[V]) tagKey(tag string) string { return c.opts.TagPrefix + ":tag:" + tag }

// clockKeys returns the keys of the tag clock's scripts: the epoch, the
// start, the floor, the aging set, then the stamps of tags.
func (c *Cache[V]) clockKeys(tags []string) []string {
	keys := make([]string, 0, len(tags)+4)
	keys = append(keys, c.epochKey(), c.startKey(), c.floorKey(), c.agingKey())
	for _, t := range tags {
		keys = append(keys, c.tagKey(t))
	}
	return keys
}

// stampTTL returns how long this cache keeps the stamps it makes:
// Options.TagStampTTL, or for a [Service]'s tag clock what its caches
// need (see ServiceOptions.TagStampTTL); 0 for ever.
func (c *Cache[V]) stampTTL() time.Duration { return time.Duration(c.tagStampTTL.Load()) }

// keepTagStampsFor raises TagStampTTL to at least d, for a cache whose
// TTL the Service derives; others keep theirs.
func (c *Cache[V]) keepTagStampsFor(d time.Duration) {
	d = min(d, MaxTTL)
	for c.deriveTagStampTTL {
		cur := c.tagStampTTL.Load()
		if int64(d) <= cur || c.tagStampTTL.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// Epoch returns the current tag epoch; a clock that does not exist yet
// starts from the time in µs. See hoard.TagClock.
func (c *Cache[V]) Epoch(ctx context.Context) (int64, error) {
	out, err := c.readTagClock(ctx, "tag epoch", nil)
	if err != nil {
		return 0, err
	}
	return out[0], nil
}

// InvalidateTags advances the epoch and stamps tags with it, in one script
// (scripts/invalidate_tags.lua). The stamps expire after TagStampTTL.
func (c *Cache[V]) InvalidateTags(ctx context.Context, tags ...string) (int64, error) {
	ttl := c.stampTTL()
	if ttl > 0 {
		ttl = max(ttl, time.Millisecond)
	}
	s, err := invalidateTagsScript.Run(ctx, c.client, c.clockKeys(tags), c.opts.Clock.Now().UnixMicro(), ttl.Milliseconds()).Text()
	if err != nil {
		return 0, wrapErr("invalidate tags", fmt.Sprint(tags), err)
	}
	return parseCount(c.epochKey(), s)
}

// TagEpochs reads the tags' stamps in one script (one slot); a tag never
// stamped since the clock started, or whose stamp expired, reads as the
// later of the clock's start and its floor.
func (c *Cache[V]) TagEpochs(ctx context.Context, tags []string) ([]int64, error) {
	if len(tags) == 0 {
		return []int64{}, nil
	}
	out, err := c.readTagClock(ctx, "tag epochs", tags)
	if err != nil {
		return nil, err
	}
	return out[1:], nil
}

// readTagClock runs scripts/tag_epoch.lua for op: the epoch, then the
// stamps of tags.
func (c *Cache[V]) readTagClock(ctx context.Context, op string, tags []string) ([]int64, error) {
	keys := c.clockKeys(tags)
	vals, err := tagEpochScript.Run(ctx, c.client, keys, c.opts.Clock.Now().UnixMicro()).StringSlice()
	if err != nil {
		return nil, wrapErr(op, fmt.Sprint(tags), err)
	}
	if len(vals) != len(tags)+1 {
		return nil, fmt.Errorf("%w: redis: the tag clock answered %d values for %d tags", hoard.ErrCorrupt, len(vals), len(tags))
	}
	out := make([]int64, len(vals))
	var errs []error
	for i, s := range vals {
		key := c.epochKey()
		if i > 0 {
			key = keys[i+3]
		}
		n, err := parseCount(key, s)
		errs = append(errs, err)
		out[i] = n
	}
	return out, errors.Join(errs...)
}

// parseCount parses a counter read back from Redis.
func parseCount(key, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: redis: counter %q holds %q", hoard.ErrCorrupt, key, s)
	}
	return n, nil
}
