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
	found := make(map[string]hoard.Entry[V], len(keys))
	err := c.getMany(ctx, keys, func(i int, e *hoard.Entry[V], _ hoard.Token, _ bool) {
		if e != nil {
			found[keys[i]] = *e
		}
	})
	return found, err
}

// GetManyWithTokens calls each with every key's entry and token, read in
// the same round trips as GetMany's. A key whose entry is corrupt gets a
// nil entry and is reported in err with hoard.ErrCorrupt, as in GetMany;
// when its envelope's header could still be read (only the payload does
// not decode), its token is that entry's generation and its tokOK is
// true, so a load can compare-and-set a good value over it. Only a key
// whose header is malformed has tokOK false. The entry handed to each is
// reused for the next key: copy what is kept.
func (c *Cache[V]) GetManyWithTokens(ctx context.Context, keys []string, each func(int, *hoard.Entry[V], hoard.Token, bool)) error {
	return c.getMany(ctx, keys, each)
}

// getMany reads keys and calls each for every one, in order (see
// GetManyWithTokens). The clock is read once, after the reads: it is the
// time of the read for every key, as GetWithToken's read after its GET.
func (c *Cache[V]) getMany(ctx context.Context, keys []string, each func(int, *hoard.Entry[V], hoard.Token, bool)) error {
	if len(keys) == 0 {
		return nil
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
		return wrapErr("get many", fmt.Sprintf("%d keys", len(keys)), err)
	}
	now := c.opts.Clock.Now()
	absent, nowNs := absentTokenAt(now), nowNano(now)
	var corrupt []error
	// One entry for every key, handed to each and then overwritten (each
	// copies what it keeps): the value is decoded in place, so a key costs
	// no allocation of its own beyond what the codec makes.
	var e hoard.Entry[V]
	for i, cmd := range cmds {
		for j, v := range cmd.Val() {
			at := position(groups, i, j)
			s, ok := v.(string)
			if !ok {
				each(at, nil, absent, true)
				continue
			}
			// From V's zero value, as decodeAt's new(V): the codec must
			// not merge into, or reuse the slices and maps of, the value
			// the last key left (each kept a copy of it), and a negative
			// entry's value is the zero value.
			var zero V
			e.Value = zero
			payload, tok, err := c.decodeMeta(&e, keys[at], stringBytes(s), nowNs)
			if err == nil && !e.Negative {
				err = c.unmarshal(keys[at], payload, &e.Value)
			}
			switch {
			case err == nil:
				each(at, &e, tok, true)
			case errors.Is(err, hoard.ErrNotFound):
				each(at, nil, tok, true)
			default:
				corrupt = append(corrupt, err)
				// A corrupt entry whose header read has its generation
				// as token (see decode), so a load can repair it.
				each(at, nil, tok, tok != 0)
			}
		}
	}
	return errors.Join(corrupt...)
}

// position is the position in keys of the j-th key of group i; a nil
// group is every key, in order.
func position(groups [][]int, i, j int) int {
	if groups[i] == nil {
		return j
	}
	return groups[i][j]
}

// groupArgs returns the keys at the positions of group (nil: all of them).
func groupArgs(keys []string, group []int) []string {
	if group == nil {
		return keys
	}
	out := make([]string, len(group))
	for i, at := range group {
		out[i] = keys[at]
	}
	return out
}

// groupKeys splits the positions of keys into the groups one MGET each may
// ask for. A single group of all the keys, in order, is [][]int{nil}.
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
		if len(keys) <= c.opts.BatchSize {
			return [][]int{nil}
		}
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
