package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/stores/postgres"
)

// Scenario 9: the soak. Several instances (each with its own connection to
// Redis through a proxy) read through their Asides and write through
// WriteThrough to the store (PostgreSQL at $HOARD_POSTGRES_URL, else an
// in-memory versioned store), while faults are injected at random:
// latency, resets, black holes, the proxy down and up, CLIENT KILL of
// normal and pub/sub connections. Checked:
//
//   - during the run, no read returns a value older than a write
//     acknowledged more than soakStaleBound before the read began (the
//     longest a cache may lag: the TTL, plus a load's deadline, plus slack);
//   - after quiescence, every instance agrees with the store on every key
//     (stale reads: 0), and the store holds, for every key, the last write
//     acknowledged (lost writes: 0);
//   - the heap and the goroutine count are flat between the start of the
//     steady state and the end.
//
// go test -run TestSoak -soak 10m . runs it for ten minutes.
func TestSoak(t *testing.T) {
	const (
		instances = 3
		keys      = 64
		readers   = 3 // per instance
		ttl       = 2 * time.Second
		opTimeout = time.Second
	)
	soakStaleBound := ttl + opTimeout + time.Second
	srv := startRedis(t)
	admin := srv.Client(t)
	store, dbName := soakStore(t)
	channel := fmt.Sprintf("soak-%d", time.Now().UnixNano())
	proxies := make([]*faultProxy, instances)
	insts := make([]*instance, instances)
	for i := range insts {
		proxies[i] = newFaultProxy(t, srv.Addr())
		insts[i] = newInstance(t, instanceOptions{
			name: fmt.Sprintf("i%d", i), channel: channel, cacheAddr: proxies[i].Addr(),
			ttl: ttl, memoryTTL: ttl / 2, store: store,
		})
	}
	ids := make([]string, keys)
	for k := range ids {
		ids[k] = fmt.Sprintf("k%02d", k)
	}
	h := newHistory(keys)
	var stats tally
	ctx := context.Background()

	// write writes key k's next value through instance in; the writer of
	// a key is always the same goroutine, so its values' order is their
	// versions' order.
	write := func(in *instance, k int) {
		seq := h.next(k)
		wctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		err := in.wt.Put(wctx, ids[k], fmt.Sprintf("%s@%d", ids[k], seq))
		switch {
		case err == nil:
			stats.add("writes acked", 1)
			h.acked(k, seq)
		case errors.Is(err, hoard.ErrCacheFailed): // stored; the cache lags (bounded by the TTL)
			stats.add("writes acked", 1)
			stats.add("writes acked, cache failed", 1)
			h.acked(k, seq)
		case errors.Is(err, hoard.ErrStoreFailed):
			stats.add("writes failed", 1)
		default:
			stats.add("writes unclear", 1)
			t.Errorf("Put(%s): an error that is not a hoard sentinel: %v", ids[k], err)
		}
	}
	read := func(in *instance, k int) {
		rctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		start := time.Now()
		v, err := in.aside.Get(rctx, ids[k], store)
		stats.add("reads", 1)
		switch {
		case err == nil:
			seq := valueSeq(v)
			if floor := h.ackedBefore(k, start.Add(-soakStaleBound)); seq < floor {
				stats.add("stale reads (during)", 1)
				t.Errorf("%s read %s = %q at %v; a write of seq %d was acknowledged more than %v before",
					in.name, ids[k], v, start.Format("15:04:05.000"), floor, soakStaleBound)
			}
		case errors.Is(err, hoard.ErrNotFound):
			if floor := h.ackedBefore(k, start.Add(-soakStaleBound)); floor > 0 {
				stats.add("stale reads (during)", 1)
				t.Errorf("%s read %s as not found; a write of seq %d was acknowledged more than %v before", in.name, ids[k], floor, soakStaleBound)
			}
		case clearHoardError(err):
			stats.add("reads failed (clear error)", 1)
		default:
			stats.add("reads unclear", 1)
			t.Errorf("Get(%s): an error that is not a hoard sentinel: %v", ids[k], err)
		}
		if k%16 == 0 && rand.IntN(50) == 0 { // now and then, a pure invalidation
			if err := in.aside.Delete(rctx, ids[k]); err == nil {
				stats.add("invalidations", 1)
			}
		}
	}
	run := func(d time.Duration, faults bool) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i, in := range insts {
			for range readers {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						read(in, rand.IntN(keys))
					}
				})
			}
			wg.Go(func() { // the writer of keys k ≡ i (mod instances)
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(rand.IntN(4)) * time.Millisecond):
					}
					write(in, i+instances*rand.IntN(keys/instances))
				}
			})
		}
		if faults {
			wg.Go(func() { injectFaults(stop, proxies, admin, &stats) })
		}
		time.Sleep(d)
		close(stop)
		waitOrDump(t, &wg, 30*time.Second)
	}
	quiesce := func() {
		for _, p := range proxies {
			p.Heal()
		}
		syncAllBuses(t, insts, 30*time.Second)
		// A write whose cache update and invalidation both failed leaves
		// the old value until its TTL.
		time.Sleep(ttl + 100*time.Millisecond)
	}

	// Warm-up, then the start of the steady state.
	warm := min(*soakFor/10, 3*time.Second)
	run(warm, false)
	quiesce()
	heap0, gor0 := heapAndGoroutines()

	run(*soakFor, true)
	quiesce()
	heap1, gor1 := heapAndGoroutines()

	// Every instance agrees with the store, which lost no write.
	staleAfter, lost := 0, 0
	for k, id := range ids {
		want, err := store.Load(ctx, id)
		if err != nil && !errors.Is(err, hoard.ErrNotFound) {
			t.Fatalf("the store's %s: %v", id, err)
		}
		if acked := h.ackedBefore(k, time.Now()); valueSeq(want) < acked {
			lost++
			t.Errorf("lost write: the store has %s = %q; seq %d was acknowledged", id, want, acked)
		}
		for _, in := range insts {
			if v, err := in.aside.Get(ctx, id, store); v != want || (err != nil && !errors.Is(err, hoard.ErrNotFound)) {
				staleAfter++
				t.Errorf("after quiescence %s serves %s = %q, %v; the store has %q", in.name, id, v, err, want)
			}
		}
	}
	var bus strings.Builder
	for _, in := range insts {
		s := in.bus.Stats()
		fmt.Fprintf(&bus, " %s{reconnects=%d gaps=%d flushes=%d}", in.name, s.Reconnects, s.Gaps, s.Flushes)
	}
	t.Logf("soak %v on %s, %d instances × %d keys: %v; stale reads after quiescence=%d; lost writes=%d; "+
		"heap %.1f → %.1f MiB; goroutines %d → %d; buses:%s",
		*soakFor, dbName, instances, keys, &stats, staleAfter, lost,
		float64(heap0)/(1<<20), float64(heap1)/(1<<20), gor0, gor1, bus.String())
	if n, want := stats.get("faults"), int64(*soakFor/(3*time.Second)); n < want {
		t.Errorf("%d faults injected in %v; want at least %d (one every 3s): the injector stalled", n, *soakFor, want)
	}
	if gor1 > gor0+5 {
		t.Errorf("goroutines grew from %d to %d over the soak\n%s", gor0, gor1, goroutines())
	}
	if limit := heap0 + max(16<<20, heap0/2); heap1 > limit {
		t.Errorf("the heap grew from %d to %d bytes over the soak (limit %d)", heap0, heap1, limit)
	}
}

// soakStore is the store of the soak: a fresh PostgreSQL table when
// $HOARD_POSTGRES_URL is set, else an in-memory versioned store.
func soakStore(t *testing.T) (hoard.Store[string], string) {
	url := os.Getenv("HOARD_POSTGRES_URL")
	if url == "" {
		return newMemStore[string](), "an in-memory store (HOARD_POSTGRES_URL unset)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("HOARD_POSTGRES_URL: %v", err)
	}
	t.Cleanup(pool.Close)
	table := fmt.Sprintf("hoard_soak_%d", time.Now().UnixNano())
	store, err := postgres.New[string](pool, postgres.Options{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	return store, "PostgreSQL table " + table
}

// injectFaults injects a random fault every 200ms to 1s until stop, each
// lasting a moment, and heals it; it counts them in stats.
func injectFaults(stop <-chan struct{}, proxies []*faultProxy, admin *goredis.Client, stats *tally) {
	pause := func(lo, hi time.Duration) bool {
		select {
		case <-stop:
			return false
		case <-time.After(lo + rand.N(hi-lo)):
			return true
		}
	}
	for pause(200*time.Millisecond, time.Second) {
		p := proxies[rand.IntN(len(proxies))]
		kind := []string{"latency", "reset", "blackhole", "down", "client-kill", "client-kill-pubsub"}[rand.IntN(6)]
		stats.add("faults", 1)
		stats.add("fault "+kind, 1)
		switch kind {
		case "latency":
			p.Toxic("latency", "downstream", map[string]any{"latency": 50 + rand.IntN(250), "jitter": 50})
		case "reset":
			p.Toxic("reset_peer", []string{"upstream", "downstream"}[rand.IntN(2)], map[string]any{"timeout": rand.IntN(100)})
		case "blackhole":
			p.Toxic("timeout", "upstream", map[string]any{"timeout": 0})
		case "down":
			p.Down()
		case "client-kill", "client-kill-pubsub":
			typ := map[string]string{"client-kill": "normal", "client-kill-pubsub": "pubsub"}[kind]
			_ = admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", typ, "SKIPME", "yes").Err()
		}
		ok := pause(100*time.Millisecond, 800*time.Millisecond)
		p.Heal() // also up again, after "down"
		if !ok {
			return
		}
	}
}

// heapAndGoroutines returns HeapAlloc after a GC, and the goroutines that
// are not toxiproxy's (its links come and go with the connections).
func heapAndGoroutines() (uint64, int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n := 0
	for _, g := range strings.Split(goroutines(), "\n\n") {
		if !strings.Contains(g, "github.com/Shopify/toxiproxy") {
			n++
		}
	}
	return ms.HeapAlloc, n
}

// valueSeq is the write sequence number in a soak value "<id>@<seq>"; 0
// for none.
func valueSeq(v string) int64 {
	_, s, ok := strings.Cut(v, "@")
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// history is, per key, the writes issued and acknowledged, and when.
type history struct {
	mu   sync.Mutex
	keys []keyHistory // guarded by mu
	seq  atomic.Int64
}

type keyHistory struct {
	base int64      // the highest seq acknowledged before every ack in acks
	acks []ackEntry // recent acknowledgements, in time order
}

type ackEntry struct {
	at  time.Time
	seq int64
}

func newHistory(keys int) *history { return &history{keys: make([]keyHistory, keys)} }

// next is a new sequence number (global, so values never repeat).
func (h *history) next(int) int64 { return h.seq.Add(1) }

// acked records that key k's write of seq was acknowledged now.
func (h *history) acked(k int, seq int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	kh := &h.keys[k]
	now := time.Now()
	kh.acks = append(kh.acks, ackEntry{now, seq})
	// Fold what no check can ask about any more (older than a minute)
	// into base, so the history stays small however long the soak.
	i := 0
	for i < len(kh.acks)-1 && now.Sub(kh.acks[i].at) > time.Minute {
		kh.base = max(kh.base, kh.acks[i].seq)
		i++
	}
	kh.acks = append(kh.acks[:0], kh.acks[i:]...)
}

// ackedBefore returns the highest seq of key k acknowledged before t.
func (h *history) ackedBefore(k int, t time.Time) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	kh := &h.keys[k]
	best := kh.base
	for _, a := range kh.acks {
		if a.at.After(t) {
			break
		}
		best = max(best, a.seq)
	}
	return best
}
