package hoardredis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// GetMany reads keys with MGETs of at most BatchSize keys. On Redis Cluster
// the keys are grouped by hash slot, one MGET a slot, so no command spans
// slots (no CROSSSLOT), and the MGETs go out in one pipeline, which
// go-redis splits by node. On a Ring each key is its own GET in the
// pipeline. See [hoard.ManyGetter] for how corrupt entries are reported.
func (c *Cache[V]) GetMany(ctx context.Context, keys []string) (map[string]hoard.Entry[V], error) {
	found, _, _, err := c.getMany(ctx, keys, false)
	return found, err
}

// GetManyWithTokens is GetMany that also returns every key's token, in the
// same round trips. A key whose entry is corrupt is left out of the map and
// reported in err with hoard.ErrCorrupt, as in GetMany; when its envelope's
// header could still be read (only the payload does not decode), its token
// is that entry's generation and its tokenOK is true, so a load can
// compare-and-set a good value over it. Only a key whose header is
// malformed has tokenOK false.
func (c *Cache[V]) GetManyWithTokens(ctx context.Context, keys []string) (map[string]hoard.Entry[V], []hoard.Token, []bool, error) {
	return c.getMany(ctx, keys, true)
}

func (c *Cache[V]) getMany(ctx context.Context, keys []string, withTokens bool) (map[string]hoard.Entry[V], []hoard.Token, []bool, error) {
	found := make(map[string]hoard.Entry[V], len(keys))
	var tokens []hoard.Token
	var tokenOK []bool
	if withTokens {
		tokens, tokenOK = make([]hoard.Token, len(keys)), make([]bool, len(keys))
	}
	if len(keys) == 0 {
		return found, tokens, tokenOK, nil
	}
	groups := c.groupKeys(keys)
	var cmds []*goredis.SliceCmd
	var err error
	if len(groups) == 1 {
		cmd := c.client.MGet(ctx, groupArgs(keys, groups[0])...)
		cmds, err = []*goredis.SliceCmd{cmd}, cmd.Err()
	} else {
		cmds = make([]*goredis.SliceCmd, len(groups))
		_, err = c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, g := range groups {
				cmds[i] = p.MGet(ctx, groupArgs(keys, g)...)
			}
			return nil
		})
	}
	if err != nil {
		return found, tokens, tokenOK, wrapErr("get many", fmt.Sprintf("%d keys", len(keys)), err)
	}
	var corrupt []error
	for i, cmd := range cmds {
		for j, v := range cmd.Val() {
			at := groups[i][j]
			key := keys[at]
			s, ok := v.(string)
			tok := c.absentToken()
			var err error
			if ok {
				var e hoard.Entry[V]
				e, tok, err = c.decode(key, stringBytes(s))
				switch {
				case err == nil:
					found[key] = e
				case !errors.Is(err, hoard.ErrNotFound):
					corrupt = append(corrupt, err)
				}
			}
			// A corrupt entry whose header read has its generation as
			// token (see decode), so a load can repair it.
			if withTokens && (err == nil || errors.Is(err, hoard.ErrNotFound) || tok != 0) {
				tokens[at], tokenOK[at] = tok, true
			}
		}
	}
	return found, tokens, tokenOK, errors.Join(corrupt...)
}

// groupArgs returns the keys at the positions of group.
func groupArgs(keys []string, group []int) []string {
	out := make([]string, len(group))
	for i, at := range group {
		out[i] = keys[at]
	}
	return out
}

// groupKeys splits the positions of keys into the groups one MGET each may
// ask for.
func (c *Cache[V]) groupKeys(keys []string) [][]int {
	switch c.client.(type) {
	case *goredis.ClusterClient:
		return chunk(groupBySlot(keys), c.opts.BatchSize)
	case *goredis.Ring:
		groups := make([][]int, len(keys))
		for i := range keys {
			groups[i] = []int{i}
		}
		return groups
	default:
		all := make([]int, len(keys))
		for i := range all {
			all[i] = i
		}
		return chunk([][]int{all}, c.opts.BatchSize)
	}
}

// groupBySlot groups the positions of keys by hash slot, keeping their
// order within a group.
func groupBySlot(keys []string) [][]int {
	index := make(map[uint16]int)
	var groups [][]int
	for at, k := range keys {
		s := slot(k)
		i, ok := index[s]
		if !ok {
			i = len(groups)
			index[s] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], at)
	}
	return groups
}

// chunk splits every group longer than n.
func chunk(groups [][]int, n int) [][]int {
	var out [][]int
	for _, g := range groups {
		for len(g) > n {
			out = append(out, g[:n:n])
			g = g[n:]
		}
		out = append(out, g)
	}
	return out
}
