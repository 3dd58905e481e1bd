package hoardredis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// appName returns name on miniredis (prefix "t:", a server of the test's
// own) and name plus a suffix unique to the run on a real server, whose
// keys under it are deleted when the test ends.
func appName(t *testing.T, client goredis.UniversalClient, prefix, name string) string {
	t.Helper()
	if prefix == "t:" {
		return name
	}
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	app := name + "-" + hex.EncodeToString(r[:])
	t.Cleanup(func() { redistest.DeleteUnder(t, client, app+":") })
	return app
}

// instance is one process of an application in these tests: its Service,
// its "users" cache and the events its bus delivered.
type instance struct {
	svc    *hoardredis.Service
	users  *hoard.Aside[string]
	events chan hoard.Invalidation
}

// newInstance starts an instance of app whose loads count in loads: each
// loaded value says which load made it.
func newInstance(t *testing.T, client goredis.UniversalClient, app string) *instance {
	t.Helper()
	ctx := context.Background()
	svc, err := hoardredis.NewService(ctx, client, app, &hoardredis.ServiceOptions{StartTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(context.Background()); err != nil {
			t.Errorf("Close of %s: %v", app, err)
		}
	})
	users, err := hoardredis.NewAside(svc, "users", &hoard.AsideOptions[string]{
		TTL:       time.Minute,
		Namespace: "people",
		TagsOf:    func(id, _ string) []string { return []string{"user:" + id} },
	})
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{svc: svc, users: users, events: make(chan hoard.Invalidation, 64)}
	// Subscribed after the invalidator and the Aside: the bus calls its
	// handlers in order, so an event seen here has reached them.
	svc.Bus().Subscribe(func(evs []hoard.Invalidation) {
		for _, ev := range evs {
			in.events <- ev
		}
	})
	return in
}

// loader returns values of app that say which of its loads made them.
func loader(app string, loads *atomic.Int64) hoard.Loader[string] {
	return hoard.LoaderFunc[string](func(_ context.Context, id string) (string, error) {
		return fmt.Sprintf("%s/%s/load%d", app, id, loads.Add(1)), nil
	})
}

// get reads id and fails the test on an error.
func (in *instance) get(t *testing.T, id string, l hoard.Loader[string]) string {
	t.Helper()
	v, err := in.users.Get(context.Background(), id, l)
	if err != nil {
		t.Fatalf("Get(%q): %v", id, err)
	}
	return v
}

// count is the instance's count of ev at tier.
func (in *instance) count(ev hoard.Event, tier hoard.Tier) int64 {
	return in.users.Metrics().Snapshot().Count(ev, tier)
}

// await waits until the instance's bus has delivered an event of kind
// with value.
func (in *instance) await(t *testing.T, kind hoard.InvalidationKind, value string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-in.events:
			if ev.Kind == kind && ev.Value == value {
				return
			}
		case <-timeout:
			t.Fatalf("the bus delivered no %v %q in 10s", kind, value)
		}
	}
}

// Two applications, each with two instances, on one Redis, with a cache
// of the same name and the same ids: a tag invalidation, a bus flush and a
// namespace bump in "shop" reach both shop instances and leave blog's
// entries in Redis, its tag clock, its namespace version and its memory
// tiers as they were (blog's reads stay memory hits).
func TestServiceApplicationsApart(t *testing.T) {
	onServers(t, func(t *testing.T, client goredis.UniversalClient, prefix string) {
		ctx := context.Background()
		shopApp, blogApp := appName(t, client, prefix, "shop"), appName(t, client, prefix, "blog")
		var shopLoads, blogLoads atomic.Int64
		shopLoad, blogLoad := loader(shopApp, &shopLoads), loader(blogApp, &blogLoads)
		shop1, shop2 := newInstance(t, client, shopApp), newInstance(t, client, shopApp)
		blog1, blog2 := newInstance(t, client, blogApp), newInstance(t, client, blogApp)

		// Both applications load ids 1 and 2 on their first instance; the
		// second reads them from Redis, then from its memory tier.
		blogValues := map[string]string{}
		for _, id := range []string{"1", "2"} {
			shop1.get(t, id, shopLoad)
			blogValues[id] = blog1.get(t, id, blogLoad)
			shop2.get(t, id, shopLoad)
			blog2.get(t, id, blogLoad)
		}
		if shopLoads.Load() != 2 || blogLoads.Load() != 2 {
			t.Fatalf("%d shop and %d blog loads for 2 ids each; want 2 and 2", shopLoads.Load(), blogLoads.Load())
		}
		if k := shop1.users.Key("1"); !strings.HasPrefix(k, shopApp+":users:") {
			t.Fatalf("shop's key %q is not under %q", k, shopApp+":users:")
		}
		shopValue1 := shop2.get(t, "1", shopLoad)
		blogKeys := []string{blog1.users.Key("1"), blog1.users.Key("2")}
		blogNS := readNamespace(t, client, blogApp)

		// blogStill checks that blog's entries are in Redis and that both
		// blog instances answer from memory, with the values loaded first.
		blogStill := func(step string) {
			t.Helper()
			if n, err := client.Exists(ctx, blogKeys...).Result(); err != nil || n != 2 {
				t.Fatalf("after %s: %d of blog's 2 keys in Redis (%v)", step, n, err)
			}
			for _, in := range []*instance{blog1, blog2} {
				before := in.count(hoard.EventHit, hoard.TierMemory)
				for id, want := range blogValues {
					if got := in.get(t, id, blogLoad); got != want {
						t.Fatalf("after %s: blog's %q = %q, want %q", step, id, got, want)
					}
				}
				if hits := in.count(hoard.EventHit, hoard.TierMemory) - before; hits != 2 {
					t.Fatalf("after %s: %d memory hits for blog's 2 reads", step, hits)
				}
			}
			if blogLoads.Load() != 2 {
				t.Fatalf("after %s: blog loaded %d times", step, blogLoads.Load())
			}
			if got := readNamespace(t, client, blogApp); got != blogNS {
				t.Fatalf("after %s: blog's namespace moved from %q to %q", step, blogNS, got)
			}
		}

		// A tag invalidation in shop: both shop instances drop id 1.
		if err := shop1.svc.Invalidator().InvalidateTags(ctx, "user:1"); err != nil {
			t.Fatal(err)
		}
		shop2.await(t, hoard.InvalidateTag, "user:1")
		for _, in := range []*instance{shop2, shop1} {
			if got := in.get(t, "1", shopLoad); got == shopValue1 {
				t.Fatalf("shop served %q after its tag was invalidated", got)
			}
		}
		blogStill("shop's tag invalidation")
		if n, err := client.Exists(ctx, blogApp+":{"+blogApp+":tags}:tag:user:1").Result(); err != nil || n != 0 {
			t.Fatalf("blog's tag clock has a stamp of user:1 (%d, %v)", n, err)
		}

		// A bus flush in shop: shop2's memory tier is emptied, so its next
		// read comes from Redis.
		if err := shop1.svc.Bus().Publish(ctx, hoard.Invalidation{Kind: hoard.InvalidateAll}); err != nil {
			t.Fatal(err)
		}
		shop2.await(t, hoard.InvalidateAll, "")
		redisHits := shop2.count(hoard.EventHit, hoard.TierShared)
		shop2.get(t, "2", shopLoad)
		if shop2.count(hoard.EventHit, hoard.TierShared) != redisHits+1 {
			t.Fatal("shop2 read id 2 from memory after a bus flush")
		}
		blogStill("shop's bus flush")

		// A namespace bump in shop moves shop's version, not blog's.
		shopNS := readNamespace(t, client, shopApp)
		if _, err := shop1.svc.Invalidator().BumpNamespace(ctx, "people"); err != nil {
			t.Fatal(err)
		}
		shop2.await(t, hoard.InvalidateNamespace, "people")
		if got := readNamespace(t, client, shopApp); got == shopNS {
			t.Fatalf("shop's namespace version stayed %q after a bump", got)
		}
		loadsBefore := shopLoads.Load()
		shop2.get(t, "2", shopLoad)
		if shopLoads.Load() != loadsBefore+1 {
			t.Fatal("shop2 did not load id 2 again after the namespace bump")
		}
		blogStill("shop's namespace bump")

		// Nothing of shop's reached blog's bus: a marker blog1 sends is the
		// first event blog2 gets (Redis delivers in the order it publishes).
		if err := blog1.svc.Bus().Publish(ctx, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: "marker"}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-blog2.events:
			if ev.Kind != hoard.InvalidateKey || ev.Value != "marker" {
				t.Fatalf("blog's bus delivered %v %q of shop's", ev.Kind, ev.Value)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("blog's bus delivered no marker in 10s")
		}
		if len(blog1.events) != 0 {
			t.Fatalf("blog1 got %v from its bus", <-blog1.events)
		}
	})
}

// readNamespace reads app's "people" namespace counter in Redis.
func readNamespace(t *testing.T, client goredis.UniversalClient, app string) string {
	t.Helper()
	v, err := client.Get(context.Background(), app+":ns:people").Result()
	if err != nil {
		t.Fatalf("namespace counter of %s: %v", app, err)
	}
	return v
}
