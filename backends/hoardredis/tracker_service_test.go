package hoardredis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
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
func trackedInstances(t *testing.T, client goredis.UniversalClient, app string, n int) []*trackedInstance {
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
func randomApp(t *testing.T) string {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	return "trk" + hex.EncodeToString(r[:])
}

// barrier writes a key under the application's prefix and waits until
// every instance's tracker reported it: every write made before on the
// same master was reported too.
func barrier(t *testing.T, other goredis.Cmdable, app string, ins []*trackedInstance, n int) {
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
func (in *trackedInstance) inMemory(t *testing.T, key string) bool {
	_, err := in.mem.Get(context.Background(), key)
	if err != nil && !errors.Is(err, hoard.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestTrackingDropsOutsideWritesFromEveryInstance: a SET or DEL, by a
// plain client that is not hoard's (redis-cli's stand-in), of a key that
// three instances hold in memory drops it from all three. It states the
// time from the write's reply until the last of them dropped it, and how
// often an instance's own load loses its memory copy to the tracking
// report of its own shared-tier write.
func TestTrackingDropsOutsideWritesFromEveryInstance(t *testing.T) {
	client := redistest.Real(t)
	app := randomApp(t)
	t.Cleanup(func() { deleteUnder(t, client, app+":") })
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
		deadline := start.Add(10 * time.Second)
		for _, in := range ins {
			for in.inMemory(t, key) {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: %q still in memory 10s after the write", i, key)
				}
				time.Sleep(20 * time.Microsecond)
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
