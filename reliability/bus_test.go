package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// Scenario 4: the invalidation bus loses messages: the subscriber is cut
// off (CLIENT KILL TYPE pubsub; the connection reset or refused through a
// proxy), a sender's messages are dropped (its PUBLISH fails: a sequence
// gap), or the bus's queue to the handlers is full. The bus must notice
// and flush the memory tier, so that no instance serves a stale value once
// it has recovered. Each instance keeps values for an hour in memory: only
// the bus can make them drop an old one.
func TestBusLosesNothingStale(t *testing.T) {
	srv := startRedis(t)
	admin := srv.Client(t)
	cases := []struct {
		name               string
		readerHandlerQueue int
		readerViaProxy     bool
		writerBusViaProxy  bool
		// cut runs between the reader's warm-up and the writes; heal
		// after them.
		cut, heal func(t *testing.T, c *busCase)
		// check says what the bus must have seen.
		check func(t *testing.T, s hoardredis.BusStats)
	}{
		{
			name: "client-kill-pubsub",
			cut: func(t *testing.T, c *busCase) {
				if n, err := clientKill(context.Background(), admin, "pubsub"); err != nil || n == 0 {
					t.Fatalf("CLIENT KILL TYPE pubsub = %d, %v", n, err)
				}
			},
			heal:  func(*testing.T, *busCase) {},
			check: func(t *testing.T, s hoardredis.BusStats) { atLeast(t, "reconnects", s.Reconnects, 1) },
		},
		{
			name:           "reader-reset",
			readerViaProxy: true,
			cut: func(t *testing.T, c *busCase) {
				// Downstream: the subscriber is reset as a message reaches it.
				c.readerProxy.Toxic("reset_peer", "downstream", map[string]any{"timeout": 0})
			},
			heal:  func(t *testing.T, c *busCase) { c.readerProxy.Heal() },
			check: func(t *testing.T, s hoardredis.BusStats) { atLeast(t, "reconnects", s.Reconnects, 1) },
		},
		{
			name:           "reader-down",
			readerViaProxy: true,
			cut:            func(t *testing.T, c *busCase) { c.readerProxy.Down() },
			heal:           func(t *testing.T, c *busCase) { c.readerProxy.Up() },
			check:          func(t *testing.T, s hoardredis.BusStats) { atLeast(t, "reconnects", s.Reconnects, 1) },
		},
		{
			name:              "writer-messages-dropped",
			writerBusViaProxy: true,
			cut: func(t *testing.T, c *busCase) {
				c.publishErrors = c.writer.bus.Stats().PublishErrors
				c.writerProxy.Down()
			},
			heal: func(t *testing.T, c *busCase) {
				// Up only once a PUBLISH has failed: the events it
				// carried are lost (the publisher would otherwise send
				// them, late but whole, once the proxy is back).
				eventually(t, 10*time.Second, "a PUBLISH of the writer fails", func() bool {
					return c.writer.bus.Stats().PublishErrors > c.publishErrors
				})
				c.writerProxy.Up()
			},
			check: func(t *testing.T, s hoardredis.BusStats) { atLeast(t, "gaps", s.Gaps, 1) },
		},
		{
			name:               "handler-queue-full",
			readerHandlerQueue: 2,
			cut: func(t *testing.T, c *busCase) {
				c.slow.Store(true)
			},
			heal: func(t *testing.T, c *busCase) { c.slow.Store(false) },
			check: func(t *testing.T, s hoardredis.BusStats) {
				atLeast(t, "dropped", s.Dropped, 1)
				atLeast(t, "flushes", s.Flushes, 1)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &busCase{}
			channel := fmt.Sprintf("bus-%s-%d", tc.name, time.Now().UnixNano())
			src := newMemStore[string]()
			readerAddr, writerBusAddr := srv.Addr(), ""
			if tc.readerViaProxy {
				c.readerProxy = newFaultProxy(t, srv.Addr())
				readerAddr = c.readerProxy.Addr()
			}
			if tc.writerBusViaProxy {
				c.writerProxy = newFaultProxy(t, srv.Addr())
				writerBusAddr = c.writerProxy.Addr()
			}
			opts := instanceOptions{channel: channel, ttl: time.Hour, memoryTTL: time.Hour, store: src}
			wo := opts
			wo.name, wo.cacheAddr, wo.busAddr = "writer", srv.Addr(), writerBusAddr
			ro := opts
			ro.name, ro.cacheAddr, ro.handlerQueue = "reader", readerAddr, tc.readerHandlerQueue
			writer, reader := newInstance(t, wo), newInstance(t, ro)
			c.writer = writer
			reader.bus.Subscribe(func([]hoard.Invalidation) {
				if c.slow.Load() {
					time.Sleep(20 * time.Millisecond)
				}
			})
			busRoundsRun(t, c, writer, reader, src, tc.cut, tc.heal)
			tc.check(t, reader.bus.Stats())
			t.Logf("reader's bus: %+v", reader.bus.Stats())
		})
	}
}

// busCase is the state a case's cut and heal work on.
type busCase struct {
	readerProxy, writerProxy *faultProxy
	slow                     atomic.Bool // the reader's extra handler is slow
	writer                   *instance
	publishErrors            uint64 // the writer's, when the cut began
}

const (
	busKeys       = 30
	busRoundCount = 3
	// busPutTimeout bounds each write. It bounds the whole write, not
	// only its publish: a write cut short before Redis has the new value
	// may leave the old one there for the TTL (an hour here), as its
	// ErrCacheFailed says, and the reader then rightly serves it. So not
	// short, for 30 writes at once on a busy machine (300ms was, for the
	// case whose publishes fail).
	busPutTimeout = 2 * time.Second
)

// busRoundsRun warms the reader, cuts, writes every key through the writer,
// heals, and checks (after a marker shows the bus has caught up) that the
// reader serves the new value of every key.
func busRoundsRun(t *testing.T, c *busCase, writer, reader *instance, src *memStore[string], cut, heal func(*testing.T, *busCase)) {
	ctx := context.Background()
	for i := range busKeys {
		id := fmt.Sprint(i)
		if err := writer.wt.Put(ctx, id, id+"@0"); err != nil {
			t.Fatal(err)
		}
	}
	stale := 0
	for round := 1; round <= busRoundCount; round++ {
		for i := range busKeys { // warm: the reader's memory tier has every key
			id := fmt.Sprint(i)
			want, _, _ := src.Row(id)
			if v, err := reader.aside.Get(ctx, id, src); err != nil || v != want {
				t.Fatalf("round %d warm-up Get(%s) = %q, %v; want %q", round, id, v, err, want)
			}
		}
		cut(t, c)
		var wg sync.WaitGroup
		for i := range busKeys { // at once: a write whose publish fails waits for it to fail, or busPutTimeout
			wg.Go(func() {
				id := fmt.Sprint(i)
				wctx, cancel := context.WithTimeout(ctx, busPutTimeout)
				defer cancel()
				// Telling the others may fail (the writer's bus is cut):
				// the store and Redis have the value, which is what
				// matters.
				if err := writer.wt.Put(wctx, id, fmt.Sprintf("%s@%d", id, round)); err != nil && !errors.Is(err, hoard.ErrCacheFailed) {
					t.Errorf("round %d Put(%s): %v", round, id, err)
				}
			})
		}
		wg.Wait()
		heal(t, c)
		syncBus(t, writer, []*instance{reader}, 15*time.Second)
		for i := range busKeys {
			id := fmt.Sprint(i)
			want, _, _ := src.Row(id)
			v, err := reader.aside.Get(ctx, id, src)
			if err != nil || v != want {
				stale++
				t.Errorf("round %d: the reader serves %q, %v for %s after the bus recovered; the store has %q", round, v, err, id, want)
			}
		}
	}
	t.Logf("%d rounds × %d keys written while the bus was cut; stale reads after recovery: %d", busRoundCount, busKeys, stale)
}

func atLeast(t *testing.T, what string, got, want uint64) {
	t.Helper()
	if got < want {
		t.Errorf("the reader's bus counted %d %s; want at least %d", got, what, want)
	}
}
