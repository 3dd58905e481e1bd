package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/stores/postgres"
)

// Issue 18, item 5: a cache outage never blocks a write to the store. Three
// instances write through to one store while Redis (behind toxiproxy) is
// up for 1 s, down for 5 s (connection refused), and up again. Writes of a
// key are sequential but move from instance to instance, so right after a
// write returns the store must hold it: a write refused for its version (or
// not made) would show. Two ways of versioning, each the default for its
// store:
//
//   - store versions: the store picks them (PostgreSQL at
//     $HOARD_POSTGRES_URL, whose upsert sets greatest(version + 1, floor);
//     else an in-memory store that does the same);
//   - hybrid clock: the store takes versions from the writer (the same
//     store, its own versions hidden), so the HybridVersioner hands them out
//     from Redis counters, and from the clock while Redis is down.
//
// Must hold: no Put fails with ErrStoreFailed; during the outage each Put
// reaches the store and says ErrCacheFailed; every write is in the store
// right after it returns, during the outage and after it. After recovery,
// once every instance's bus is subscribed again (an instance whose
// subscription is still being made hears no invalidation: its memory tier
// is bounded by the bus's MaxStaleness flushes, not by the writes), a
// write of each key is cached again, and then every instance reads every
// key as the store holds it (0 stale reads); with the hybrid clock, the
// versions come from the Redis counters again.
func TestWriteThroughRedisDownReachesStore(t *testing.T) {
	srv := startRedis(t)
	for _, mode := range []string{"store versions", "hybrid clock"} {
		t.Run(mode, func(t *testing.T) {
			opts := append([]goleak.Option{goleak.IgnoreCurrent()}, leakOptions...)
			t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
			store, desc := soakStore(t)
			if mode == "store versions" {
				if ms, ok := store.(*memStore[string]); ok {
					store = versionedMemStore{ms}
				}
			} else {
				store = storeOnly{store}
			}
			_, own := store.(hoard.VersioningStore[string])
			t.Logf("store: %s; versions from the store: %v", desc, own)
			versionOutageRun(t, srv, store, mode == "hybrid clock")
		})
	}
}

// The phases of the outage run.
const (
	verKeys    = 30
	verWriters = 6 // each owns verKeys/verWriters keys, and writes them in turn
	verUp      = time.Second
	verDown    = 5 * time.Second
)

// verOutcome is what one write-through did, by phase.
type verOutcome struct {
	phase    string // "up", "down", "back"
	err      error
	inStore  bool // the store held the write right after it returned
	duration time.Duration
	end      time.Time
}

func versionOutageRun(t *testing.T, srv *redisServer, store hoard.Store[string], hybrid bool) {
	ctx := context.Background()
	proxy := newFaultProxy(t, srv.Addr())
	admin := srv.Client(t)
	channel := fmt.Sprintf("ver-%d", time.Now().UnixNano())
	var nodes []*instance
	for i := range 3 {
		nodes = append(nodes, newInstance(t, instanceOptions{
			name: fmt.Sprintf("%s-%d", channel, i), channel: channel, cacheAddr: proxy.Addr(),
			ttl: time.Minute, memoryTTL: time.Minute, store: store,
		}))
	}
	key := func(k int) string { return "k" + strconv.Itoa(k) }

	var mu sync.Mutex
	phase := "up"
	var outcomes []verOutcome
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range verWriters {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := key(w + verWriters*(n%(verKeys/verWriters)))
				node := nodes[n%len(nodes)]
				value := fmt.Sprintf("%s-w%d-%d", node.name, w, n)
				del := n%10 == 9
				mu.Lock()
				p := phase
				mu.Unlock()
				wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				start := time.Now()
				var err error
				if del {
					err = node.wt.Delete(wctx, id)
				} else {
					err = node.wt.Put(wctx, id, value)
				}
				d := time.Since(start)
				cancel()
				got, _, present := storeRow(t, store, id)
				in := present == !del && (del || got == value)
				mu.Lock()
				outcomes = append(outcomes, verOutcome{phase: p, err: err, inStore: in, duration: d, end: start.Add(d)})
				mu.Unlock()
			}
		})
	}
	setPhase := func(p string) {
		mu.Lock()
		defer mu.Unlock()
		phase = p
	}
	// A write is of the phase in which it started: a write of "up" may
	// meet the outage, one of "down" started once Redis was unreachable.
	time.Sleep(verUp) // the load runs with Redis up
	proxy.Down()
	setPhase("down")
	time.Sleep(verDown) // the outage lasts verDown
	proxy.Up()
	upAt := time.Now()
	setPhase("back")
	// The writers go on until one write has been cached again, so some
	// writes of the back phase meet the recovering Redis.
	eventually(t, 15*time.Second, "a write-through is cached again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range outcomes {
			if o.phase == "back" && o.err == nil {
				return true
			}
		}
		return false
	})
	close(stop)
	waitOrDump(t, &wg, 30*time.Second)

	// What the writes did, by phase.
	for _, p := range []string{"up", "down", "back"} {
		var n, stored, cacheFailed, storeFailed, other, endedDown, cleanDown int
		var durations []time.Duration
		for _, o := range outcomes {
			if o.phase != p {
				continue
			}
			n++
			durations = append(durations, o.duration)
			if o.inStore {
				stored++
			}
			if p == "down" && o.end.Before(upAt) {
				endedDown++
				if errors.Is(o.err, hoard.ErrCacheFailed) && !errors.Is(o.err, hoard.ErrStoreFailed) {
					cleanDown++
				}
			}
			switch {
			case o.err == nil:
			case errors.Is(o.err, hoard.ErrStoreFailed):
				storeFailed++
				t.Errorf("%s: a write failed in the store: %v", p, o.err)
			case errors.Is(o.err, hoard.ErrCacheFailed):
				cacheFailed++
			default:
				other++
				t.Errorf("%s: a write failed with neither ErrCacheFailed nor ErrStoreFailed: %v", p, o.err)
			}
		}
		slices.Sort(durations)
		var p50, worst time.Duration
		if len(durations) > 0 {
			p50, worst = durations[len(durations)/2], durations[len(durations)-1]
		}
		t.Logf("Redis %s: %d writes, %d in the store right after, %d ErrCacheFailed, %d ErrStoreFailed, %d other; duration p50 %v, max %v",
			p, n, stored, cacheFailed, storeFailed, other, p50.Round(time.Millisecond), worst.Round(time.Millisecond))
		if n == 0 {
			t.Errorf("no write while Redis was %s", p)
		}
		if stored != n {
			t.Errorf("Redis %s: %d of %d writes were not in the store right after they returned (refused for their version, or lost)", p, n-stored, n)
		}
		// A write that started in the outage and ended after it may have
		// invalidated the key once Redis was back, and return nil.
		if p == "down" && (endedDown == 0 || cleanDown != endedDown) {
			t.Errorf("Redis down: %d of the %d writes that ended during the outage said ErrCacheFailed; want all, and some", cleanDown, endedDown)
		}
	}

	// Before any new write: the invalidations that failed during the
	// outage leave Redis with older values (replaying them is item 3's
	// auto-recovery); measured, not asserted here.
	syncAllBuses(t, nodes, 15*time.Second)
	stale := countStale(t, nodes, store, verKeys, key)
	t.Logf("stale reads after recovery, before the keys are written again: %d of %d", stale, verKeys*len(nodes))

	// One write of each key after recovery is cached again (nil error),
	// and with the hybrid clock its version is the Redis counter's, which
	// has passed the versions taken from the clocks during the outage.
	for k := range verKeys {
		id := key(k)
		node := nodes[k%len(nodes)]
		eventually(t, 15*time.Second, "a write of "+id+" after recovery is stored and cached", func() bool {
			v := "final-" + id
			if err := node.wt.Put(ctx, id, v); err != nil {
				return false
			}
			got, version, _ := storeRow(t, store, id)
			if got != v {
				t.Fatalf("after recovery the store holds %q for %s, not the write %q", got, id, v)
			}
			if !hybrid {
				return true
			}
			counter, err := admin.Get(ctx, node.aside.Key("%version")+":"+id).Uint64()
			return err == nil && counter == version
		})
	}
	syncAllBuses(t, nodes, 15*time.Second)
	if stale := countStale(t, nodes, store, verKeys, key); stale != 0 {
		t.Fatalf("%d stale reads after the keys were written again; want 0", stale)
	}
}

// countStale reads every key on every instance and counts the reads that
// differ from the store.
func countStale(t *testing.T, nodes []*instance, store hoard.Store[string], keys int, key func(int) string) int {
	t.Helper()
	stale := 0
	for _, n := range nodes {
		for k := range keys {
			id := key(k)
			want, _, present := storeRow(t, store, id)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			got, err := n.aside.Get(ctx, id, store)
			cancel()
			switch {
			case err != nil && !errors.Is(err, hoard.ErrNotFound):
				t.Fatalf("%s: Get(%s): %v", n.name, id, err)
			case present != (err == nil) || got != want:
				stale++
			}
		}
	}
	return stale
}

// storeRow returns id's row in the store: value, version, present.
func storeRow(t *testing.T, store hoard.Store[string], id string) (string, uint64, bool) {
	t.Helper()
	switch s := store.(type) {
	case storeOnly:
		return storeRow(t, s.Store, id)
	case versionedMemStore:
		return s.Row(id)
	case *memStore[string]:
		return s.Row(id)
	case *postgres.Store[string]:
		v, version, err := s.LoadVersion(context.Background(), id)
		if errors.Is(err, hoard.ErrNotFound) {
			return "", 0, false
		}
		if err != nil {
			t.Errorf("reading %s: %v", id, err) // not Fatal: the writers call it
		}
		return v, version, err == nil
	}
	t.Errorf("storeRow: unknown store %T", store)
	return "", 0, false
}

// storeOnly hides any ability of a store but hoard.Store's: with it, the
// versions come from the writer's Versioner.
type storeOnly struct{ hoard.Store[string] }

// versionedMemStore is a memStore that picks the versions itself, as
// stores/postgres does: greatest(row's + 1, floor).
type versionedMemStore struct{ *memStore[string] }

var _ hoard.VersioningStore[string] = versionedMemStore{}

func (s versionedMemStore) SaveNext(ctx context.Context, id, v string, floor uint64) (uint64, error) {
	return s.next(ctx, id, memRow[string]{v: v}, floor)
}

func (s versionedMemStore) DeleteNext(ctx context.Context, id string, floor uint64) (uint64, error) {
	return s.next(ctx, id, memRow[string]{deleted: true}, floor)
}

func (s versionedMemStore) next(ctx context.Context, id string, r memRow[string], floor uint64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.version = max(s.rows[id].version+1, floor)
	s.rows[id] = r
	return r.version, nil
}
