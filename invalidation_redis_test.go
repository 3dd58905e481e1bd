package hoard_test

import (
	"context"
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

// The lost-message proof on real Redis, end to end: B's subscriber
// connection is killed, a value changes while B cannot hear of it, and
// once B's bus has reconnected (and flushed), B serves no stale value.
func TestRedisBusReconnectLeavesNothingStale(t *testing.T) {
	admin := redistest.Real(t)
	name := uniqueName("bus-e2e")
	channel := name + ":inv"
	type node struct {
		aside *hoard.Aside[string]
		bus   *hoardredis.Bus
	}
	addr := admin.Options().Addr
	newNode := func(clientName string) node {
		client := goredis.NewClient(&goredis.Options{Addr: addr, ClientName: clientName})
		t.Cleanup(func() { _ = client.Close() })
		bus, err := hoardredis.NewBus(client, &hoardredis.BusOptions{Channel: channel, PingInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bus.Close(context.Background()) })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := bus.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		mem, _ := memory.New[string](nil)
		t.Cleanup(func() { _ = mem.Close() })
		shared, _ := hoardredis.New[string](client, nil)
		a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: name, Memory: mem, Shared: shared, Bus: bus, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close(context.Background()) })
		return node{a, bus}
	}
	a, b := newNode(name+"-a"), newNode(name+"-b")
	ctx := context.Background()
	src := &counting{}
	src.value.Store("old")
	if v, _ := b.aside.Get(ctx, "1", src); v != "old" {
		t.Fatalf("B warm-up = %q", v)
	}
	// A handler subscribed after B's aside runs after it for every
	// message: when it sees the flush (or the key's own event), B's memory
	// tier has applied it.
	applied := make(chan struct{}, 1)
	b.bus.Subscribe(func(events []hoard.Invalidation) {
		for _, ev := range events {
			if ev.Kind == hoard.InvalidateAll || ev.Kind == hoard.InvalidateKey {
				select {
				case applied <- struct{}{}:
				default:
				}
			}
		}
	})
	// Kill B's subscriber connection only: the server is shared with
	// other tests running in parallel.
	killed := killPubSubOf(t, admin, name+"-b")
	src.value.Store("new")
	if err := a.aside.Delete(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-applied:
	case <-time.After(10 * time.Second):
		t.Fatalf("B's bus delivered neither a flush nor the key's event after its connection was killed: %+v", b.bus.Stats())
	}
	// The message lost with the connection can only have come back as a
	// flush: B's bus must have flushed.
	for deadline := time.Now().Add(10 * time.Second); b.bus.Stats().Flushes == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("B's bus did not flush after its connection was killed: %+v", b.bus.Stats())
		}
	}
	if v, _ := b.aside.Get(ctx, "1", src); v != "new" {
		t.Fatalf("B after its bus recovered = %q; want new", v)
	}
	if killed == 0 {
		t.Fatal("no subscriber connection of B was found to kill")
	}
}

// killPubSubOf kills the pub/sub connections of the clients named name and
// returns how many it killed.
func killPubSubOf(t *testing.T, admin *goredis.Client, name string) int {
	t.Helper()
	ctx := context.Background()
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		if fields["name"] != name || fields["cmd"] == "client|list" || (fields["sub"] == "0" && fields["psub"] == "0" && fields["ssub"] == "0") {
			continue
		}
		id, _ := strconv.ParseInt(fields["id"], 10, 64)
		if err := admin.ClientKillByFilter(ctx, "ID", strconv.FormatInt(id, 10)).Err(); err != nil {
			t.Fatalf("CLIENT KILL ID %d: %v", id, err)
		}
		killed++
	}
	return killed
}
