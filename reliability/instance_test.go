package reliability_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// instance is one instance of a service: a two-tier Aside with a bus and
// a write-through to the store, as the bus and soak scenarios run several.
type instance struct {
	name    string
	client  *goredis.Client // the cache's
	mem     *memory.Cache[string]
	bus     *hoardredis.Bus
	aside   *hoard.Aside[string]
	wt      *hoard.WriteThrough[string]
	markers *markers
}

// instanceOptions configure newInstance.
type instanceOptions struct {
	name, channel string
	cacheAddr     string // where the cache's client connects (a proxy, often)
	busAddr       string // where the bus's client connects; "": the cache's client
	ttl           time.Duration
	memoryTTL     time.Duration
	handlerQueue  int
	store         hoard.Store[string]
}

func newInstance(t testing.TB, o instanceOptions) *instance {
	t.Helper()
	in := &instance{name: o.name, client: newClient(t, o.cacheAddr, o.name), markers: newMarkers()}
	busClient := in.client
	if o.busAddr != "" {
		busClient = newClient(t, o.busAddr, o.name+"-bus")
	}
	var err error
	in.bus, err = hoardredis.NewBus(busClient, &hoardredis.BusOptions{
		Channel: o.channel, InstanceID: o.name, PingInterval: 100 * time.Millisecond,
		HandlerQueueSize: o.handlerQueue, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.bus.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.bus.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	shared, err := hoardredis.New[string](in.client, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.mem, err = memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.mem.Close() })
	in.aside, err = hoard.NewAside(&hoard.AsideOptions[string]{
		Name: o.channel, Memory: in.mem, Shared: shared, Bus: in.bus,
		TTL: o.ttl, MemoryTTL: o.memoryTTL, NegativeTTL: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.aside.Close(context.Background()) })
	// After the Aside's: when a marker arrives, the Aside has applied
	// everything that came before it.
	in.bus.Subscribe(in.markers.handle)
	in.wt, err = hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{
		Aside: in.aside, Store: o.store, InvalidateBackoff: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// markers records the marker events an instance's bus delivered: events
// of kind InvalidateKey whose value starts with "marker:".
type markers struct {
	mu   sync.Mutex
	seen map[string]bool // guarded by mu
}

func newMarkers() *markers { return &markers{seen: make(map[string]bool)} }

func (m *markers) handle(events []hoard.Invalidation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ev := range events {
		if ev.Kind == hoard.InvalidateKey && len(ev.Value) > 7 && ev.Value[:7] == "marker:" {
			m.seen[ev.Value] = true
		}
	}
}

func (m *markers) has(v string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[v]
}

var markerSeq atomic.Int64

// syncAllBuses is syncBus from every instance to all the others: it returns
// once each bus is subscribed and has received everything the others
// sent before the call (or a flush in its place). A marker from one
// instance says nothing of that instance's own subscription, which may
// still be waiting to be made again after an outage.
func syncAllBuses(t testing.TB, ins []*instance, d time.Duration) {
	t.Helper()
	for _, from := range ins {
		syncBus(t, from, ins, d)
	}
}

// syncBus returns once every instance in to has received everything from
// sent before the call, or a flush in its place: from publishes a marker
// (again every 100ms, as pub/sub may lose it) until each has it. Handlers
// run in order, so by then their Asides have applied what came before.
func syncBus(t testing.TB, from *instance, to []*instance, d time.Duration) {
	t.Helper()
	marker := fmt.Sprintf("marker:%d", markerSeq.Add(1))
	for deadline := time.Now().Add(d); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = from.bus.Publish(ctx, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: marker})
		cancel()
		for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			all := true
			for _, in := range to {
				all = all && (in == from || in.markers.has(marker)) // a bus does not hear itself
			}
			if all {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bus did not carry a marker from %s within %v", from.name, d)
		}
	}
}
