package hoardredis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// DeletePrefix replaces hoard's entries with tombstones and nothing else:
// a stream, a hash, a lock, a counter of this very cache (IncrBy, as
// namespace versions use) or any other string under the prefix stays as it
// was, and only the live entries replaced are counted.
func TestDeletePrefixTouchesOnlyEntries(t *testing.T) {
	onServers(t, func(t *testing.T, client goredis.UniversalClient, prefix string) {
		ctx := context.Background()
		c, err := hoardredis.New[string](client, nil)
		if err != nil {
			t.Fatal(err)
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		p := prefix + "app:"
		must(c.Set(ctx, p+"entry", hoard.Entry[string]{Value: "v", ExpiresAt: time.Now().Add(time.Hour)}))
		must(c.Set(ctx, p+"negative", hoard.Entry[string]{Negative: true, ExpiresAt: time.Now().Add(time.Hour)}))
		must(c.Set(ctx, p+"tagged", hoard.Entry[string]{Value: "v", Tags: []string{"t1", "t2"}, TagEpoch: 7}))
		must(c.Delete(ctx, p+"deleted"))
		_, deletedTok, _ := c.GetWithToken(ctx, p+"deleted")
		must(client.XAdd(ctx, &goredis.XAddArgs{Stream: p + "stream", Values: []string{"f", "v"}}).Err())
		must(client.HSet(ctx, p+"hash", "f", "v").Err())
		must(client.RPush(ctx, p+"list", "v").Err())
		must(client.Set(ctx, p+"plain", "hello", 0).Err())
		must(client.Set(ctx, p+"short", "\x01\x00", 0).Err())
		ns, err := c.IncrBy(ctx, p+"ns:products", 1)
		must(err)
		locker, err := hoardredis.NewLocker(client, &hoardredis.LockerOptions{Prefix: p + "lock:"})
		must(err)
		lock, err := locker.TryLock(ctx, "k", time.Minute)
		must(err)
		lockVal := client.Get(ctx, p+"lock:k").Val()

		n, err := c.DeletePrefix(ctx, p)
		must(err)
		if n != 3 {
			t.Errorf("DeletePrefix = %d; want 3, the live entries", n)
		}
		for _, k := range []string{"entry", "negative", "tagged", "deleted"} {
			if _, err := c.Get(ctx, p+k); !errors.Is(err, hoard.ErrNotFound) {
				t.Errorf("Get(%q) after DeletePrefix: %v; want ErrNotFound", k, err)
			}
		}
		// The old tombstone was replaced too: a load that read it before
		// the DeletePrefix must not store after it.
		if err := c.CompareAndSet(ctx, p+"deleted", deletedTok, hoard.Entry[string]{Value: "stale"}); !errors.Is(err, hoard.ErrConflict) {
			t.Errorf("CompareAndSet with a token from before DeletePrefix: %v; want ErrConflict", err)
		}
		for k, want := range map[string]string{"stream": "stream", "hash": "hash", "list": "list", "plain": "string", "short": "string", "lock:k": "string", "ns:products": "string"} {
			if got := client.Type(ctx, p+k).Val(); got != want {
				t.Errorf("type of %q after DeletePrefix = %q; want %q", k, got, want)
			}
		}
		if got := client.XLen(ctx, p+"stream").Val(); got != 1 {
			t.Errorf("stream length %d after DeletePrefix; want 1", got)
		}
		if got := client.HGet(ctx, p+"hash", "f").Val(); got != "v" {
			t.Errorf("hash field %q after DeletePrefix; want v", got)
		}
		for k, want := range map[string]string{"plain": "hello", "short": "\x01\x00", "lock:k": lockVal} {
			if got := client.Get(ctx, p+k).Val(); got != want {
				t.Errorf("%q = %q after DeletePrefix; want %q", k, got, want)
			}
		}
		if got, err := c.IncrBy(ctx, p+"ns:products", 0); err != nil || got != ns {
			t.Errorf("counter after DeletePrefix = %d, %v; want %d", got, err, ns)
		}
		if err := lock.Release(ctx); err != nil {
			t.Errorf("releasing the lock after DeletePrefix: %v", err)
		}
	})
}
