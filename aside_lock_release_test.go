package hoard_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// A distributed lock whose release failed (Redis unreachable when the
// load ended) is released once Redis answers again, not left until its
// TTL: readers of the key would otherwise wait for a lock nobody holds,
// up to Stampede.Wait each, after Redis came back.
func TestFailedLockReleaseIsRetriedWhenRedisReturns(t *testing.T) {
	a, mr, proxy := newLockReleaseAside(t)
	locks := lockKeys(mr)
	if v, err := a.Get(context.Background(), "1", blackHolingLoader(t, locks, proxy)); v != "v" || err != nil {
		t.Fatalf("Get = %q, %v; want v from the loader", v, err)
	}
	if len(locks()) != 1 {
		t.Fatalf("locks after a release that could not reach Redis: %v; want the one left", locks())
	}
	proxy.Heal()
	deadline := time.Now().Add(20 * time.Second)
	for len(locks()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("lock %v still held 20s after Redis came back (its TTL is an hour)", locks())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Close ends the retries of a failed release (after one last attempt)
// rather than waiting for Redis up to the lock's TTL: a process shutting
// down during an outage leaves the lock to its TTL, as before the retries.
func TestCloseEndsLockReleaseRetries(t *testing.T) {
	a, mr, proxy := newLockReleaseAside(t)
	if v, err := a.Get(context.Background(), "1", blackHolingLoader(t, lockKeys(mr), proxy)); v != "v" || err != nil {
		t.Fatalf("Get = %q, %v; want v from the loader", v, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatalf("Close with a release retried against a black-holed Redis: %v; want it to end the retry", err)
	}
}

// newLockReleaseAside is an Aside with a shared tier and a Redis locker
// (locks under "lock:", an hour's TTL) on miniredis behind a proxy that
// can black-hole it, with a 100 ms hard timeout.
func newLockReleaseAside(t *testing.T) (*hoard.Aside[string], *miniredis.Miniredis, *redistest.Proxy) {
	t.Helper()
	mr, proxy, client := redistest.Proxied(t)
	shared, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	locker, err := hoardredis.NewLocker(client, &hoardredis.LockerOptions{Prefix: "lock:"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{
		Name: "rows", Shared: shared,
		Stampede:     &hoard.Stampede{Locker: locker, LockTTL: time.Hour},
		SharedBudget: &hoard.SharedBudget{HardTimeout: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proxy.Heal()
		_ = a.Close(context.Background())
	})
	return a, mr, proxy
}

// lockKeys lists the locks held in mr.
func lockKeys(mr *miniredis.Miniredis) func() []string {
	return func() []string {
		var out []string
		for _, k := range mr.Keys() {
			if strings.HasPrefix(k, "lock:") {
				out = append(out, k)
			}
		}
		return out
	}
}

// blackHolingLoader loads "v" under the load's own lock, then black-holes
// Redis: the write-back and the lock's release fail.
func blackHolingLoader(t *testing.T, locks func() []string, proxy *redistest.Proxy) hoard.Loader[string] {
	return hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
		if len(locks()) != 1 {
			t.Errorf("locks held during the load: %v; want the load's own", locks())
		}
		proxy.BlackHole()
		return "v", nil
	})
}
