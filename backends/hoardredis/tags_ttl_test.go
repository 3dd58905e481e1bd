package hoardredis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// stampServer is a Redis for the tag stamp tests, with a way to let a
// stamp's TTL run out: miniredis moves its clock (TIME, which the tag
// scripts read, and the keys' TTLs alike); a real Redis is waited for.
type stampServer struct {
	client goredis.UniversalClient
	prefix string
	// expire returns once key, a stamp of TTL ttl, has expired.
	expire func(t *testing.T, key string, ttl time.Duration)
}

func onStampServers(t *testing.T, f func(t *testing.T, s stampServer)) {
	t.Run("miniredis", func(t *testing.T) {
		mr, client := redistest.Miniredis(t)
		now := time.Now()
		mr.SetTime(now)
		f(t, stampServer{client: client, prefix: "t:", expire: func(t *testing.T, key string, ttl time.Duration) {
			now = now.Add(ttl)
			mr.SetTime(now)
			mr.FastForward(ttl)
			if mr.Exists(key) {
				t.Fatalf("%s still exists after its TTL %v", key, ttl)
			}
		}})
	})
	t.Run("redis", func(t *testing.T) {
		client := redistest.Real(t)
		prefix := uniquePrefix(t)
		t.Cleanup(func() { redistest.DeleteUnder(t, client, prefix) })
		f(t, stampServer{client: client, prefix: prefix, expire: waitExpired(client)})
	})
	t.Run("cluster", func(t *testing.T) {
		client := redistest.Cluster(t)
		prefix := uniquePrefix(t)
		// The tag clock's keys share the hash tag of the test's TagPrefix:
		// one node holds them all.
		t.Cleanup(func() {
			ctx := context.Background()
			keys, _ := client.Keys(ctx, prefix+"{tags}*").Result()
			if len(keys) > 0 {
				_ = client.Del(ctx, keys...).Err()
			}
		})
		f(t, stampServer{client: client, prefix: prefix, expire: waitExpired(client)})
	})
}

// waitExpired waits until a real server has expired key.
func waitExpired(client goredis.UniversalClient) func(t *testing.T, key string, ttl time.Duration) {
	return func(t *testing.T, key string, ttl time.Duration) {
		start := time.Now()
		for client.Exists(context.Background(), key).Val() == 1 {
			if time.Since(start) > ttl+10*time.Second {
				t.Fatalf("%s still exists %v after it was made with the TTL %v", key, time.Since(start), ttl)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// A stamp made with TagStampTTL expires; once it has, its tag still reads
// as stamped at least as late as it was, so the entry it invalidated (an
// epoch read before it) stays invalid, while an entry loaded after the
// invalidation stays valid. A tag never stamped reads as late too: an
// entry older than the TTL with such a tag reads as invalidated, the price
// of aging, for entries that should have expired anyway.
func TestTagStampsExpire(t *testing.T) {
	onStampServers(t, func(t *testing.T, s stampServer) {
		ctx := context.Background()
		const ttl = 300 * time.Millisecond
		tagPrefix := s.prefix + "{tags}"
		c := newCache(t, s.client, &hoardredis.Options{TagPrefix: tagPrefix, TagStampTTL: ttl})
		before, err := c.Epoch(ctx) // an entry tagged "a" and "b" loaded now
		if err != nil {
			t.Fatal(err)
		}
		stamp, err := c.InvalidateTags(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		after, err := c.Epoch(ctx) // an entry tagged "a" and "b" loaded after the invalidation
		if err != nil {
			t.Fatal(err)
		}
		stampKey := tagPrefix + ":tag:a"
		if pttl := s.client.PTTL(ctx, stampKey).Val(); pttl <= 0 || pttl > ttl {
			t.Fatalf("the stamp's TTL is %v, want (0, %v]", pttl, ttl)
		}
		s.expire(t, stampKey, ttl)
		got, err := c.TagEpochs(ctx, []string{"a", "b"})
		if err != nil {
			t.Fatal(err)
		}
		for i, tag := range []string{"a", "b"} {
			if got[i] < stamp {
				t.Errorf("tag %q reads %d after the stamp %d expired: the entry of epoch %d it invalidated would be valid again", tag, got[i], stamp, before)
			}
			if got[i] > after {
				t.Errorf("tag %q reads %d, after the epoch %d of an entry loaded after the invalidation: it would be taken as invalidated", tag, got[i], after)
			}
		}
	})
}

// However many tags are invalidated, once their TTL has passed the clock
// keeps its epoch, start, floor and aging set: four keys, and an aging set
// of at most about 17 members per TTL.
func TestTagStampsBounded(t *testing.T) {
	onStampServers(t, func(t *testing.T, s stampServer) {
		ctx := context.Background()
		const ttl = 200 * time.Millisecond
		tagPrefix := s.prefix + "{tags}"
		c := newCache(t, s.client, &hoardredis.Options{TagPrefix: tagPrefix, TagStampTTL: ttl})
		var last string
		for i := range 200 {
			last = "tag:" + string(rune('a'+i%26)) + time.Duration(i).String()
			if _, err := c.InvalidateTags(ctx, last, last+":2"); err != nil {
				t.Fatal(err)
			}
		}
		s.expire(t, tagPrefix+":tag:"+last+":2", ttl)
		if _, err := c.TagEpochs(ctx, []string{"any"}); err != nil { // folds what is due
			t.Fatal(err)
		}
		keys, err := s.client.Keys(ctx, tagPrefix+":*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 4 {
			t.Errorf("the tag clock holds %d keys after its stamps expired: %v", len(keys), keys)
		}
		if n := s.client.ZCard(ctx, tagPrefix+":aging").Val(); n > 17 {
			t.Errorf("the aging set holds %d members", n)
		}
	})
}

// Stamps made without a TTL never expire, as before; a clock that ages
// its stamps shares them with one that does not.
func TestTagStampsWithoutTTL(t *testing.T) {
	onStampServers(t, func(t *testing.T, s stampServer) {
		ctx := context.Background()
		tagPrefix := s.prefix + "{tags}"
		forever := newCache(t, s.client, &hoardredis.Options{TagPrefix: tagPrefix})
		aging := newCache(t, s.client, &hoardredis.Options{TagPrefix: tagPrefix, TagStampTTL: 100 * time.Millisecond})
		before, err := forever.Epoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := forever.InvalidateTags(ctx, "kept"); err != nil {
			t.Fatal(err)
		}
		if pttl := s.client.PTTL(ctx, tagPrefix+":tag:kept").Val(); pttl != -1 {
			t.Errorf("a stamp made without TagStampTTL has the TTL %v", pttl)
		}
		aged, err := aging.InvalidateTags(ctx, "aged")
		if err != nil {
			t.Fatal(err)
		}
		s.expire(t, tagPrefix+":tag:aged", 100*time.Millisecond)
		got, err := forever.TagEpochs(ctx, []string{"aged", "kept"})
		if err != nil {
			t.Fatal(err)
		}
		if got[0] < aged || got[1] <= before {
			t.Errorf("read by the clock without a TTL: stamps %v, want ≥ %d and > %d", got, aged, before)
		}
	})
}

// A Service's tag clock keeps stamps twice the longest life of an entry
// of its caches (TTL or NegativeTTL, plus the fail-safe window), growing
// as caches are made; ServiceOptions.TagStampTTL fixes it instead.
func TestServiceTagStampTTL(t *testing.T) {
	ctx := context.Background()
	_, client := redistest.Miniredis(t)
	pttl := func(svc *hoardredis.Service, tag string) time.Duration {
		t.Helper()
		if err := svc.Invalidator().InvalidateTags(ctx, tag); err != nil {
			t.Fatal(err)
		}
		return client.PTTL(ctx, svc.App()+":{"+svc.App()+":tags}:tag:"+tag).Val()
	}
	svc, err := hoardredis.NewService(ctx, client, "derived", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(ctx) })
	if got := pttl(svc, "t0"); got != -1 {
		t.Errorf("before any cache a stamp has the TTL %v, want none", got)
	}
	if _, err := hoardredis.NewAside(svc, "short", &hoard.AsideOptions[string]{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if got := pttl(svc, "t1"); got != 2*time.Minute {
		t.Errorf("with a cache of TTL 1m a stamp has the TTL %v, want 2m", got)
	}
	if _, err := hoardredis.NewAside(svc, "long", &hoard.AsideOptions[string]{TTL: time.Hour, FailSafe: &hoard.FailSafe{Window: 3 * time.Hour}}); err != nil {
		t.Fatal(err)
	}
	if _, err := hoardredis.NewAside[string](svc, "default", nil); err != nil { // 5m: shorter, changes nothing
		t.Fatal(err)
	}
	if got := pttl(svc, "t2"); got != 8*time.Hour {
		t.Errorf("with a cache of TTL 1h and a fail-safe of 3h a stamp has the TTL %v, want 8h", got)
	}

	fixed, err := hoardredis.NewService(ctx, client, "fixed", &hoardredis.ServiceOptions{TagStampTTL: 90 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fixed.Close(ctx) })
	if _, err := hoardredis.NewAside(fixed, "long", &hoard.AsideOptions[string]{TTL: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if got := pttl(fixed, "t"); got != 90*time.Minute {
		t.Errorf("with ServiceOptions.TagStampTTL 90m a stamp has the TTL %v", got)
	}
	if _, err := hoardredis.NewService(ctx, client, "bad", &hoardredis.ServiceOptions{TagStampTTL: -time.Second}); err == nil {
		t.Error("a negative TagStampTTL was accepted")
	}
	if _, err := hoardredis.New[string](client, &hoardredis.Options{TagStampTTL: time.Microsecond}); err == nil {
		t.Error("a TagStampTTL under 1ms was accepted")
	}
}
