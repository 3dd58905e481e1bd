package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// Scenario 5: the distributed lock. The holder of a key's lock stalls past
// the lock's TTL (its connection to Redis is cut, so it cannot refresh the
// lock); a second process takes the lock and loads the new value; the
// stalled holder's late write-back of the old value is refused in every
// tier (stale-set protection). A release of a lock not held is a clear
// error. And locks work on Redis Cluster.

const lockTTL = 300 * time.Millisecond

// lockProcess is one process with a locked two-tier Aside.
type lockProcess struct {
	aside *hoard.Aside[string]
	inst  *instance
}

func newLockProcess(t *testing.T, name, channel, cacheAddr, busAddr string, src hoard.Store[string]) *lockProcess {
	t.Helper()
	// The instance gives the client, memory tier and bus; the Aside here
	// adds the locker.
	in := newInstance(t, instanceOptions{name: name, channel: channel, cacheAddr: cacheAddr, busAddr: busAddr,
		ttl: time.Hour, memoryTTL: time.Hour, store: src})
	locker, err := hoardredis.NewLocker(in.client, &hoardredis.LockerOptions{Prefix: channel + ":lock:"})
	if err != nil {
		t.Fatal(err)
	}
	shared, err := hoardredis.New[string](in.client, nil)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{
		Name: channel, Memory: mem, Shared: shared, Bus: in.bus, Stampede: &hoard.Stampede{Locker: locker, LockTTL: lockTTL, Wait: 5 * time.Second},
		TTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	// Markers subscribed after this Aside: syncBus then waits for it.
	in.markers = newMarkers()
	in.bus.Subscribe(in.markers.handle)
	return &lockProcess{aside: a, inst: in}
}

func TestLockHolderStallsPastTTL(t *testing.T) {
	srv := startRedis(t)
	admin := srv.Client(t)
	ctx := context.Background()
	channel := fmt.Sprintf("lock-%d", time.Now().UnixNano())
	src := newMemStore[string]()
	src.Put("k", "v1")
	proxy := newFaultProxy(t, srv.Addr())
	// p1's cache and lock go through the proxy; its bus does not, so it
	// still hears of invalidations while it cannot reach the cache.
	p1 := newLockProcess(t, "p1", channel, proxy.Addr(), srv.Addr(), src)
	p2 := newLockProcess(t, "p2", channel, srv.Addr(), "", src)

	started, release := make(chan struct{}), make(chan struct{})
	stalling := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
		v, err := src.Load(ctx, id) // reads v1
		close(started)
		<-release // the stall
		return v, err
	})
	var p1v string
	var p1err error
	var wg sync.WaitGroup
	wg.Go(func() { p1v, p1err = p1.aside.Get(ctx, "k", stalling) })
	<-started
	lockKey := channel + ":lock:" + p1.aside.Key("k")
	if admin.Exists(ctx, lockKey).Val() != 1 {
		t.Fatalf("p1 loads without holding %q", lockKey)
	}
	proxy.Down() // p1 can no longer refresh its lock
	eventually(t, 5*time.Second, "p1's lock expires", func() bool { return admin.Exists(ctx, lockKey).Val() == 0 })

	// Meanwhile the row changes and the key is invalidated; p2 takes the
	// lock (p1's expired) and loads the new value at once.
	src.Put("k", "v2")
	if err := p2.aside.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	loadsBefore := src.loads.Load()
	start := time.Now()
	if v, err := p2.aside.Get(ctx, "k", src); err != nil || v != "v2" {
		t.Fatalf("p2 Get = %q, %v; want v2", v, err)
	}
	if took := time.Since(start); took > 2*time.Second || src.loads.Load() == loadsBefore {
		t.Fatalf("p2 did not load under the lock p1 let expire (took %v, loads %d → %d)", took, loadsBefore, src.loads.Load())
	}
	syncBus(t, p2.inst, []*instance{p1.inst}, 10*time.Second) // p1 has heard of the delete

	// p1 wakes up and writes back v1: refused everywhere.
	proxy.Up()
	close(release)
	wg.Wait()
	t.Logf("p1's stalled Get returned %q, %v", p1v, p1err)
	shared, _ := hoardredis.New[string](admin, nil)
	if e, err := shared.Get(ctx, p1.aside.Key("k")); err != nil || e.Value != "v2" {
		t.Fatalf("Redis holds %q, %v after p1's late write-back; want v2 (p1's stale v1 must be refused)", e.Value, err)
	}
	for name, p := range map[string]*lockProcess{"p1": p1, "p2": p2} {
		if v, err := p.aside.Get(ctx, "k", src); err != nil || v != "v2" {
			t.Fatalf("%s serves %q, %v after p1's late write-back; want v2", name, v, err)
		}
	}
	if n := p1.aside.Metrics().Snapshot().Count(hoard.EventBackendError, hoard.TierShared); n == 0 {
		t.Errorf("p1's failed lock refreshes or release were not counted as backend errors")
	}
}

func TestLockReleaseNotHeld(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("lock-%d:", time.Now().UnixNano())
	l1, err := hoardredis.NewLocker(newClient(t, srv.Addr(), "l1"), &hoardredis.LockerOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := hoardredis.NewLocker(newClient(t, srv.Addr(), "l2"), &hoardredis.LockerOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	lockContract(t, ctx, l1, l2, []string{"k"})
}

// lockContract checks, for every key, that two lockers exclude each other,
// that a lock expires by its TTL, and that refreshing or releasing a lock
// not held fails with hoard.ErrLockNotHeld and leaves the new holder's lock
// alone.
func lockContract(t *testing.T, ctx context.Context, l1, l2 hoard.Locker, keys []string) {
	t.Helper()
	notHeld := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, hoard.ErrLockNotHeld) || !strings.HasPrefix(err.Error(), "hoard:") {
			t.Fatalf("%s: %v; want an error wrapping hoard.ErrLockNotHeld", what, err)
		}
	}
	for _, k := range keys {
		// Held for long enough that the checks of a held lock cannot
		// see it expire on a busy machine (a Redis TryLock with no ctx
		// deadline also gives itself only the TTL to answer); the
		// Refresh then shortens it, to watch it expire.
		a, err := l1.TryLock(ctx, k, 5*time.Second)
		if err != nil {
			t.Fatalf("TryLock(%s): %v", k, err)
		}
		if _, err := l2.TryLock(ctx, k, 5*time.Second); !errors.Is(err, hoard.ErrLockHeld) {
			t.Fatalf("a second TryLock(%s) while held: %v; want hoard.ErrLockHeld", k, err)
		}
		if err := a.Refresh(ctx, 100*time.Millisecond); err != nil {
			t.Fatalf("Refresh(%s) while held: %v", k, err)
		}
		// a's lock expires: twice its TTL since the Refresh returned (a
		// busy machine only makes the wait longer).
		time.Sleep(200 * time.Millisecond)
		notHeld("Refresh after expiry", a.Refresh(ctx, time.Second))
		b, err := l2.TryLock(ctx, k, 5*time.Second)
		if err != nil {
			t.Fatalf("TryLock(%s) after expiry: %v", k, err)
		}
		notHeld("Release of an expired lock another holds now", a.Release(ctx))
		if err := b.Refresh(ctx, 5*time.Second); err != nil {
			t.Fatalf("the new holder's lock of %s was disturbed by the old holder's release: %v", k, err)
		}
		if err := b.Release(ctx); err != nil {
			t.Fatalf("Release(%s): %v", k, err)
		}
		notHeld("a second Release", b.Release(ctx))
	}
}

// Locks on Redis Cluster: keys spread over every shard follow the same
// contract, and two processes' Asides sharing a cluster locker load each
// key once.
func TestLockCluster(t *testing.T) {
	addrs := os.Getenv("HOARD_REDIS_CLUSTER_ADDRS")
	if addrs == "" {
		t.Skip("HOARD_REDIS_CLUSTER_ADDRS is unset (bash scripts/redis-cluster.sh start; CI sets it)")
	}
	ctx := context.Background()
	prefix := fmt.Sprintf("relock-%d:", time.Now().UnixNano())
	clients := make([]*goredis.ClusterClient, 2)
	lockers := make([]*hoardredis.Locker, 2)
	for i := range clients {
		clients[i] = goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: strings.Split(addrs, ","), ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = clients[i].Close() })
		var err error
		if lockers[i], err = hoardredis.NewLocker(clients[i], &hoardredis.LockerOptions{Prefix: prefix}); err != nil {
			t.Fatal(err)
		}
	}
	keys := make([]string, 6) // spread over the shards
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	lockContract(t, ctx, lockers[0], lockers[1], keys)

	// One load per key across two processes.
	var loads atomic.Int64
	slow := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
		loads.Add(1)
		time.Sleep(100 * time.Millisecond)
		return "v-" + id, nil
	})
	asides := make([]*hoard.Aside[string], 2)
	for i := range asides {
		shared, err := hoardredis.New[string](clients[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		asides[i], err = hoard.NewAside(&hoard.AsideOptions[string]{Name: prefix, Shared: shared, Stampede: &hoard.Stampede{Locker: lockers[i]}, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = asides[i].Close(context.Background()) })
	}
	var wg sync.WaitGroup
	for _, k := range keys {
		for i := range 8 {
			wg.Go(func() {
				if v, err := asides[i%2].Get(ctx, k, slow); err != nil || v != "v-"+k {
					t.Errorf("Get(%s) = %q, %v", k, v, err)
				}
			})
		}
	}
	wg.Wait()
	if n := loads.Load(); n != int64(len(keys)) {
		t.Fatalf("%d loads for %d keys read by 8 callers in two processes sharing a cluster locker; want one per key", n, len(keys))
	}
	for _, k := range keys {
		_ = clients[0].Del(ctx, asides[0].Key(k)).Err()
	}
}
