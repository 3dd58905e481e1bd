package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

//go:embed scripts/invalidate_tags.lua
var invalidateTagsSource string

var invalidateTagsScript = goredis.NewScript(invalidateTagsSource)

// The tag clock's keys all start with Options.TagPrefix, which holds a
// hash tag: the script that advances the epoch and stamps tags touches
// them together, so on Cluster they must live in one slot.

func (c *Cache[V]) epochKey() string         { return c.opts.TagPrefix + ":epoch" }
func (c *Cache[V]) tagKey(tag string) string { return c.opts.TagPrefix + ":tag:" + tag }

// Epoch returns the current tag epoch (counter.lua starts it from the time).
// See hoard.TagClock.
func (c *Cache[V]) Epoch(ctx context.Context) (int64, error) {
	s, err := counterScript.Run(ctx, c.client, []string{c.epochKey()}, 0, c.opts.Clock.Now().UnixMicro()).Text()
	if err != nil {
		return 0, wrapErr("tag epoch", c.epochKey(), err)
	}
	return parseCount(c.epochKey(), s)
}

// InvalidateTags advances the epoch and stamps tags with it, in one script
// (scripts/invalidate_tags.lua).
func (c *Cache[V]) InvalidateTags(ctx context.Context, tags ...string) (int64, error) {
	keys := make([]string, 0, len(tags)+1)
	keys = append(keys, c.epochKey())
	for _, t := range tags {
		keys = append(keys, c.tagKey(t))
	}
	s, err := invalidateTagsScript.Run(ctx, c.client, keys, c.opts.Clock.Now().UnixMicro()).Text()
	if err != nil {
		return 0, wrapErr("invalidate tags", fmt.Sprint(tags), err)
	}
	return parseCount(c.epochKey(), s)
}

// TagEpochs reads the tags' stamps with one MGET (one slot).
func (c *Cache[V]) TagEpochs(ctx context.Context, tags []string) ([]int64, error) {
	out := make([]int64, len(tags))
	if len(tags) == 0 {
		return out, nil
	}
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = c.tagKey(t)
	}
	vals, err := c.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, wrapErr("tag epochs", fmt.Sprint(tags), err)
	}
	var errs []error
	for i, v := range vals {
		if s, ok := v.(string); ok {
			n, err := parseCount(keys[i], s)
			errs = append(errs, err)
			out[i] = n
		}
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
