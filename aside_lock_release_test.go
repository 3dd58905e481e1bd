package hoard_test

import (
	"context"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// A distributed lock whose release failed (Redis unreachable when the
// load ended) is released once Redis answers again, not left until its
// TTL: readers of the key would otherwise wait for a lock nobody holds,
// up to Stampede.Wait each, after Redis came back.
func TestFailedLockReleaseIsRetriedWhenRedisReturns(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	proxy := redistest.NewProxy(t, mr.Addr())
	client := goredis.NewClient(&goredis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
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
	locks := func() []string {
		var out []string
		for _, k := range mr.Keys() {
			if strings.HasPrefix(k, "lock:") {
				out = append(out, k)
			}
		}
		return out
	}
	loader := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
		if len(locks()) != 1 {
			t.Errorf("locks held during the load: %v; want the load's own", locks())
		}
		proxy.BlackHole() // the write-back and the release fail
		return "v", nil
	})
	if v, err := a.Get(context.Background(), "1", loader); v != "v" || err != nil {
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
