package hoardredis_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

const (
	aclAdminPassword = "admin-secret"
	aclAppPassword   = "app-secret"
)

// aclServer starts a redis-server of its own whose default user needs
// aclAdminPassword, and adds the user "app", limited to the keys ~app:*
// and the channels &app:*, with every command but the @dangerous ones
// (EVAL, EVALSHA, SCAN, PUBLISH and SUBSCRIBE among those left), plus
// extraKeys patterns. It returns the server's address.
func aclServer(t *testing.T, extraKeys ...string) string {
	t.Helper()
	s := startServer(t, []string{"--requirepass", aclAdminPassword}, false, pingAs("", aclAdminPassword, nil))
	admin := goredis.NewClient(&goredis.Options{Addr: s.addr, Password: aclAdminPassword})
	defer admin.Close()
	args := []any{"ACL", "SETUSER", "app", "reset", "on", ">" + aclAppPassword, "~app:*", "&app:*", "+@all", "-@dangerous"}
	for _, k := range extraKeys {
		args = append(args, "~"+k)
	}
	if err := admin.Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	return s.addr
}

// appClient is a client logged in as the limited user.
func appClient(t *testing.T, addr string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, Username: "app", Password: aclAppPassword, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// A user limited to ~app:* and &app:* runs every hoard operation on keys
// under app: (get, set, many, compare-and-set, delete, prefix delete,
// counters, locks, an Aside with a lock and a namespace, the bus), and is
// refused, with a clear error, outside it.
func TestSecurityACLUserLimitedToPrefix(t *testing.T) {
	addr := aclServer(t)
	client := appClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := hoardredis.New[string](client, &hoardredis.Options{TombstoneTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	val := func(v string) hoard.Entry[string] {
		return hoard.Entry[string]{Value: v, ExpiresAt: time.Now().Add(time.Minute)}
	}

	t.Run("cache", func(t *testing.T) {
		must(t, c.Set(ctx, "app:a", val("1")))
		must(t, c.SetMany(ctx, map[string]hoard.Entry[string]{"app:b": val("2"), "app:users:1": val("u1"), "app:users:2": val("u2")}))
		got, err := c.GetMany(ctx, []string{"app:a", "app:b", "app:users:1", "app:none"})
		if err != nil || len(got) != 3 || got["app:b"].Value != "2" {
			t.Fatalf("GetMany = %v, %v", got, err)
		}
		_, tok, err := c.GetWithToken(ctx, "app:a")
		must(t, err)
		must(t, c.CompareAndSet(ctx, "app:a", tok, val("1b")))
		if e, err := c.Get(ctx, "app:a"); err != nil || e.Value != "1b" {
			t.Fatalf("Get after CompareAndSet = %q, %v", e.Value, err)
		}
		n, err := c.DeletePrefix(ctx, "app:users:")
		if err != nil || n != 2 {
			t.Fatalf("DeletePrefix = %d, %v; want 2", n, err)
		}
		must(t, c.Delete(ctx, "app:b"))
		if _, err := c.Get(ctx, "app:b"); !errors.Is(err, hoard.ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
		for want := int64(1); want <= 2; want++ {
			if n, err := c.IncrBy(ctx, "app:ctr", 1); err != nil || n < want {
				t.Fatalf("IncrBy = %d, %v", n, err)
			}
		}
	})

	t.Run("refused outside the prefix", func(t *testing.T) {
		err := c.Set(ctx, "other:a", val("x"))
		if !errors.Is(err, hoard.ErrBackend) || !strings.Contains(err.Error(), "NOPERM") || !strings.HasPrefix(err.Error(), "hoard:") {
			t.Fatalf("Set outside the prefix: %v; want a hoard: ErrBackend naming NOPERM", err)
		}
		if _, err := c.Get(ctx, "other:a"); !errors.Is(err, hoard.ErrBackend) {
			t.Fatalf("Get outside the prefix: %v; want ErrBackend, not a miss", err)
		}
		if _, err := c.IncrBy(ctx, "other:ctr", 1); !errors.Is(err, hoard.ErrBackend) {
			t.Fatalf("IncrBy outside the prefix: %v; want ErrBackend", err)
		}
	})

	t.Run("lock", func(t *testing.T) {
		l, err := hoardredis.NewLocker(client, &hoardredis.LockerOptions{Prefix: "app:lock:"})
		must(t, err)
		lock, err := l.TryLock(ctx, "k", time.Second)
		must(t, err)
		if _, err := l.TryLock(ctx, "k", time.Second); !errors.Is(err, hoard.ErrLockHeld) {
			t.Fatalf("second TryLock: %v; want ErrLockHeld", err)
		}
		must(t, lock.Refresh(ctx, time.Second))
		must(t, lock.Release(ctx))
		outside, err := hoardredis.NewLocker(client, nil) // "lock:", outside app:
		must(t, err)
		if _, err := outside.TryLock(ctx, "k", time.Second); err == nil || errors.Is(err, hoard.ErrLockHeld) || !strings.Contains(err.Error(), "NOPERM") {
			t.Fatalf("TryLock outside the prefix: %v; want a NOPERM error, not ErrLockHeld", err)
		}
	})

	t.Run("aside with lock and namespace", func(t *testing.T) {
		kb, err := hoard.NewKeyBuilder("app:aside", nil)
		must(t, err)
		l, err := hoardredis.NewLocker(client, &hoardredis.LockerOptions{Prefix: "app:lock:"})
		must(t, err)
		inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: c, TagClock: c, NamespacePrefix: "app:ns:"})
		must(t, err)
		defer inv.Close()
		a, err := hoard.NewAside(&hoard.AsideOptions[string]{
			Name: "acl", Keys: kb, Shared: c, Stampede: &hoard.Stampede{Locker: l}, Invalidator: inv, Namespace: "products", TTL: time.Minute,
		})
		must(t, err)
		defer a.Close(ctx)
		var loads atomic.Int64
		loader := hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
			loads.Add(1)
			return "loaded", nil
		})
		for range 3 {
			if v, err := a.Get(ctx, "p1", loader); err != nil || v != "loaded" {
				t.Fatalf("Aside.Get = %q, %v", v, err)
			}
		}
		if _, err := inv.BumpNamespace(ctx, "products"); err != nil {
			t.Fatalf("BumpNamespace: %v", err)
		}
		must(t, a.Delete(ctx, "p1"))
		if n := a.Metrics().Snapshot().Total(hoard.EventBackendError); n != 0 || loads.Load() != 1 {
			t.Fatalf("%d backend errors and %d loads for 3 Gets: the Aside read past a refused tier", n, loads.Load())
		}
		if !strings.HasPrefix(a.Key("p1"), "app:aside:") {
			t.Fatalf("Aside key %q is outside its prefix", a.Key("p1"))
		}
	})

	t.Run("bus", func(t *testing.T) {
		pub, err := hoardredis.NewBus(client, &hoardredis.BusOptions{Channel: "app:invalidation"})
		must(t, err)
		defer pub.Close(ctx)
		sub, err := hoardredis.NewBus(appClient(t, addr), &hoardredis.BusOptions{Channel: "app:invalidation"})
		must(t, err)
		defer sub.Close(ctx)
		got := make(chan hoard.Invalidation, 16)
		defer sub.Subscribe(func(evs []hoard.Invalidation) {
			for _, ev := range evs {
				got <- ev
			}
		})()
		must(t, sub.Ready(ctx))
		must(t, pub.Publish(ctx, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: "app:a"}))
		select {
		case ev := <-got:
			if ev.Value != "app:a" {
				t.Fatalf("bus delivered %+v", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the bus delivered nothing in 10s")
		}
	})
}

// Tag invalidation works for an ACL user only when it may also write the
// tag clock's keys, which are fixed at {hoard:tags}:*, outside any prefix:
// granting ~{hoard:tags}:* works today.
func TestSecurityACLTagsWithTagClockKeys(t *testing.T) {
	client := appClient(t, aclServer(t, "{hoard:tags}:*"))
	ctx := context.Background()
	c, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.Epoch(ctx)
	must(t, err)
	after, err := c.InvalidateTags(ctx, "app-tag")
	must(t, err)
	stamps, err := c.TagEpochs(ctx, []string{"app-tag"})
	must(t, err)
	if after <= before || stamps[0] != after {
		t.Fatalf("epoch %d → %d, stamp %v", before, after, stamps)
	}
}

// A user limited to ~app:* can use tags: the tag clock's keys are under a
// prefix the application chooses (Options.TagPrefix).
func TestSecurityACLTagsUnderPrefixOnly(t *testing.T) {
	client := appClient(t, aclServer(t))
	c, err := hoardredis.New[string](client, &hoardredis.Options{TagPrefix: "app:{tags}"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InvalidateTags(context.Background(), "app-tag"); err != nil {
		t.Fatalf("InvalidateTags as a user limited to ~app:*: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
