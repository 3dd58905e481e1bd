package postgres_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/stores/postgres"
)

// EnvRedis points the tests at a Redis 7 server (host:port).
const EnvRedis = "HOARD_REDIS_ADDR"

// realRedis returns a client of $HOARD_REDIS_ADDR, or skips the test.
func realRedis(t testing.TB) *goredis.Client {
	t.Helper()
	addr := os.Getenv(EnvRedis)
	if addr == "" {
		t.Skipf("real Redis: %s is unset (CI sets it)", EnvRedis)
	}
	client := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s does not answer: %v", addr, err)
	}
	return client
}

// queueName is a stream queue and cache name of the test's own; its keys
// (the stream, and everything under the name: cache entries, version
// counters) are deleted when the test ends.
func queueName(t testing.TB, client *goredis.Client) string {
	name := fmt.Sprintf("hoardtest-%d-%08x", os.Getpid(), rand.Uint32())
	t.Cleanup(func() {
		ctx := context.Background()
		keys := []string{"hoard:wb:{" + name + "}", "hoard:wb:{" + name + "}:depth"}
		iter := client.Scan(ctx, 0, name+":*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		_ = client.Del(ctx, keys...).Err()
	})
	return name
}

// item is what the proofs write: Seq names the write that produced it.
type item struct {
	Seq int64 `json:"seq"`
}

var discard = slog.New(slog.DiscardHandler)

// The crash proof runs its writer in a child process: the test binary run
// again in a helper mode, as os/exec's tests do.
const (
	envCrashChild  = "HOARD_WB_CRASH_CHILD"
	envCrashTable  = "HOARD_WB_CRASH_TABLE"
	envCrashStream = "HOARD_WB_CRASH_STREAM"
)

// The child: 8 writers over 200 keys (one writer per key), 1 write in 10 a
// delete; batches of 20 by 2 workers into a store slowed to ~30ms a batch;
// a queue bound of 2000. The parent kills it after 1500 acknowledged
// writes, as a batch has just committed and is not yet acknowledged.
const (
	crashWriters   = 8
	crashKeys      = 200
	crashBatch     = 20
	crashWorkers   = 2
	crashQueueLen  = 2000
	crashKillAfter = 1500
	crashClaimIdle = time.Second
)

// TestWriteBehindCrashChild is not a test of its own: it is the process
// TestWriteBehindSurvivesKill starts and kills. Run otherwise, it returns
// at once.
func TestWriteBehindCrashChild(t *testing.T) {
	if os.Getenv(envCrashChild) != "1" {
		return
	}
	crashChild()
}

// attempt is a write in progress in the child.
type attempt struct {
	seq     int64
	del     bool
	version uint64 // set by the versioner, on the writer's goroutine
}

// crashChild writes with write-behind through a Redis Stream queue into
// PostgreSQL until it is killed, printing one line per event, each in one
// write(2) to an unbuffered stdout, so the parent reads whole lines up to
// the kill:
//
//	try <id> <version> <seq> <delete>  a version was taken for a write
//	ack <id> <version> <seq> <delete>  its Put or Delete returned nil
//	batch                              a store call starts (~20ms before it commits)
//	committed                          a store call committed (~10ms before XACK)
func crashChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	go func() { // never outlive a lost parent
		time.Sleep(2 * time.Minute)
		os.Exit(3)
	}()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv(EnvPostgres))
	if err != nil {
		fail(err)
	}
	client := goredis.NewClient(&goredis.Options{Addr: os.Getenv(EnvRedis)})
	name := os.Getenv(envCrashStream)
	pg, err := postgres.New[item](pool, postgres.Options{Table: os.Getenv(envCrashTable)})
	if err != nil {
		fail(err)
	}
	shared, err := hoardredis.New[item](client, nil)
	if err != nil {
		fail(err)
	}
	aside, err := hoard.NewAside(&hoard.AsideOptions[item]{Name: name, Shared: shared})
	if err != nil {
		fail(err)
	}
	queue, err := hoardredis.NewStreamQueue[item](client, &hoardredis.StreamQueueOptions{
		Name: name, Consumer: "child", MaxLen: crashQueueLen, Block: 10 * time.Millisecond,
	})
	if err != nil {
		fail(err)
	}
	var current sync.Map                                                                    // id → *attempt; one writer per id
	counter := hoard.CounterVersioner{Counter: shared, Prefix: aside.Key("%version") + ":"} // the default's keys
	versions := versionerFunc(func(ctx context.Context, id string) (uint64, error) {
		v, err := counter.NextVersion(ctx, id)
		if err == nil {
			a, _ := current.Load(id)
			at := a.(*attempt)
			at.version = v
			fmt.Fprintf(os.Stdout, "try %s %d %d %v\n", id, v, at.seq, at.del)
		}
		return v, err
	})
	wb, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[item]{
		Aside: aside, Store: &slowStore{Store: pg}, Queue: queue, Versioner: versions,
		BatchSize: crashBatch, FlushInterval: 5 * time.Millisecond, Workers: crashWorkers,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fail(err)
	}
	var seq atomic.Int64
	for g := range crashWriters {
		go func() {
			for n := 0; ; n++ {
				id := fmt.Sprintf("k%03d", g+crashWriters*(n%(crashKeys/crashWriters)))
				a := &attempt{seq: seq.Add(1), del: n%10 == 9}
				current.Store(id, a)
				var err error
				if a.del {
					err = wb.Delete(ctx, id)
				} else {
					err = wb.Put(ctx, id, item{Seq: a.seq})
				}
				if err != nil {
					fail(err)
				}
				fmt.Fprintf(os.Stdout, "ack %s %d %d %v\n", id, a.version, a.seq, a.del)
			}
		}()
	}
	select {} // until killed
}

type versionerFunc func(ctx context.Context, id string) (uint64, error)

func (f versionerFunc) NextVersion(ctx context.Context, id string) (uint64, error) { return f(ctx, id) }

// slowStore slows every batch: ~20ms before the commit and ~10ms after it,
// before the acknowledgement, so a kill finds batches in flight and
// committed batches not yet acknowledged.
type slowStore struct {
	*postgres.Store[item]
}

func (s *slowStore) WriteMany(ctx context.Context, ws []hoard.Write[item]) error {
	fmt.Fprintln(os.Stdout, "batch")
	time.Sleep(20 * time.Millisecond)
	if err := s.Store.WriteMany(ctx, ws); err != nil {
		return err
	}
	fmt.Fprintln(os.Stdout, "committed")
	time.Sleep(10 * time.Millisecond)
	return nil
}

// write is a write the child reported.
type write struct {
	version uint64
	seq     int64
	del     bool
}

func parseWrite(fields []string) (string, write, error) {
	if len(fields) != 5 {
		return "", write{}, fmt.Errorf("%d fields", len(fields))
	}
	version, err1 := strconv.ParseUint(fields[2], 10, 64)
	seq, err2 := strconv.ParseInt(fields[3], 10, 64)
	del, err3 := strconv.ParseBool(fields[4])
	return fields[1], write{version, seq, del}, errors.Join(err1, err2, err3)
}

// TestWriteBehindSurvivesKill proves the write-behind invariant with the
// Redis Stream queue against PostgreSQL: a child process writes and is
// killed with SIGKILL with batches in flight; a second instance takes its
// pending entries over (XAUTOCLAIM) and drains the stream; then the table
// holds, for every key, the newest acknowledged write (or a newer one the
// child enqueued but died before reporting): none lost, none overwritten by
// an older one.
func TestWriteBehindSurvivesKill(t *testing.T) {
	pool := pgPool(t)
	client := realRedis(t)
	ctx := context.Background()
	name := queueName(t, client)
	pg := newStore[item](t, pool, postgres.Options{})

	cmd := exec.Command(os.Args[0], "-test.run=^TestWriteBehindCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashChild+"=1", envCrashTable+"="+pg.Table(), envCrashStream+"="+name)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	tries := map[string]map[uint64]write{} // every version the child took, by id
	acked := map[string]write{}            // the newest acknowledged write of each id
	nAcked, nCommitted := 0, 0
	deadline := time.Now().Add(60 * time.Second)
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "try", "ack":
			id, w, err := parseWrite(fields)
			if err != nil {
				t.Fatalf("child line %q: %v", lines.Text(), err)
			}
			if fields[0] == "try" {
				if tries[id] == nil {
					tries[id] = map[uint64]write{}
				}
				tries[id][w.version] = w
				continue
			}
			nAcked++
			if w.version <= acked[id].version {
				t.Fatalf("child acknowledged %s version %d after %d", id, w.version, acked[id].version)
			}
			acked[id] = w
		case "committed":
			nCommitted++
			if !killed && nAcked >= crashKillAfter {
				// A batch has just committed and sleeps ~10ms before its
				// XACK; the other worker is likely mid-batch.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		if !killed && time.Now().After(deadline) {
			t.Fatalf("no kill after 60s: %d acknowledged, %d batches committed; child stderr:\n%s", nAcked, nCommitted, stderr.String())
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !killed || !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v; stderr:\n%s", err, stderr.String())
	}

	streamKey := "hoard:wb:{" + name + "}"
	pending, err := client.XPending(ctx, streamKey, "hoard").Result()
	if err != nil {
		t.Fatal(err)
	}
	backlog, err := client.XLen(ctx, streamKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	if pending.Count == 0 {
		t.Fatalf("no batch was in flight at the kill: the takeover was not exercised")
	}

	// The second process: a write-behind on the same queue name, with a
	// consumer of its own, and a plain (fast) store.
	shared, err := hoardredis.New[item](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	aside, err := hoard.NewAside(&hoard.AsideOptions[item]{Name: name, Shared: shared})
	if err != nil {
		t.Fatal(err)
	}
	queue, err := hoardredis.NewStreamQueue[item](client, &hoardredis.StreamQueueOptions{
		Name: name, Consumer: "second", ClaimIdle: crashClaimIdle, ClaimInterval: 50 * time.Millisecond,
		Block: 10 * time.Millisecond, PollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	var stored atomic.Int64
	second, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[item]{
		Aside: aside, Store: pg, Queue: queue, FlushInterval: time.Millisecond, Logger: discard,
		Hooks: hoard.WriteBehindHooks[item]{OnStored: func(ws []hoard.Write[item]) { stored.Add(int64(len(ws))) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := second.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if err := second.Close(fctx); err != nil {
		t.Fatal(err)
	}
	after, err := client.XPending(ctx, streamKey, "hoard").Result()
	if err != nil || after.Count != 0 {
		t.Fatalf("pending after the takeover: %+v, %v", after, err)
	}
	if n, err := client.XLen(ctx, streamKey).Result(); err != nil || n != 0 {
		t.Fatalf("XLEN after the takeover = %d, %v: the stream was not trimmed", n, err)
	}

	// The table against what the child acknowledged.
	c := checkTable(t, pool, pg.Table(), acked, tries)
	lost, older, newerUnacked, mismatched := c.lost, c.older, c.newerUnacked, c.mismatched
	t.Logf("crash: child killed by SIGKILL after %d acknowledged writes on %d keys (%d batches committed); "+
		"at the kill %d entries were pending (taken, not acknowledged) and the stream held %d; "+
		"the second instance claimed them after %v idle and drained the stream in %v, storing %d writes; "+
		"lost: %d, overwritten by older: %d, mismatched: %d, rows newer than acknowledged (enqueued, ack line cut by the kill): %d; XLEN after: 0",
		nAcked, len(acked), nCommitted, pending.Count, backlog, crashClaimIdle, took.Round(time.Millisecond),
		stored.Load(), lost, older, mismatched, newerUnacked)
}

// flakyStore is a store whose calls fail while down is set: an outage
// injected in front of PostgreSQL.
type flakyStore struct {
	*postgres.Store[item]
	down     atomic.Bool
	failures atomic.Int64
}

func (f *flakyStore) check() error {
	if f.down.Load() {
		f.failures.Add(1)
		return fmt.Errorf("%w: postgres: connection refused (injected outage)", hoard.ErrUnavailable)
	}
	return nil
}

func (f *flakyStore) Save(ctx context.Context, id string, v item, version uint64) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Store.Save(ctx, id, v, version)
}

func (f *flakyStore) Delete(ctx context.Context, id string, version uint64) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Store.Delete(ctx, id, version)
}

func (f *flakyStore) WriteMany(ctx context.Context, ws []hoard.Write[item]) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Store.WriteMany(ctx, ws)
}

// TestWriteBehindStoreOutage: PostgreSQL fails for a while. Writes are
// accepted up to the queue's bound, then Put waits (FullBlock) or fails at
// once (FullError), and once the store is back everything lands, newest
// write of each key, with nothing dead-lettered.
func TestWriteBehindStoreOutage(t *testing.T) {
	const bound, keys = 40, 20
	for _, queueKind := range []string{"memory", "stream"} {
		for _, policy := range []hoard.FullPolicy{hoard.FullBlock, hoard.FullError} {
			t.Run(fmt.Sprintf("%s/%s", queueKind, map[hoard.FullPolicy]string{hoard.FullBlock: "block", hoard.FullError: "error"}[policy]), func(t *testing.T) {
				ctx := context.Background()
				pool := pgPool(t)
				store := &flakyStore{Store: newStore[item](t, pool, postgres.Options{})}
				mem, err := memory.New[item](nil)
				if err != nil {
					t.Fatal(err)
				}
				defer mem.Close()
				aside, err := hoard.NewAside(&hoard.AsideOptions[item]{Name: "outage", Memory: mem})
				if err != nil {
					t.Fatal(err)
				}
				o := hoard.WriteBehindOptions[item]{
					Aside: aside, Store: store, Full: policy, BatchSize: 10, FlushInterval: time.Millisecond,
					MaxAttempts: -1, Backoff: func(int) time.Duration { return 5 * time.Millisecond }, Logger: discard,
				}
				var client *goredis.Client
				var streamKey string
				if queueKind == "stream" {
					client = realRedis(t)
					name := queueName(t, client)
					streamKey = "hoard:wb:{" + name + "}"
					q, err := hoardredis.NewStreamQueue[item](client, &hoardredis.StreamQueueOptions{
						Name: name, MaxLen: bound, Block: 5 * time.Millisecond, PollInterval: 5 * time.Millisecond,
					})
					if err != nil {
						t.Fatal(err)
					}
					o.Queue = q
				} else {
					o.QueueLen = bound
				}
				wb, err := hoard.NewWriteBehind(&o)
				if err != nil {
					t.Fatal(err)
				}
				defer func() {
					cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					defer cancel()
					if err := wb.Close(cctx); err != nil {
						t.Error(err)
					}
				}()

				store.down.Store(true)
				newest := map[string]int64{}
				var seq int64
				for i := range bound { // each key twice: the second write is the newest
					seq++
					id := fmt.Sprint("k", i%keys)
					if err := wb.Put(ctx, id, item{Seq: seq}); err != nil {
						t.Fatalf("Put %d of %d during the outage: %v", i+1, bound, err)
					}
					newest[id] = seq
				}
				if s, err := wb.QueueStats(ctx); err != nil || s.Depth != bound {
					t.Fatalf("QueueStats during the outage = %+v, %v; want depth %d", s, err, bound)
				}
				short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
				start := time.Now()
				err = wb.Put(short, "late", item{Seq: 999})
				waited := time.Since(start)
				if !errors.Is(err, hoard.ErrQueueFull) {
					t.Fatalf("Put on a full queue: %v", err)
				}
				if policy == hoard.FullBlock && (!errors.Is(err, context.DeadlineExceeded) || waited < 100*time.Millisecond) {
					t.Fatalf("FullBlock: %v after %v, want a wait until ctx ends", err, waited)
				}
				if policy == hoard.FullError && errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("FullError waited: %v after %v", err, waited)
				}

				// A Put that waits (FullBlock) goes through when the store
				// comes back.
				late := make(chan error, 1)
				if policy == hoard.FullBlock {
					go func() { late <- wb.Put(ctx, "late", item{Seq: 1000}) }()
				}
				// The outage must have hit the store before it ends: with
				// FullError nothing above waited, and the workers may not have
				// called the store yet.
				for deadline := time.Now().Add(10 * time.Second); store.failures.Load() == 0; {
					if time.Now().After(deadline) {
						t.Fatal("the store was never called during the outage")
					}
					time.Sleep(time.Millisecond)
				}
				outage := time.Now()
				store.down.Store(false)
				if policy == hoard.FullBlock {
					if err := <-late; err != nil {
						t.Fatalf("the Put waiting for room: %v", err)
					}
				} else if err := wb.Flush(ctx); err != nil {
					t.Fatal(err)
				} else if err := wb.Put(ctx, "late", item{Seq: 1000}); err != nil {
					t.Fatal(err)
				}
				newest["late"] = 1000
				if err := wb.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				recovered := time.Since(outage)
				for id, want := range newest {
					if v, err := store.Load(ctx, id); err != nil || v.Seq != want {
						t.Errorf("%s = %+v, %v; want seq %d", id, v, err, want)
					}
				}
				s := wb.Stats().Snapshot()
				if s.Retries == 0 || s.StoreErrors == 0 || s.DeadLetters != 0 || s.FullErrors == 0 {
					t.Fatalf("stats %+v", s)
				}
				if client != nil {
					if n, err := client.XLen(ctx, streamKey).Result(); err != nil || n != 0 {
						t.Fatalf("XLEN = %d, %v", n, err)
					}
				}
				t.Logf("outage (%s queue, %s): %d writes accepted while the store was down, the next Put %s after %v; "+
					"%d store calls failed (%d retries); after recovery all %d keys held their newest write within %v; dead letters: 0",
					queueKind, map[hoard.FullPolicy]string{hoard.FullBlock: "FullBlock", hoard.FullError: "FullError"}[policy],
					bound, map[hoard.FullPolicy]string{hoard.FullBlock: "waited until its ctx ended", hoard.FullError: "was refused with ErrQueueFull"}[policy],
					waited.Round(time.Millisecond), store.failures.Load(), s.Retries, len(newest), recovered.Round(time.Millisecond))
			})
		}
	}
}

// tableCheck counts how the table's rows stand against the writes
// acknowledged to write-behind.
type tableCheck struct{ lost, older, mismatched, newerUnacked int }

// checkTable compares every id's row with acked, its newest acknowledged
// write. A row may be newer than acknowledged only at a version some writer
// took (tries): a write that reached the queue whose acknowledgement was
// cut off. Every lost, older or mismatched row is reported as an error.
func checkTable(t *testing.T, pool *pgxpool.Pool, table string, acked map[string]write, tries map[string]map[uint64]write) tableCheck {
	t.Helper()
	var c tableCheck
	for id, want := range acked {
		r, ok := readRow(t, pool, table, id)
		switch {
		case !ok:
			c.lost++
			t.Errorf("%s: no row; acknowledged version %d", id, want.version)
			continue
		case uint64(r.version) < want.version:
			c.older++
			t.Errorf("%s: row at version %d, older than the acknowledged %d", id, r.version, want.version)
			continue
		}
		got := want
		if uint64(r.version) > want.version {
			w, ok := tries[id][uint64(r.version)]
			if !ok {
				c.mismatched++
				t.Errorf("%s: row at version %d, which no writer took", id, r.version)
				continue
			}
			c.newerUnacked++
			got = w
		}
		var v item
		if !r.deleted {
			if err := hoard.JSON.Unmarshal(r.value, &v); err != nil {
				t.Fatal(err)
			}
		}
		if r.deleted != got.del || (!r.deleted && v.Seq != got.seq) {
			c.mismatched++
			t.Errorf("%s: row %+v (seq %d), want write %+v", id, r, v.Seq, got)
		}
	}
	return c
}
