package hoardredis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// trackedInstance is one instance of a tracking service: its Aside of
// "users", the memory tier behind it, and what its tracker delivers.
type trackedInstance struct {
	svc    *hoardredis.Service
	users  *hoard.Aside[string]
	mem    *memory.Cache[string]
	events chan hoard.Invalidation
}

// trackedInstances starts n instances of the application app with
// Tracking on, on client.
func trackedInstances(t testing.TB, client goredis.UniversalClient, app string, n int) []*trackedInstance {
	t.Helper()
	ctx := context.Background()
	out := make([]*trackedInstance, n)
	for i := range out {
		svc, err := hoardredis.NewService(ctx, client, app, &hoardredis.ServiceOptions{Tracking: true})
		if err != nil {
			t.Fatal(err)
		}
		mem, err := memory.New(&memory.Options[string]{MaxEntries: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := svc.Close(ctx); err != nil {
				t.Error(err)
			}
			_ = mem.Close()
		})
		users, err := hoardredis.NewAside(svc, "users", &hoard.AsideOptions[string]{Memory: mem, TTL: time.Minute, MemoryTTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = &trackedInstance{svc: svc, users: users, mem: mem, events: trackerEvents(t, svc.Tracker())}
	}
	return out
}

// randomApp returns an application name no other run uses.
func randomApp(t testing.TB) string {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	return "trk" + hex.EncodeToString(r[:])
}

// barrier writes a key under the application's prefix and waits until
// every instance's tracker reported it: every write made before on the
// same master was reported too.
func barrier(t testing.TB, other goredis.Cmdable, app string, ins []*trackedInstance, n int) {
	t.Helper()
	key := app + ":barrier:" + strconv.Itoa(n)
	if err := other.Set(context.Background(), key, "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		waitEvent(t, in.events, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: key})
	}
}

// inMemory reports whether in's memory tier holds key.
func (in *trackedInstance) inMemory(t testing.TB, key string) bool {
	_, err := in.mem.Get(context.Background(), key)
	if err != nil && !errors.Is(err, hoard.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestTrackingDropsOutsideWritesFromEveryInstance: a SET or DEL, by a
// plain client that is not hoard's (redis-cli's stand-in), of a key that
// three instances hold in memory drops it from all three. It states the
// time from sending the write until the last of them dropped it, and how
// often an instance's own load loses its memory copy to the tracking
// report of its own shared-tier write.
func TestTrackingDropsOutsideWritesFromEveryInstance(t *testing.T) {
	client := redistest.Real(t)
	app := randomApp(t)
	t.Cleanup(func() { redistest.DeleteUnder(t, client, app+":") })
	ins := trackedInstances(t, client, app, 3)
	other := goredis.NewClient(&goredis.Options{Addr: client.Options().Addr})
	defer other.Close()
	kb, err := hoard.NewKeyBuilder(app+":users", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	load := hoard.LoaderFunc[string](func(_ context.Context, id string) (string, error) { return "row " + id, nil })

	const rounds = 200
	var lat []time.Duration
	ownEvicted := 0
	for i := range rounds {
		id := "u" + strconv.Itoa(i)
		key := kb.Key(id)
		if _, err := ins[0].users.Get(ctx, id, load); err != nil {
			t.Fatal(err)
		}
		barrier(t, other, app, ins, 2*i)
		if !ins[0].inMemory(t, key) {
			ownEvicted++ // the report of its own SET came after its memory write-back
		}
		for _, in := range ins {
			if _, err := in.users.Get(ctx, id, load); err != nil { // a shared hit: fills memory, writes no Redis key
				t.Fatal(err)
			}
		}
		barrier(t, other, app, ins, 2*i+1)
		for j, in := range ins {
			if !in.inMemory(t, key) {
				t.Fatalf("round %d: instance %d does not hold %q in memory after a shared hit", i, j, key)
			}
		}
		start := time.Now()
		if i%2 == 0 {
			err = other.Set(ctx, key, "changed by hand", 0).Err()
		} else {
			err = other.Del(ctx, key).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
		// Each instance's Aside subscribed before the test: its handler
		// has deleted the key when the test's handler hears of it.
		for j, in := range ins {
			waitEvent(t, in.events, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: key})
			if in.inMemory(t, key) {
				t.Fatalf("round %d: instance %d holds %q in memory after the report of its write", i, j, key)
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("outside SET/DEL → dropped from 3 memory tiers, %d rounds: p50 %v, p99 %v, max %v",
		rounds, pct(0.50), pct(0.99), lat[len(lat)-1])
	t.Logf("own load's memory copy evicted by the report of its own SET: %d of %d loads", ownEvicted, rounds)
}

// TestTrackingRefusesAFillOverlappedByAWrite: a load that read the shared
// tier before an outside write of the key, and whose tracker reported the
// write before the load wrote back to memory, leaves nothing in memory:
// the report's memory delete breaks the token the load took before its
// shared read, so its compare-and-set write-back is refused. Without the
// write in between (the control), the same read fills memory.
func TestTrackingRefusesAFillOverlappedByAWrite(t *testing.T) {
	client := redistest.Real(t)
	app := randomApp(t)
	t.Cleanup(func() { redistest.DeleteUnder(t, client, app+":") })
	writer := trackedInstances(t, client, app, 1)[0]
	other := goredis.NewClient(&goredis.Options{Addr: client.Options().Addr})
	defer other.Close()
	ctx := context.Background()
	load := hoard.LoaderFunc[string](func(_ context.Context, id string) (string, error) { return "old " + id, nil })

	svc, err := hoardredis.NewService(ctx, client, app, &hoardredis.ServiceOptions{Tracking: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	mem, err := memory.New(&memory.Options[string]{MaxEntries: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	redisTier, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan hoard.Invalidation, 1024)
	shared := &thenCache{Cache: redisTier}
	users, err := hoardredis.NewAside(svc, "users", &hoard.AsideOptions[string]{Memory: mem, Shared: shared, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Tracker().Subscribe(func(evs []hoard.Invalidation) {
		for _, ev := range evs {
			events <- ev
		}
	}))
	reader := &trackedInstance{svc: svc, users: users, mem: mem, events: events}
	kb, err := hoard.NewKeyBuilder(app+":users", nil)
	if err != nil {
		t.Fatal(err)
	}

	for i, overlapped := range []bool{false, true} {
		id := strconv.Itoa(i)
		key := kb.Key(id)
		if _, err := writer.users.Get(ctx, id, load); err != nil { // the shared tier holds "old"
			t.Fatal(err)
		}
		barrier(t, other, app, []*trackedInstance{writer, reader}, i)
		if overlapped {
			shared.then = func() {
				if err := other.Del(ctx, key).Err(); err != nil {
					t.Error(err)
				}
				waitEvent(t, events, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: key})
			}
		}
		v, err := users.Get(ctx, id, load)
		shared.then = nil
		if err != nil || v != "old "+id {
			t.Fatalf("Get = %q, %v; want the shared tier's %q", v, err, "old "+id)
		}
		if got := reader.inMemory(t, key); got == overlapped {
			t.Errorf("overlapped by a write: %v; memory holds the key: %v, want %v", overlapped, got, !overlapped)
		}
	}
}

// thenCache is a Redis tier that runs then, when set, after a Get or
// GetWithToken returned and before its caller sees the result: a write
// made to order between a read of the shared tier and the memory
// write-back of what it found.
type thenCache struct {
	*hoardredis.Cache[string]
	then func()
}

func (c *thenCache) GetWithToken(ctx context.Context, key string) (hoard.Entry[string], hoard.Token, error) {
	e, tok, err := c.Cache.GetWithToken(ctx, key)
	if c.then != nil {
		c.then()
	}
	return e, tok, err
}

func (c *thenCache) Get(ctx context.Context, key string) (hoard.Entry[string], error) {
	e, err := c.Cache.Get(ctx, key)
	if c.then != nil {
		c.then()
	}
	return e, err
}

// TestTrackingKeepsTheBus: with Tracking on, an Aside still publishes on
// the service's bus (tags and namespaces travel there), and the service's
// own keys (its load locks) are not delivered as invalidations.
func TestTrackingKeepsTheBus(t *testing.T) {
	client := redistest.Real(t)
	app := randomApp(t)
	t.Cleanup(func() { redistest.DeleteUnder(t, client, app+":") })
	in := trackedInstances(t, client, app, 1)[0]
	ctx := context.Background()
	load := hoard.LoaderFunc[string](func(_ context.Context, id string) (string, error) { return "row " + id, nil })
	if _, err := in.users.Get(ctx, "1", load); err != nil { // takes a load lock under app:lock:
		t.Fatal(err)
	}
	before := in.svc.Bus().Stats().Published
	if err := in.users.Delete(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if got := in.svc.Bus().Stats().Published; got <= before {
		t.Errorf("bus published %d events before the Delete, %d after: want more", before, got)
	}
	kb, err := hoard.NewKeyBuilder(app+":users", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range waitEvent(t, in.events, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: kb.Key("1")}) {
		if ev.Kind == hoard.InvalidateKey && strings.HasPrefix(ev.Value, app+":lock:") {
			t.Errorf("a lock key was delivered: %q", ev.Value)
		}
	}
	if st := in.svc.Tracker().Stats(); st.Ignored == 0 {
		t.Errorf("tracker stats %+v: want the lock's writes ignored", st)
	}
}
