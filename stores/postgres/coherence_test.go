package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/stores/postgres"
)

// The randomized coherence proof (issue 5): instances of one service, each
// with its own Redis client, memory tier, Redis tier and bus, read and
// write random keys concurrently; the writes go to a real PostgreSQL table
// through write-through (Put, Delete) or invalidate (Aside.Delete). Once
// the writers have stopped and the max staleness (MemoryTTL) has passed,
// every read of every key on every instance equals the table, in every run.
//
// The runs are independent (a table, a key prefix and a bus channel of
// their own), so a few go at once: most of a run is waiting.
const (
	cohRuns        = 100
	cohShortRuns   = 10
	cohConcurrent  = 4                      // runs at once
	cohInstances   = 4                      // instances per run
	cohWorkers     = 4                      // workers per instance
	cohKeys        = 20                     // ids per run
	cohHotKeys     = 4                      // half the ops go to these
	cohWork        = 150 * time.Millisecond // how long the workers run
	cohMaxStale    = 200 * time.Millisecond // MemoryTTL: the max staleness
	cohMargin      = 50 * time.Millisecond  // past the max staleness
	cohTTL         = 5 * time.Second
	cohBusDeadline = 2 * time.Second // for the buses to deliver what was published
	cohOpTimeout   = 10 * time.Second
)

// TestCoherenceRandomized is the proof; see the constants above. A failure
// names the run, the instance and the key, what was read and what the table
// holds, the bus counters, what the tiers hold, and the history of the
// key's operations in the run.
func TestCoherenceRandomized(t *testing.T) {
	pool := cohPool(t)
	addr := os.Getenv(EnvRedis)
	if addr == "" {
		t.Skipf("the coherence proof needs a real Redis: %s is unset (CI sets it, e.g. 127.0.0.1:6379)", EnvRedis)
	}
	admin := goredis.NewClient(&goredis.Options{Addr: addr})
	defer func() { _ = admin.Close() }()
	pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := admin.Ping(pctx).Err()
	cancel()
	if err != nil {
		t.Fatalf("Redis at %s=%s does not answer: %v", EnvRedis, addr, err)
	}

	runs := cohRuns
	if testing.Short() {
		runs = cohShortRuns
	}
	start := time.Now()
	var next, passed atomic.Int64
	var total cohTotals
	var wg sync.WaitGroup
	// t.Run may be called from several goroutines at once: this runs
	// cohConcurrent runs at a time whatever -parallel says.
	for range cohConcurrent {
		wg.Go(func() {
			for {
				run := int(next.Add(1))
				if run > runs {
					return
				}
				if t.Run(fmt.Sprintf("run=%03d", run), func(t *testing.T) { coherenceRun(t, pool, addr, run, &total) }) {
					passed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d of %d runs coherent, in %v; %s", passed.Load(), runs, time.Since(start).Round(time.Millisecond), total.String())
}

// cohValue is what the workers write: Seq is unique to each Put.
type cohValue struct {
	Seq int64  `json:"seq"`
	By  string `json:"by"` // the writer, "i<instance>w<worker>"
}

// cohSeq numbers the Puts of the whole test.
var cohSeq atomic.Int64

// cohInstance is one instance of the service.
type cohInstance struct {
	client *goredis.Client
	bus    *hoardredis.Bus
	mem    *memory.Cache[cohValue]
	shared *hoardredis.Cache[cohValue]
	aside  *hoard.Aside[cohValue]
	wt     *hoard.WriteThrough[cohValue]
}

// The operations of the workers.
type cohOpKind uint8

const (
	opGet cohOpKind = iota
	opPut
	opWriteDelete // WriteThrough.Delete: the row goes, then the key
	opAsideDelete // Aside.Delete: the key only
)

func (k cohOpKind) String() string {
	return [...]string{"get", "put", "writethrough-delete", "aside-delete"}[k]
}

// cohOp is one operation in a key's history.
type cohOp struct {
	start, end time.Duration // since the run's workers started
	instance   int
	worker     int
	kind       cohOpKind
	value      cohValue // the value put, or read
	err        error
}

func (o cohOp) String() string {
	s := fmt.Sprintf("%8.3fms – %8.3fms  i%dw%d %-19s", ms(o.start), ms(o.end), o.instance, o.worker, o.kind)
	switch {
	case o.kind == opPut:
		s += fmt.Sprintf(" seq=%d", o.value.Seq)
	case o.kind == opGet && o.err == nil:
		s += fmt.Sprintf(" → seq=%d (by %s)", o.value.Seq, o.value.By)
	}
	if o.err != nil {
		s += " → " + o.err.Error()
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cohHistory is every key's operations in one run.
type cohHistory struct {
	mu  sync.Mutex
	ops map[string][]cohOp
}

func (h *cohHistory) add(id string, op cohOp) {
	h.mu.Lock()
	h.ops[id] = append(h.ops[id], op)
	h.mu.Unlock()
}

// of returns the key's history, one operation a line, in order of start.
func (h *cohHistory) of(id string) string {
	h.mu.Lock()
	ops := append([]cohOp(nil), h.ops[id]...)
	h.mu.Unlock()
	// Appended at their end: sort by start for reading.
	for i := 1; i < len(ops); i++ {
		for j := i; j > 0 && ops[j].start < ops[j-1].start; j-- {
			ops[j], ops[j-1] = ops[j-1], ops[j]
		}
	}
	var b strings.Builder
	for _, op := range ops {
		b.WriteString("\t\t" + op.String() + "\n")
	}
	return b.String()
}

// cohTotals counts what the runs did, to show the proof is not vacuous.
type cohTotals struct {
	ops   [4]atomic.Int64
	loads atomic.Int64
	// invalidations by Delete calls: both kinds of delete, and the puts
	// that lost a race and invalidated instead.
	invalidations atomic.Int64
}

func (c *cohTotals) String() string {
	deletes := c.ops[opWriteDelete].Load() + c.ops[opAsideDelete].Load()
	return fmt.Sprintf("operations: %d gets (%d loads from PostgreSQL), %d puts (%d lost a race and invalidated), %d write-through deletes, %d aside deletes",
		c.ops[opGet].Load(), c.loads.Load(), c.ops[opPut].Load(), c.invalidations.Load()-deletes,
		c.ops[opWriteDelete].Load(), c.ops[opAsideDelete].Load())
}

// coherenceRun is one run: a fresh table, fresh instances, the random
// workload, the wait, and the check.
func coherenceRun(t *testing.T, pool *pgxpool.Pool, addr string, run int, total *cohTotals) {
	ctx := context.Background()
	store := newStore[cohValue](t, pool, postgres.Options{})
	name := fmt.Sprintf("hoardcoh-%d-%08x", os.Getpid(), rand.Uint32())
	channel := name + ":inv"

	insts := make([]*cohInstance, cohInstances)
	for i := range insts {
		insts[i] = newCohInstance(t, addr, name, channel, i, store)
		if i == 0 {
			// Runs before the clients are closed (cleanups run last
			// first): the run's keys go, entries, tombstones and the
			// version counters alike.
			client := insts[0].client
			t.Cleanup(func() { deleteKeys(client, name+"*") })
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	for i, in := range insts {
		if err := in.bus.Ready(rctx); err != nil {
			cancel()
			t.Fatalf("run %d: instance %d's bus did not subscribe: %v", run, i, err)
		}
	}
	cancel()

	ids := make([]string, cohKeys)
	for k := range ids {
		ids[k] = fmt.Sprintf("k%02d", k)
	}
	hist := &cohHistory{ops: map[string][]cohOp{}}
	var opErrs atomic.Int64
	var failedMu sync.Mutex
	var failed []string // the first operations that failed
	begin := time.Now()
	deadline := begin.Add(cohWork)
	var wg sync.WaitGroup
	for i, in := range insts {
		for w := range cohWorkers {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					id := ids[rand.IntN(cohKeys)]
					if rand.IntN(2) == 0 {
						id = ids[rand.IntN(cohHotKeys)]
					}
					op := cohOp{instance: i, worker: w}
					// Each operation finishes, whatever the deadline: the
					// proof is about writers that stopped, not crashed.
					octx, cancel := context.WithTimeout(ctx, cohOpTimeout)
					op.start = time.Since(begin)
					switch r := rand.IntN(100); {
					case r < 50:
						op.kind = opGet
						op.value, op.err = in.aside.Get(octx, id, store)
						if errors.Is(op.err, hoard.ErrNotFound) {
							op.err = errNotFound
						}
					case r < 80:
						op.kind = opPut
						op.value = cohValue{Seq: cohSeq.Add(1), By: fmt.Sprintf("i%dw%d", i, w)}
						op.err = in.wt.Put(octx, id, op.value)
					case r < 90:
						op.kind = opWriteDelete
						op.err = in.wt.Delete(octx, id)
					default:
						op.kind = opAsideDelete
						op.err = in.aside.Delete(octx, id)
					}
					op.end = time.Since(begin)
					cancel()
					if op.err != nil && op.err != errNotFound {
						if opErrs.Add(1) <= 10 {
							failedMu.Lock()
							failed = append(failed, fmt.Sprintf("\t%q: %v", id, op))
							failedMu.Unlock()
						}
					}
					total.ops[op.kind].Add(1)
					hist.add(id, op)
				}
			})
		}
	}
	wg.Wait()
	stopped := time.Now()
	if n := opErrs.Load(); n > 0 {
		// Real servers, no faults injected: every operation should
		// succeed.
		t.Errorf("run %d: %d operations failed during the workload; the first:\n%s", run, n, strings.Join(failed, "\n"))
	}

	// The guarantee holds once the max staleness has passed. The buses
	// are given until then too (and a little longer) to deliver what was
	// published; they are not needed for it, so a bus still behind is
	// only reported.
	busDrained := waitBuses(insts, cohBusDeadline)
	time.Sleep(time.Until(stopped.Add(cohMaxStale + cohMargin)))
	for _, in := range insts {
		m := in.aside.Metrics().Snapshot()
		total.loads.Add(m.Loads.Count)
		total.invalidations.Add(m.Count(hoard.EventInvalidation, hoard.TierNone))
	}

	bad := 0
	for _, id := range ids {
		want, version, wantErr := store.LoadVersion(ctx, id)
		if wantErr != nil && !errors.Is(wantErr, hoard.ErrNotFound) {
			t.Fatalf("run %d: reading %q from the table: %v", run, id, wantErr)
		}
		wantText := fmt.Sprintf("seq=%d (by %s) at version %d", want.Seq, want.By, version)
		if wantErr != nil {
			wantText = "not found (no row, or a tombstone)"
		}
		var wrong []string
		// Twice: the first read may fill the memory tier from Redis or
		// the table; the second reads what it filled.
		for pass := range 2 {
			for i, in := range insts {
				got, err := in.aside.Get(ctx, id, store)
				switch {
				case wantErr != nil && errors.Is(err, hoard.ErrNotFound):
					continue
				case wantErr == nil && err == nil && got == want:
					continue
				}
				gotText := fmt.Sprintf("seq=%d (by %s)", got.Seq, got.By)
				if err != nil {
					gotText = "error: " + err.Error()
				}
				wrong = append(wrong, fmt.Sprintf("\tinstance %d, read %d: got %s; the table holds %s\n\t\tits tiers: %s",
					i, pass+1, gotText, wantText, in.tiers(ctx, id)))
			}
		}
		if len(wrong) > 0 {
			bad++
			t.Errorf("run %d: key %q is incoherent %v after the writers stopped (max staleness %v):\n%s\n\tbuses drained: %v; %s\n\thistory of %q (since the workers started; they stopped at %.3fms):\n%s",
				run, id, time.Since(stopped).Round(time.Millisecond), cohMaxStale, strings.Join(wrong, "\n"),
				busDrained, busStats(insts), id, ms(stopped.Sub(begin)), hist.of(id))
		}
	}
}

// errNotFound stands for any error wrapping hoard.ErrNotFound in the
// histories.
var errNotFound = errors.New("not found")

// newCohInstance makes instance i of the run: its own client, bus, tiers,
// aside and write-through, all closed when the run ends.
func newCohInstance(t *testing.T, addr, name, channel string, i int, store *postgres.Store[cohValue]) *cohInstance {
	t.Helper()
	in := &cohInstance{}
	in.client = goredis.NewClient(&goredis.Options{Addr: addr, ClientName: fmt.Sprintf("%s-%d", name, i)})
	t.Cleanup(func() { _ = in.client.Close() })
	var err error
	in.bus, err = hoardredis.NewBus(in.client, &hoardredis.BusOptions{Channel: channel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.bus.Close(cctx); err != nil {
			t.Errorf("instance %d: closing the bus: %v", i, err)
		}
	})
	in.mem, err = memory.New[cohValue](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.mem.Close() })
	in.shared, err = hoardredis.New[cohValue](in.client, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.aside, err = hoard.NewAside(&hoard.AsideOptions[cohValue]{
		Name: name, Memory: in.mem, Shared: in.shared, Bus: in.bus,
		TTL: cohTTL, MemoryTTL: cohMaxStale,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.aside.Close(cctx); err != nil {
			t.Errorf("instance %d: closing the aside: %v", i, err)
		}
	})
	in.wt, err = hoard.NewWriteThrough(&hoard.WriteThroughOptions[cohValue]{Aside: in.aside, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// tiers tells what the instance's tiers hold under id's key, for a
// failure's message.
func (in *cohInstance) tiers(ctx context.Context, id string) string {
	key := in.aside.Key(id)
	show := func(c hoard.Cache[cohValue]) string {
		e, err := c.Get(ctx, key)
		if err != nil {
			return err.Error()
		}
		if e.Negative {
			return fmt.Sprintf("negative, written %s, expires %s", e.WrittenAt.Format("15:04:05.000"), e.ExpiresAt.Format("15:04:05.000"))
		}
		return fmt.Sprintf("seq=%d (by %s), written %s, expires %s", e.Value.Seq, e.Value.By,
			e.WrittenAt.Format("15:04:05.000"), e.ExpiresAt.Format("15:04:05.000"))
	}
	return fmt.Sprintf("memory: %s; redis: %s (now %s)", show(in.mem), show(in.shared), time.Now().Format("15:04:05.000"))
}

// waitBuses waits until every bus has received every event the others
// published, or for at most d, and reports whether they all had.
func waitBuses(insts []*cohInstance, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		drained := true
		var published uint64
		for _, in := range insts {
			published += in.bus.Stats().Published
		}
		for _, in := range insts {
			s := in.bus.Stats()
			if s.Received < published-s.Published {
				drained = false
			}
		}
		if drained || time.Now().After(deadline) {
			return drained
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// busStats is every bus's counters, for a failure's message.
func busStats(insts []*cohInstance) string {
	var b strings.Builder
	for i, in := range insts {
		fmt.Fprintf(&b, "bus %d %+v; ", i, in.bus.Stats())
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// deleteKeys deletes the keys matching pattern.
func deleteKeys(client *goredis.Client, pattern string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	iter := client.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		_ = client.Del(ctx, keys...).Err()
	}
}

// cohPool returns a pool on $HOARD_POSTGRES_URL for the whole proof, with
// room for the workers of the runs that go at once, or skips the test when
// the variable is unset.
func cohPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv(EnvPostgres)
	if url == "" {
		t.Skipf("the coherence proof needs a real PostgreSQL: %s is unset (CI sets it, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	cfg.MaxConns = 16
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", EnvPostgres, err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("PostgreSQL at %s does not answer: %v", EnvPostgres, err)
	}
	return pool
}
