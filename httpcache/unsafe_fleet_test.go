package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/httpcache"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// TestUnsafeInvalidatesEveryInstance: a PUT through one instance drops the
// page from the memory tier of the other too (two tiers each, one Redis,
// a bus), for a key without variants (Aside.Delete, sent over the bus) and
// one with (the URI's tag, the stamp in Redis and the bus).
func TestUnsafeInvalidatesEveryInstance(t *testing.T) {
	clients := map[string]func(t *testing.T) goredis.UniversalClient{
		"miniredis": func(t *testing.T) goredis.UniversalClient { _, c := redistest.Miniredis(t); return c },
	}
	if os.Getenv(redistest.EnvAddr) != "" {
		clients["redis"] = func(t *testing.T) goredis.UniversalClient { return redistest.Real(t) }
	}
	for backend, client := range clients {
		for _, key := range []httpcache.Key{{}, {Query: []string{"page"}}} {
			t.Run(fmt.Sprintf("%s/variants=%v", backend, key.Query != nil), func(t *testing.T) {
				c := client(t)
				name := uniqueName()
				v := &versioned{}
				a := newInstance(t, c, name, key, v)
				b := newInstance(t, c, name, key, v)
				warm(t, a, "/doc?page=1")
				warm(t, b, "/doc?page=1")
				do(t, a, request(http.MethodPut, "/doc")).expect(t, http.StatusOK, "BYPASS")
				want := fmt.Sprintf(" v%d", v.version.Load())
				if res := get(t, a, "/doc?page=1"); !strings.HasSuffix(res.body, want) {
					t.Errorf("instance a after its PUT: %q, want %q", res.body, want)
				}
				// The other instance hears of it over the bus.
				deadline := time.Now().Add(5 * time.Second)
				for !strings.HasSuffix(get(t, b, "/doc?page=1").body, want) {
					if time.Now().After(deadline) {
						t.Fatalf("instance b still serves the old page 5s after the PUT")
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
		}
	}
}

// newInstance is one instance's page cache: a memory tier in front of
// Redis, a bus, an invalidator, with the cache's name shared by the fleet.
func newInstance(t *testing.T, client goredis.UniversalClient, name string, key httpcache.Key, h http.Handler) http.Handler {
	t.Helper()
	ctx := context.Background()
	bus, err := hoardredis.NewBus(client, &hoardredis.BusOptions{Channel: name + ":bus"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close(ctx) })
	readyCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := bus.Ready(readyCtx); err != nil {
		t.Fatal(err)
	}
	// The fleet's own tag clock, under its name like the rest of its keys.
	shared, err := hoardredis.New[*httpcache.Response](client, &hoardredis.Options{TagPrefix: name + ":{tags}"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redistest.DeleteUnder(t, client, name) })
	inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: shared, TagClock: shared, Bus: bus, NamespacePrefix: name + ":ns:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inv.Close() })
	mem, err := memory.New[*httpcache.Response](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	return newCache(t, httpcache.Options{Key: key, Aside: hoard.AsideOptions[*httpcache.Response]{
		Name: name, Memory: mem, Shared: shared, Bus: bus, Invalidator: inv, TTL: time.Minute,
	}}).Middleware(h)
}
