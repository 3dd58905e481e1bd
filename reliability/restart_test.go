package reliability_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// Scenario 2: Redis restarted empty (its own server, no persistence). The
// namespace versions and tag stamps are lost with it; they must not bring
// back what was invalidated before the restart, in Redis or in any memory
// tier, and the caches refill.

// node is one instance of a service: its own client, memory tier,
// invalidator, optional bus, and a namespaced Aside whose loader tags each
// value "row:<id>".
type node struct {
	client *goredis.Client
	mem    *memory.Cache[string]
	bus    *hoardredis.Bus // nil without a bus
	inv    *hoard.Invalidator
	aside  *hoard.Aside[string]
	loader hoard.Loader[string]
}

// nodeOptions configure newNode.
type nodeOptions struct {
	name, channel string
	withBus       bool
	maxStaleness  time.Duration
	// plain leaves the Aside without a Namespace (tags only).
	plain bool
}

func newNode(t *testing.T, addr string, o nodeOptions, src *memStore[string]) *node {
	t.Helper()
	n := &node{client: newClient(t, addr, o.name)}
	shared, err := hoardredis.New[string](n.client, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.withBus {
		n.bus, err = hoardredis.NewBus(n.client, &hoardredis.BusOptions{Channel: o.channel, PingInterval: 100 * time.Millisecond, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.bus.Close(context.Background()) })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.bus.Ready(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var bus hoard.Bus
	if n.bus != nil {
		bus = n.bus
	}
	n.inv, err = hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: shared, TagClock: shared, Bus: bus, MaxStaleness: o.maxStaleness})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.inv.Close() })
	n.mem, err = memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.mem.Close() })
	ns := "ns"
	if o.plain {
		ns = ""
	}
	n.aside, err = hoard.NewAside(&hoard.AsideOptions[string]{
		Name: o.channel, Memory: n.mem, Shared: shared, Bus: bus, Invalidator: n.inv, Namespace: ns,
		TTL: time.Hour, Jitter: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.aside.Close(context.Background()) })
	n.loader = hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
		hoard.SetTags(ctx, "row:"+id)
		return src.Load(ctx, id)
	})
	return n
}

// get reads id, failing the test on an error.
func (n *node) get(t *testing.T, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := n.aside.Get(ctx, id, n.loader)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return v
}

const restartKeys = 20

func TestRestartEmptyKeepsInvalidations(t *testing.T) {
	srv := startRedis(t)
	admin := srv.Client(t)
	ctx := context.Background()
	src := newMemStore[string]()
	channel := fmt.Sprintf("restart-%d", time.Now().UnixNano())
	stale := 200 * time.Millisecond
	a := newNode(t, srv.Addr(), nodeOptions{name: "a", channel: channel, withBus: true, maxStaleness: stale}, src)
	b := newNode(t, srv.Addr(), nodeOptions{name: "b", channel: channel, withBus: true, maxStaleness: stale}, src)
	ids := make([]string, restartKeys)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
		src.Put(ids[i], "old")
	}
	readAll := func(when string, want func(i int) string) {
		t.Helper()
		for _, n := range []*node{a, b} {
			for i, id := range ids {
				if v := n.get(t, id); v != want(i) {
					t.Fatalf("%s: Get(%s) = %q; want %q", when, id, v, want(i))
				}
			}
		}
	}
	readAll("warm-up", func(int) string { return "old" })

	// A namespace bump: every "old" entry is unreachable.
	v1, err := a.inv.NamespaceVersion(ctx, "ns")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		src.Put(id, "mid")
	}
	v2, err := a.inv.BumpNamespace(ctx, "ns")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "b sees the bump", func() bool {
		v, err := b.inv.NamespaceVersion(ctx, "ns")
		return err == nil && v == v2
	})
	readAll("after the bump", func(int) string { return "mid" })

	// A tag invalidation of the even rows: their "mid" is invalid.
	var tags []string
	for i, id := range ids {
		if i%2 == 0 {
			src.Put(id, "new")
			tags = append(tags, "row:"+id)
		}
	}
	if err := a.inv.InvalidateTags(ctx, tags...); err != nil {
		t.Fatal(err)
	}
	after := func(i int) string {
		if i%2 == 0 {
			return "new"
		}
		return "mid"
	}
	// a knows at once; b when the bus brings the event (or within
	// MaxStaleness), which a busy machine can make later than b's next
	// read.
	eventually(t, 5*time.Second, "b drops the entries of the invalidated tags", func() bool {
		for i, id := range ids {
			if i%2 == 0 && b.get(t, id) != "new" {
				return false
			}
		}
		return true
	})
	readAll("after the tag invalidation", after)
	// b reads nothing more before the restart: its memory tier keeps what
	// it had, and only the bus (it reconnects, and flushes) or the tag
	// check can keep it from serving it.

	recB := b.bus.Stats().Reconnects
	recA := a.bus.Stats().Reconnects
	srv.Kill()
	srv.Restart()
	if n := admin.DBSize(ctx).Val(); n != 0 {
		t.Fatalf("the restarted Redis holds %d keys; want it empty", n)
	}
	eventually(t, 15*time.Second, "both buses subscribe again after the restart", func() bool {
		return a.bus.Stats().Reconnects > recA && b.bus.Stats().Reconnects > recB
	})
	time.Sleep(2 * stale) // the local copies of versions and stamps lapse
	readAll("after the restart", after)

	v3, err := b.inv.NamespaceVersion(ctx, "ns")
	if err != nil {
		t.Fatal(err)
	}
	if v3 <= v2 || v3 == v1 {
		t.Fatalf("namespace version after the restart = %d; want above %d (before the restart), never %d again", v3, v2, v1)
	}
	// The caches refilled: every key is back in Redis, under the new
	// version.
	for _, id := range ids {
		if admin.Exists(ctx, a.aside.Key(id)).Val() != 1 {
			t.Fatalf("%s is not back in Redis under %q", id, a.aside.Key(id))
		}
	}
	// Invalidation works after the restart too.
	for _, id := range ids {
		src.Put(id, "newest")
	}
	if _, err := b.inv.BumpNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a sees the bump after the restart", func() bool {
		return a.get(t, ids[0]) == "newest"
	})
	readAll("after a bump after the restart", func(int) string { return "newest" })
	t.Logf("namespace versions: %d, bumped %d, after the restart %d; bus reconnects a=%d b=%d",
		v1, v2, v3, a.bus.Stats().Reconnects, b.bus.Stats().Reconnects)
}

// Without a bus an instance learns of a tag invalidation by reading the
// tag's stamp again (within MaxStaleness). The stamps are lost with a
// restart: an entry invalidated before it must still not be served after
// it.
func TestRestartEmptyKeepsTagInvalidationsWithoutBus(t *testing.T) {
	// With a Namespace the restart also moves the namespace's version on,
	// which hides what the tag check does: test both.
	for _, plain := range []bool{false, true} {
		t.Run(map[bool]string{false: "namespaced", true: "tags-only"}[plain], func(t *testing.T) {
			restartTagsWithoutBus(t, plain)
		})
	}
}

func restartTagsWithoutBus(t *testing.T, plain bool) {
	srv := startRedis(t)
	src := newMemStore[string]()
	channel := fmt.Sprintf("restart-nobus-%d", time.Now().UnixNano())
	stale := 200 * time.Millisecond
	a := newNode(t, srv.Addr(), nodeOptions{name: "a", channel: channel, maxStaleness: stale, plain: plain}, src)
	c := newNode(t, srv.Addr(), nodeOptions{name: "c", channel: channel, maxStaleness: stale, plain: plain}, src)
	src.Put("control", "old")
	src.Put("k", "old")
	for _, id := range []string{"control", "k"} {
		if v := c.get(t, id); v != "old" {
			t.Fatalf("warm-up Get(%s) = %q", id, v)
		}
	}
	src.Put("control", "new")
	src.Put("k", "new")
	if err := a.inv.InvalidateTags(context.Background(), "row:control", "row:k"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * stale)
	if v := c.get(t, "control"); v != "new" {
		t.Fatalf("before any restart, c serves %q after the invalidation and MaxStaleness; want new", v)
	}
	srv.Kill()
	srv.Restart()
	eventually(t, 10*time.Second, "c reaches the restarted Redis", func() bool {
		return c.client.Ping(context.Background()).Err() == nil
	})
	time.Sleep(2 * stale)
	if v := c.get(t, "k"); v != "new" {
		t.Fatalf("after the restart, c serves %q for k, invalidated (tag row:k) before the restart; want new: "+
			"the lost tag stamp reads as 0, so the entry loaded before the invalidation looks valid again", v)
	}
}
