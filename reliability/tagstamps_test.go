package reliability_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// Issue 18, item 9: tag stamps age out. Two instances on the test's own
// redis-server, their tag clock keeping stamps 500ms
// (ServiceOptions.TagStampTTL) while their entries live an hour, in both
// tiers: a TTL far shorter than the entries' life, against the advice, so
// that stamps expire under live entries they invalidated. Half the rows
// change and their tags are invalidated; once every stamp has expired in
// Redis, no instance serves an old row, the clock holds no stamp, and the
// caches fill again and hit. The entries of the unchanged rows, older than
// the stamp TTL and tagged only with tags never stamped, read as
// invalidated once and are loaded again: the price of aging, counted.
func TestTagStampsAgeOutUnderLiveEntries(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	const app, rows, stampTTL = "tagage", 20, 500 * time.Millisecond
	var mu sync.Mutex
	source := make(map[string]string)
	var loads atomic.Int64
	load := hoard.LoaderFunc[string](func(_ context.Context, id string) (string, error) {
		loads.Add(1)
		mu.Lock()
		defer mu.Unlock()
		return source[id], nil
	})
	type inst struct {
		svc   *hoardredis.Service
		aside *hoard.Aside[string]
	}
	insts := make([]inst, 2)
	for i := range insts {
		client := newClient(t, srv.Addr(), fmt.Sprint("i", i))
		svc, err := hoardredis.NewService(ctx, client, app, &hoardredis.ServiceOptions{
			InstanceID: fmt.Sprint("i", i), TagStampTTL: stampTTL, MaxStaleness: 100 * time.Millisecond, Logger: quiet,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Close(context.Background()) })
		a, err := hoardredis.NewAside(svc, "rows", &hoard.AsideOptions[string]{
			TTL: time.Hour, NegativeTTL: -1,
			TagsOf: func(id, _ string) []string { return []string{"row:" + id} },
		})
		if err != nil {
			t.Fatal(err)
		}
		insts[i] = inst{svc, a}
	}
	id := func(n int) string { return fmt.Sprint(n) }
	for n := range rows {
		source[id(n)] = "v1"
	}
	readAll := func(what string) (stale int) {
		t.Helper()
		for n := range rows {
			mu.Lock()
			want := source[id(n)]
			mu.Unlock()
			for i, in := range insts {
				v, err := in.aside.Get(ctx, id(n), load)
				if err != nil || v != want {
					stale++
					t.Errorf("%s: instance %d serves row %d = %q, %v; the source has %q", what, i, n, v, err, want)
				}
			}
		}
		return stale
	}
	readAll("warm-up")
	warm := loads.Load()

	// The even rows change; instance 0 invalidates their tags.
	var tags []string
	mu.Lock()
	for n := 0; n < rows; n += 2 {
		source[id(n)] = "v2"
		tags = append(tags, "row:"+id(n))
	}
	mu.Unlock()
	if err := insts[0].svc.Invalidator().InvalidateTags(ctx, tags...); err != nil {
		t.Fatal(err)
	}
	admin := srv.Client(t)
	stampKey := func(tag string) string { return app + ":{" + app + ":tags}:tag:" + tag }
	if pttl := admin.PTTL(ctx, stampKey(tags[0])).Val(); pttl <= 0 || pttl > stampTTL {
		t.Fatalf("a stamp has the TTL %v, want (0, %v]", pttl, stampTTL)
	}
	expiredAt := time.Now()
	eventually(t, 10*time.Second, "every stamp expires in Redis", func() bool {
		for _, tag := range tags {
			if admin.Exists(ctx, stampKey(tag)).Val() == 1 {
				return false
			}
		}
		return true
	})
	waited := time.Since(expiredAt)
	// The instances kept no copy of the stamps: the bus's tag events
	// dropped those read at the warm-up, and none was read since.

	stale := readAll("after the stamps expired")
	reloads := loads.Load() - warm
	clockKeys := admin.Keys(ctx, app+":{"+app+":tags}:*").Val()
	if len(clockKeys) > 4 {
		t.Errorf("the tag clock holds %d keys: %v", len(clockKeys), clockKeys)
	}
	before := loads.Load()
	stale += readAll("again")
	if n := loads.Load() - before; n != 0 {
		t.Errorf("the caches did not fill again: %d loads on a second read of every row", n)
	}
	// A new invalidation works as before: at once on the instance that
	// made it, and on the other once its bus delivers it (or within
	// MaxStaleness).
	mu.Lock()
	source[id(1)] = "v3"
	mu.Unlock()
	if err := insts[1].svc.Invalidator().InvalidateTags(ctx, "row:1"); err != nil {
		t.Fatal(err)
	}
	if v, err := insts[1].aside.Get(ctx, id(1), load); err != nil || v != "v3" {
		t.Errorf("after a new invalidation the instance that made it serves %q, %v", v, err)
	}
	eventually(t, 5*time.Second, "the other instance serves the row invalidated anew", func() bool {
		v, err := insts[0].aside.Get(ctx, id(1), load)
		return err == nil && v == "v3"
	})
	t.Logf("stamps expired %v after the invalidation; stale reads after: %d; loads after: %d for %d rows on 2 instances (%d changed); tag clock keys left: %v",
		waited.Round(time.Millisecond), stale, reloads, rows, len(tags), clockKeys)
}
