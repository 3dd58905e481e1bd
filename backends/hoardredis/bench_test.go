package hoardredis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// The benchmarks here need real servers: they skip unless HOARD_REDIS_ADDR
// (and, for target=cluster, HOARD_REDIS_CLUSTER_ADDRS) is set. Every run
// writes under a prefix of its own and deletes its keys when done, so it
// can share a server with other runs and tests. scripts/bench.sh runs them.

// manyKeys is how many keys a GetMany of BenchmarkGetMany asks for.
const manyKeys = 100

// benchSink keeps the reads of the benchmarks observable.
var benchSink atomic.Int64

// benchPrefix returns a key prefix no other run uses.
func benchPrefix(b *testing.B) string {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		b.Fatal(err)
	}
	return "hoard-bench:" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + hex.EncodeToString(r[:]) + ":"
}

// benchCache returns a cache with the default options (JSON codec) that
// holds an entry of hoardtest.RealisticItem(i) under each key, and deletes the keys when
// the benchmark ends.
func benchCache(b *testing.B, client goredis.UniversalClient, keys []string) *hoardredis.Cache[hoardtest.Item] {
	b.Helper()
	return benchCacheWith(b, client, keys, nil)
}

// benchCacheWith is benchCache with a codec of choice (nil: JSON).
func benchCacheWith(b *testing.B, client goredis.UniversalClient, keys []string, codec hoard.Codec) *hoardredis.Cache[hoardtest.Item] {
	b.Helper()
	c, err := hoardredis.New[hoardtest.Item](client, &hoardredis.Options{Codec: codec})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { deleteKeys(b, client, keys) })
	now := time.Now()
	entries := make(map[string]hoard.Entry[hoardtest.Item], len(keys))
	for i, k := range keys {
		entries[k] = hoard.Entry[hoardtest.Item]{Value: hoardtest.RealisticItem(i), WrittenAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.SetMany(ctx, entries); err != nil {
		b.Fatal(err)
	}
	return c
}

// deleteKeys deletes keys one DEL each in a pipeline, so that no command
// spans two Cluster slots. It runs in b.Cleanup, after b.Context() has
// ended, hence a context of its own.
func deleteKeys(b *testing.B, client goredis.UniversalClient, keys []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	if err != nil {
		b.Errorf("deleting the benchmark's keys: %v", err)
	}
}

// BenchmarkGetHit compares hoard's Get of a stored entry (a GET, the
// envelope's decoding, the JSON codec's Unmarshal of the value) with a raw
// go-redis GET of the same key, that is of the very same bytes, on the real
// Redis at HOARD_REDIS_ADDR. The sub-benchmarks are named impl=hoard|raw so
// that `benchstat -col /impl` puts them side by side.
func BenchmarkGetHit(b *testing.B) {
	client := redistest.Real(b)
	key := benchPrefix(b) + "hit"
	c := benchCache(b, client, []string{key})
	ctx := context.Background()

	// What the raw side reads: the envelope exactly as hoard stored it.
	stored, err := client.Get(ctx, key).Bytes()
	if err != nil {
		b.Fatal(err)
	}
	want := hoardtest.RealisticItem(0)
	b.Logf("stored envelope: %d bytes", len(stored))

	b.Run("impl=hoard", func(b *testing.B) {
		e, err := c.Get(ctx, key)
		if err != nil || e.Value.ID != want.ID || !bytes.Equal(e.Value.Data, want.Data) {
			b.Fatalf("Get(%q) = %+v, %v; want the stored item", key, e.Value, err)
		}
		b.ReportAllocs()
		var sum int64
		for b.Loop() {
			e, err := c.Get(ctx, key)
			if err != nil {
				b.Fatal(err)
			}
			sum += int64(e.Value.ID)
		}
		benchSink.Add(sum)
	})
	b.Run("impl=raw", func(b *testing.B) {
		got, err := client.Get(ctx, key).Bytes()
		if err != nil || !bytes.Equal(got, stored) {
			b.Fatalf("GET %q = %d bytes, %v; want the %d stored bytes", key, len(got), err, len(stored))
		}
		b.ReportAllocs()
		var sum int64
		for b.Loop() {
			got, err := client.Get(ctx, key).Bytes()
			if err != nil {
				b.Fatal(err)
			}
			sum += int64(len(got))
		}
		benchSink.Add(sum)
	})
}

// BenchmarkGetMany compares one GetMany of 100 keys with 100 Gets of the
// same keys one after another, on the real Redis (target=redis, one MGET)
// and on the Redis Cluster (target=cluster: keys spread over the slots, so
// GetMany sends one MGET a slot in a pipeline that go-redis splits by
// node). The sub-benchmarks are named impl=getmany|singles/target=... so
// that `benchstat -col /impl` shows the speed-up of GetMany per target.
func BenchmarkGetMany(b *testing.B) {
	targets := []struct {
		name   string
		client func(b *testing.B) goredis.UniversalClient
	}{
		{"redis", func(b *testing.B) goredis.UniversalClient { return redistest.Real(b) }},
		{"cluster", func(b *testing.B) goredis.UniversalClient { return redistest.Cluster(b) }},
	}
	// Decoding a value costs the same in both ways of reading, so the
	// codec bounds the speed-up: it is measured with the default (JSON)
	// and the faster binary codec hoard offers.
	for _, codec := range []hoard.Codec{hoard.JSON, hoard.MsgPack} {
		for _, target := range targets {
			suffix := "/target=" + target.name + "/codec=" + codec.Name()
			b.Run("impl=getmany"+suffix, func(b *testing.B) {
				c, keys := benchManyFixture(b, target.client(b), codec)
				ctx := context.Background()
				b.ReportAllocs()
				var sum int64
				for b.Loop() {
					found, err := c.GetMany(ctx, keys)
					if err != nil {
						b.Fatal(err)
					}
					if len(found) != len(keys) {
						b.Fatalf("GetMany found %d of %d keys", len(found), len(keys))
					}
					sum += int64(len(found))
				}
				benchSink.Add(sum)
			})
			b.Run("impl=singles"+suffix, func(b *testing.B) {
				c, keys := benchManyFixture(b, target.client(b), codec)
				ctx := context.Background()
				b.ReportAllocs()
				var sum int64
				for b.Loop() {
					for _, k := range keys {
						e, err := c.Get(ctx, k)
						if err != nil {
							b.Fatal(err)
						}
						sum += int64(e.Value.ID)
					}
				}
				benchSink.Add(sum)
			})
		}
	}
}

// benchManyFixture stores manyKeys entries under a fresh prefix and returns
// the cache and the keys, after one GetMany that checks them and warms the
// client's connections (and, on Cluster, its slot map).
func benchManyFixture(b *testing.B, client goredis.UniversalClient, codec hoard.Codec) (*hoardredis.Cache[hoardtest.Item], []string) {
	b.Helper()
	prefix := benchPrefix(b)
	keys := make([]string, manyKeys)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	c := benchCacheWith(b, client, keys, codec)
	found, err := c.GetMany(context.Background(), keys)
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range keys {
		if e, ok := found[k]; !ok || e.Value.ID != i {
			b.Fatalf("GetMany: key %q: found %v, id %d; want id %d", k, ok, e.Value.ID, i)
		}
	}
	return c, keys
}

// BenchmarkGetManyRaw is the network-only ceiling of BenchmarkGetMany:
// go-redis alone, with no envelope and no codec, reading the same 100
// stored entries either as one pipeline of 100 GETs (go-redis splits it by
// node on Cluster) or as 100 GETs one after another. GetMany's speed-up
// over singles can approach this one only as far as decoding the 100
// values (BenchmarkUnmarshal, times 100) stays small next to a round trip.
func BenchmarkGetManyRaw(b *testing.B) {
	targets := []struct {
		name   string
		client func(b *testing.B) goredis.UniversalClient
	}{
		{"redis", func(b *testing.B) goredis.UniversalClient { return redistest.Real(b) }},
		{"cluster", func(b *testing.B) goredis.UniversalClient { return redistest.Cluster(b) }},
	}
	for _, target := range targets {
		b.Run("impl=pipeline/target="+target.name, func(b *testing.B) {
			client := target.client(b)
			_, keys := benchManyFixture(b, client, nil)
			ctx := context.Background()
			cmds := make([]*goredis.StringCmd, len(keys))
			b.ReportAllocs()
			var sum int64
			for b.Loop() {
				_, err := client.Pipelined(ctx, func(p goredis.Pipeliner) error {
					for i, k := range keys {
						cmds[i] = p.Get(ctx, k)
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				for _, cmd := range cmds {
					v, err := cmd.Bytes()
					if err != nil {
						b.Fatal(err)
					}
					sum += int64(len(v))
				}
			}
			benchSink.Add(sum)
		})
		b.Run("impl=gets/target="+target.name, func(b *testing.B) {
			client := target.client(b)
			_, keys := benchManyFixture(b, client, nil)
			ctx := context.Background()
			b.ReportAllocs()
			var sum int64
			for b.Loop() {
				for _, k := range keys {
					v, err := client.Get(ctx, k).Bytes()
					if err != nil {
						b.Fatal(err)
					}
					sum += int64(len(v))
				}
			}
			benchSink.Add(sum)
		})
	}
}

// BenchmarkUnmarshal is what decoding one benchItem costs, with the default
// codec (JSON) that the other benchmarks here use, and with MsgPack for
// comparison: the share of every Get and GetMany that no round trip saves.
// It needs no server.
func BenchmarkUnmarshal(b *testing.B) {
	for _, codec := range []hoard.Codec{hoard.JSON, hoard.MsgPack} {
		b.Run("codec="+codec.Name(), func(b *testing.B) {
			payload, err := codec.Marshal(hoardtest.RealisticItem(0))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var sum int64
			for b.Loop() {
				var it hoardtest.Item
				if err := codec.Unmarshal(payload, &it); err != nil {
					b.Fatal(err)
				}
				sum += int64(it.ID)
			}
			benchSink.Add(sum)
			b.ReportMetric(float64(len(payload)), "payload-bytes")
		})
	}
}
