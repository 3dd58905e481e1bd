package hoardredis

import (
	"context"
	"strings"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
)

// DeletePrefix replaces every entry whose key starts with prefix with a
// tombstone. It SCANs every master (every shard of a Ring) in batches of
// ScanCount, so it costs O(n) in the keys the server holds: prefer namespace
// versions and tags, which invalidate in O(1). Keys written while it runs
// may survive it. It returns how many live entries it replaced.
//
// Only keys that hold a hoard entry (a string that starts with the
// envelope's header) are replaced. Whatever else shares the prefix is left
// as it is: streams, hashes, locks, the counters of IncrBy (namespace
// versions), strings another program wrote.
func (c *Cache[V]) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	pattern := globEscape(prefix) + "*"
	var deleted atomic.Int64
	scan := func(ctx context.Context, node goredis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := node.Scan(ctx, cursor, pattern, int64(c.opts.ScanCount)).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				n, err := c.tombstoneAll(ctx, node, keys)
				deleted.Add(n)
				if err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	scanNode := func(ctx context.Context, node *goredis.Client) error { return scan(ctx, node) }
	var err error
	switch cl := c.client.(type) {
	case *goredis.ClusterClient:
		err = cl.ForEachMaster(ctx, scanNode)
	case *goredis.Ring:
		err = cl.ForEachShard(ctx, scanNode)
	default:
		err = scan(ctx, c.client)
	}
	return int(deleted.Load()), wrapErr("delete prefix", prefix, err)
}

// tombstoneAll replaces the entries among keys with tombstones in one
// pipeline and counts the live ones replaced (scripts/tombstone.lua).
func (c *Cache[V]) tombstoneAll(ctx context.Context, node goredis.Cmdable, keys []string) (int64, error) {
	calls := make([]scriptCall, len(keys))
	for i, k := range keys {
		calls[i] = scriptCall{keys: []string{k}, args: []any{c.tombstone().envelope, c.tombstoneMS}}
	}
	cmds, err := runPipelined(ctx, node, tombstoneScript, calls)
	var n int64
	for _, cmd := range cmds {
		if live, _ := cmd.Int64(); live == 1 {
			n++
		}
	}
	return n, err
}

// globEscape escapes the characters SCAN MATCH treats as a pattern.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}
