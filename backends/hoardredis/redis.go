// Package hoardredis is everything of hoard that speaks to Redis, on
// github.com/redis/go-redis/v9 through redis.UniversalClient, so one code
// path serves a single node, Sentinel failover and Redis Cluster: the
// [Cache] (with the tag clock and namespace counters), the [Locker], the
// invalidation [Bus] and the durable write-behind [StreamQueue].
//
// A [Service] wires them for one application: built once per process from
// a client and the application's name, with start-up checks, it derives
// every Redis name from that name, and each endpoint's two-tier cache is
// then one call to [NewAside].
//
// Its name is hoardredis, not redis, so it imports beside go-redis's redis
// package without an alias.
//
// Entries travel as a small versioned binary envelope (see envelope.go):
// metadata, then the payload a [hoard.Codec] made of the value. Atomic
// multi-step operations are Lua scripts (scripts/*.lua), each touching a
// single key, or keys that share a hash tag, so they run on Cluster.
// Multi-key reads are MGETs grouped by hash slot and pipelined, so they
// never fail with CROSSSLOT. Errors from Redis are classified in one place
// (errors.go): ctx errors stay matchable, connection failures wrap
// [hoard.ErrUnavailable], error replies [hoard.ErrBackend].
package hoardredis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// Cache is a [hoard.Cache] on Redis. It implements [hoard.ManyGetter],
// [hoard.ManySetter], [hoard.CompareAndSetter], [hoard.PrefixDeleter],
// [hoard.Counter] and [hoard.FloorCounter]. It is safe for concurrent use;
// it starts no goroutines and the client stays the caller's to close.
type Cache[V any] struct {
	client goredis.UniversalClient
	opts   Options
	// tombstoneMS is opts.TombstoneTTL in ms, as SET PX takes it.
	tombstoneMS int64
	// tagStampTTL is TagStampTTL in ns: Options.TagStampTTL, raised by
	// keepTagStampsFor.
	tagStampTTL atomic.Int64
	// deriveTagStampTTL: TagStampTTL is the Service's to derive, from 0
	// (for ever) until a first NewAside.
	deriveTagStampTTL bool
}

var (
	_ hoard.Cache[int]                = (*Cache[int])(nil)
	_ hoard.ManyGetter[int]           = (*Cache[int])(nil)
	_ hoard.ManySetter[int]           = (*Cache[int])(nil)
	_ hoard.CompareAndSetter[int]     = (*Cache[int])(nil)
	_ hoard.ManyTokenGetter[int]      = (*Cache[int])(nil)
	_ hoard.ManyCompareAndSetter[int] = (*Cache[int])(nil)
	_ hoard.PrefixDeleter             = (*Cache[int])(nil)
	_ hoard.Counter                   = (*Cache[int])(nil)
	_ hoard.FloorCounter              = (*Cache[int])(nil)
)

// New returns a cache of values of type V on client. nil opts give the
// defaults documented on [Options].
//
// On a *redis.ClusterClient, New (as NewBus, NewLocker and NewStreamQueue
// do) adds a hook to the client, once per client, that asks it to reload
// its slot map after a command fails with a connection error, a timeout or
// a CLUSTERDOWN or MOVED reply, at most every 250ms: go-redis alone keeps
// sending a dead master's slots to it until its periodic reload
// (ClusterStateReloadInterval, 60s), long after a replica took over. The
// hook stays on the client and serves its other commands too.
func New[V any](client goredis.UniversalClient, opts *Options) (*Cache[V], error) {
	if client == nil {
		return nil, fmt.Errorf("%w: redis: nil client", hoard.ErrInvalidOption)
	}
	if opts == nil {
		opts = &Options{}
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	followFailover(client)
	c := &Cache[V]{client: client, opts: o, tombstoneMS: max(o.TombstoneTTL.Milliseconds(), 1)}
	c.tagStampTTL.Store(int64(o.TagStampTTL))
	return c, nil
}

// Ping checks that Redis answers and accepts the client's credentials
// (and, with TLS, its certificate). New makes no call to Redis, and a cache
// behind an Aside reads past a failing tier (counting backend errors), so a
// wrong password would otherwise only show as a cache that never hits:
// call Ping at start-up and refuse to start on its error.
func (c *Cache[V]) Ping(ctx context.Context) error {
	return wrapErr("ping", "", c.client.Ping(ctx).Err())
}

// Get returns the entry under key, or an error wrapping hoard.ErrNotFound.
func (c *Cache[V]) Get(ctx context.Context, key string) (hoard.Entry[V], error) {
	e, _, err := c.GetWithToken(ctx, key)
	return e, err
}

// GetWithToken is Get that also returns the key's token for CompareAndSet:
// the generation of the entry or tombstone under key, or, when there is
// none, the time of the read (see absentToken).
//
// The token is valid on hoard.ErrNotFound, and also on hoard.ErrCorrupt
// when the entry's header could be read and only its payload does not
// decode (a value type changed in a deploy): CompareAndSet with it replaces
// the undecodable entry. When the header itself is malformed the token is
// 0, which CompareAndSet refuses.
func (c *Cache[V]) GetWithToken(ctx context.Context, key string) (hoard.Entry[V], hoard.Token, error) {
	s, err := c.client.Get(ctx, key).Result()
	if errors.Is(err, goredis.Nil) {
		return hoard.Entry[V]{}, c.absentToken(), hoard.ErrNotFound
	}
	if err != nil {
		return hoard.Entry[V]{}, 0, wrapErr("get", key, err)
	}
	return c.decode(key, stringBytes(s))
}

// corruptErr is the error of bytes under key that do not decode: it wraps
// hoard.ErrCorrupt even when err, a Codec's, does not.
func corruptErr(key string, err error) error {
	if errors.Is(err, hoard.ErrCorrupt) {
		return fmt.Errorf("hoard: redis: key %q: %w", key, err)
	}
	return fmt.Errorf("%w: redis: key %q: %w", hoard.ErrCorrupt, key, err)
}

// stringBytes views the reply s as bytes without a copy. Nothing writes to
// them: the decoder copies what it keeps (tags), and a Codec must not keep
// the data it unmarshals.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// decode turns the bytes read under key into an entry and its token.
//
// Bytes whose header does not read give token 0: there is no generation to
// compare. A payload that does not decode under a header that does (the
// value type changed in a deploy, a codec was swapped) gives the header's
// generation as the token beside the ErrCorrupt error, so that a load can
// compare-and-set a good value over it; without the token, the entry would
// stay and cost a load on every read until its TTL ended.
func (c *Cache[V]) decode(key string, b []byte) (hoard.Entry[V], hoard.Token, error) {
	return c.decodeAt(key, b, c.opts.Clock.Now())
}

// decodeAt is decode for bytes read at now.
func (c *Cache[V]) decodeAt(key string, b []byte, now time.Time) (hoard.Entry[V], hoard.Token, error) {
	var e hoard.Entry[V]
	payload, tok, err := c.decodeMeta(&e, key, b, nowNano(now))
	if err != nil {
		return hoard.Entry[V]{}, tok, err
	}
	if !e.Negative {
		// Into a variable of its own: &e.Value would move the whole entry
		// to the heap, since the codec takes an interface.
		v := new(V)
		if err := c.unmarshal(key, payload, v); err != nil {
			return hoard.Entry[V]{}, tok, err
		}
		e.Value = *v
	}
	return e, tok, nil
}

// decodeMeta sets the metadata of e from the envelope b read under key at
// now (in Unix ns, from nowNano), and returns its payload (aliasing b) and
// the key's token, with decode's errors; it leaves e.Value as it is. An
// entry past its KeepUntil, in its ExpiredGrace, is absent to readers
// (ErrNotFound) but its generation is still the key's token.
func (c *Cache[V]) decodeMeta(e *hoard.Entry[V], key string, b []byte, now int64) ([]byte, hoard.Token, error) {
	h, payload, err := decodeEnvelope(b)
	if err != nil {
		return nil, 0, corruptErr(key, err)
	}
	tok := hoard.Token(h.generation)
	if h.flags&flagTombstone != 0 || !h.keptAt(now) {
		return nil, tok, hoard.ErrNotFound
	}
	setMeta(e, &h)
	return payload, tok, nil
}

// unmarshal decodes the payload read under key into v, which holds V's
// zero value.
func (c *Cache[V]) unmarshal(key string, payload []byte, v *V) error {
	if err := c.opts.Codec.Unmarshal(payload, v); err != nil {
		return corruptErr(key, fmt.Errorf("codec %s: %w", c.opts.Codec.Name(), err))
	}
	return nil
}

// Set stores e under key. See [hoard.Cache.Set].
func (c *Cache[V]) Set(ctx context.Context, key string, e hoard.Entry[V]) error {
	w, err := c.encode(key, &e)
	if err != nil {
		return err
	}
	return wrapErr("set", key, c.client.Set(ctx, key, w.envelope, w.ttl).Err())
}

// SetMany stores every entry in one pipeline. Every value is encoded and
// checked before anything is sent.
func (c *Cache[V]) SetMany(ctx context.Context, entries map[string]hoard.Entry[V]) error {
	if len(entries) == 0 {
		return nil
	}
	writes := make(map[string]write, len(entries))
	for k, e := range entries {
		w, err := c.encode(k, &e)
		if err != nil {
			return err
		}
		writes[k] = w
	}
	_, err := c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for k, w := range writes {
			p.Set(ctx, k, w.envelope, w.ttl)
		}
		return nil
	})
	return wrapErr("set many", fmt.Sprintf("%d keys", len(entries)), err)
}

// CompareAndSet stores e under key if the key's generation is still tok,
// atomically (scripts/cas.lua).
func (c *Cache[V]) CompareAndSet(ctx context.Context, key string, tok hoard.Token, e hoard.Entry[V]) error {
	if err := c.checkTokenAge(key, tok); err != nil {
		return err
	}
	w, err := c.encode(key, &e)
	if err != nil {
		return err
	}
	stored, err := casScript.Run(ctx, c.client, []string{key}, expectedGeneration(tok), w.envelope, w.ttl.Milliseconds()).Int()
	if err != nil {
		return wrapErr("compare-and-set", key, err)
	}
	if stored == 0 {
		return fmt.Errorf("%w: %q", hoard.ErrConflict, key)
	}
	return nil
}

// CompareAndSetMany does CompareAndSet for every write in one pipeline.
// Entries that cannot be encoded fail alone; the others are still sent.
func (c *Cache[V]) CompareAndSetMany(ctx context.Context, writes []hoard.TokenWrite[V]) error {
	var errs []error
	keys := make([]string, 0, len(writes))
	calls := make([]scriptCall, 0, len(writes))
	for _, tw := range writes {
		if err := c.checkTokenAge(tw.Key, tw.Token); err != nil {
			errs = append(errs, err)
			continue
		}
		w, err := c.encode(tw.Key, &tw.Entry)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, tw.Key)
		calls = append(calls, scriptCall{keys: []string{tw.Key}, args: []any{expectedGeneration(tw.Token), w.envelope, w.ttl.Milliseconds()}})
	}
	if len(calls) == 0 {
		return errors.Join(errs...)
	}
	cmds, err := runPipelined(ctx, c.client, casScript, calls)
	if err != nil && len(cmds) == 0 {
		return wrapErr("compare-and-set many", fmt.Sprintf("%d keys", len(writes)), err)
	}
	for i, cmd := range cmds {
		stored, err := cmd.Int()
		switch {
		case err != nil:
			errs = append(errs, wrapErr("compare-and-set", keys[i], err))
		case stored == 0:
			errs = append(errs, fmt.Errorf("%w: %q", hoard.ErrConflict, keys[i]))
		}
	}
	return errors.Join(errs...)
}

// expectedGeneration is the cas.lua argument for tok: its 8 bytes, or
// nothing when the key was absent.
func expectedGeneration(tok hoard.Token) []byte {
	if tok&absentBit != 0 {
		return nil
	}
	return binary.BigEndian.AppendUint64(nil, uint64(tok))
}

// absentBit marks the token of a key that held nothing; the bits below it
// hold the time of the read in Unix ms. Generations never have it.
const absentBit = 1 << 63

// absentToken is the token of a key read as absent now.
func (c *Cache[V]) absentToken() hoard.Token {
	return absentTokenAt(c.opts.Clock.Now())
}

// absentTokenAt is the token of a key read as absent at now.
func absentTokenAt(now time.Time) hoard.Token {
	return hoard.Token(absentBit | uint64(now.UnixMilli())&^absentBit)
}

// checkTokenAge refuses a token of an absent key older than the lesser of
// TombstoneTTL and ExpiredGrace. A Delete's tombstone, and an entry written
// and expired since, keep older loads out only while they are in Redis:
// once gone the key is absent again, and a load that read it absent before
// would otherwise store its stale value. Tokens of present keys need no
// such bound: their generation never comes back once replaced.
func (c *Cache[V]) checkTokenAge(key string, tok hoard.Token) error {
	if tok == 0 {
		return fmt.Errorf("%w: %q: the zero token is no token this cache gave", hoard.ErrConflict, key)
	}
	if tok&absentBit == 0 {
		return nil
	}
	readAt := time.UnixMilli(int64(uint64(tok) &^ absentBit))
	limit := min(c.opts.TombstoneTTL, c.opts.ExpiredGrace)
	if age := c.opts.Clock.Now().Sub(readAt); age >= limit {
		return fmt.Errorf("%w: %q: read as absent %v ago, past the %v that tombstones and expired entries stay to prove nothing changed",
			hoard.ErrConflict, key, age.Round(time.Millisecond), limit)
	}
	return nil
}

// write is an encoded entry ready to send: its envelope and Redis TTL
// (0: none).
type write struct {
	envelope []byte
	ttl      time.Duration
}

// encode makes the envelope of e with a new generation. An entry that is no
// longer kept becomes a tombstone: writing it deletes the key.
func (c *Cache[V]) encode(key string, e *hoard.Entry[V]) (write, error) {
	if len(key) > c.opts.MaxValueBytes {
		return write{}, fmt.Errorf("%w: redis: key %.64q… is %d bytes, more than MaxValueBytes %d",
			hoard.ErrTooLarge, key, len(key), c.opts.MaxValueBytes)
	}
	var payload []byte
	if !e.Negative {
		var err error
		if payload, err = c.opts.Codec.Marshal(e.Value); err != nil {
			return write{}, fmt.Errorf("hoard: redis: key %q: codec %s: %w", key, c.opts.Codec.Name(), err)
		}
	}
	if len(payload) > c.opts.MaxValueBytes {
		return write{}, fmt.Errorf("%w: redis: value of %q encodes to %d bytes, more than MaxValueBytes %d",
			hoard.ErrTooLarge, key, len(payload), c.opts.MaxValueBytes)
	}
	if err := checkTags(key, e.Tags); err != nil {
		return write{}, err
	}
	h := headerOf(e)
	h.generation = newGeneration()
	var ttl time.Duration
	if keep := e.KeepUntil(); !keep.IsZero() {
		// time.Sub saturates, so a KeepUntil of any distance is a
		// positive duration here or a past one.
		left := keep.Sub(c.opts.Clock.Now())
		if left <= 0 {
			return c.tombstone(), nil
		}
		ttl = redisTTL(left, c.opts.ExpiredGrace)
	}
	return write{envelope: appendEnvelope(make([]byte, 0, envelopeSize(&h, len(payload))), &h, payload), ttl: ttl}, nil
}

// redisTTL is the Redis TTL of an entry kept for keep more: ExpiredGrace
// longer (see Options), rounded up to PX's ms resolution, and at most
// MaxTTL. keep may be as long as math.MaxInt64 (a FailSafe of that size):
// the plain sum would overflow into a negative TTL, which Redis refuses
// (ERR invalid expire time) and go-redis's SET sends as no TTL at all.
// grace is at most MaxTTL (validate), so MaxTTL-grace cannot overflow.
func redisTTL(keep, grace time.Duration) time.Duration {
	if keep >= MaxTTL-grace {
		return MaxTTL
	}
	return min((keep + grace + time.Millisecond - 1).Truncate(time.Millisecond), MaxTTL)
}

// tombstone returns the write that deletes a key.
func (c *Cache[V]) tombstone() write {
	h := header{flags: flagTombstone, generation: newGeneration()}
	return write{envelope: appendEnvelope(make([]byte, 0, headerLen), &h, nil), ttl: c.opts.TombstoneTTL}
}

// Delete replaces the entries under keys with tombstones that last
// TombstoneTTL, in one pipeline.
func (c *Cache[V]) Delete(ctx context.Context, keys ...string) error {
	switch len(keys) {
	case 0:
		return nil
	case 1:
		w := c.tombstone()
		return wrapErr("delete", keys[0], c.client.Set(ctx, keys[0], w.envelope, w.ttl).Err())
	}
	_, err := c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range keys {
			w := c.tombstone()
			p.Set(ctx, k, w.envelope, w.ttl)
		}
		return nil
	})
	return wrapErr("delete", fmt.Sprintf("%d keys", len(keys)), err)
}

// newGeneration returns a random non-zero generation below absentBit.
// Generations are only compared for equality, so random ones need no
// coordination between clients; two writes of one key sharing one has odds
// of 2^-63.
func newGeneration() uint64 {
	for {
		if g := rand.Uint64() &^ absentBit; g != 0 {
			return g
		}
	}
}
