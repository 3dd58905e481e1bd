package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/stores/postgres"
)

// ownRedis is a redis-server the test starts itself, on a free port with a
// data directory of its own, so that it can be killed and restarted
// without touching the shared server.
type ownRedis struct {
	t    *testing.T
	args []string
	addr string
	dir  string
	cmd  *exec.Cmd
	log  *os.File
}

// startOwnRedis starts redis-server with the persistence the StreamQueue
// docs ask for ("run it with persistence (appendonly) and
// maxmemory-policy noeviction"), the AOF fsync policy fsync ("always",
// "everysec") and no RDB snapshots, so that what survives a restart is
// what the AOF kept. It skips the test when redis-server is not installed.
func startOwnRedis(t *testing.T, fsync string) *ownRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed: the Redis restart proof needs a server of its own to kill and restart")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir := t.TempDir()
	r := &ownRedis{
		t:    t,
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		dir:  dir,
		args: []string{bin,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--appendonly", "yes", "--appendfsync", fsync, "--save", "", "--maxmemory-policy", "noeviction",
			"--daemonize", "no", "--protected-mode", "no"},
	}
	if r.log, err = os.Create(filepath.Join(dir, "redis.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.stop(syscall.SIGKILL)
		_ = r.log.Close()
	})
	r.start()
	return r
}

// start runs the server and waits until it answers PING with its data
// loaded.
func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.args[0], r.args[1:]...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: r.addr, MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(r.log.Name())
			r.t.Fatalf("redis-server at %s does not answer: %v; its log:\n%s", r.addr, err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends sig and waits until the server has exited.
func (r *ownRedis) stop(sig syscall.Signal) {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(sig)
	_ = r.cmd.Wait()
	r.cmd = nil
}

// waitDialable waits until client can open new connections to Redis.
// After failed dials go-redis's pool answers each new connection with its
// last dial error until a probe in the background, once a second, gets
// through, even while the connections it holds work: a command that got
// through does not show that the next one will. So each try holds one
// connection more than the pool has and PINGs on each, which needs a
// connection dialed now.
func waitDialable(t *testing.T, client *goredis.Client) {
	t.Helper()
	ctx := context.Background()
	try := func() error {
		n := int(client.PoolStats().TotalConns) + 1
		if n > client.Options().PoolSize {
			return nil // the pool is full: nothing needs a dial
		}
		held := make([]*goredis.Conn, 0, n)
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for range n {
			c := client.Conn()
			held = append(held, c)
			if err := c.Ping(ctx).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new connection to Redis 30s after its restart: %v", err)
		}
	}
}

// quietRedisLogger silences go-redis's pool logging (a line per failed
// dial while Redis is down) for the test.
func quietRedisLogger(t *testing.T) {
	goredis.SetLogger(quietLogger{})
	t.Cleanup(func() { goredis.SetLogger(stderrLogger{}) })
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// stderrLogger writes as go-redis's default logger does.
type stderrLogger struct{}

var stderrLog = log.New(os.Stderr, "redis: ", log.LstdFlags|log.Lshortfile)

func (stderrLogger) Printf(_ context.Context, format string, args ...any) {
	_ = stderrLog.Output(2, fmt.Sprintf(format, args...))
}

// TestWriteBehindSurvivesRedisRestart proves the write-behind invariant
// with the Redis Stream queue across a restart of Redis itself: writers Put
// and Delete through a slow store, which holds its batches back before the
// stop until heldAtStop more writes are acknowledged, so the stream holds
// at least that backlog however fast the machine is; Redis is stopped
// (SIGTERM: a clean shutdown; SIGKILL: a crash) with that backlog and
// batches in flight; the held batches are let go (they commit, and their
// acknowledgements meet a dead Redis); the writers see errors while it is
// down, and it comes back on its AOF. Then every acknowledged write
// reaches PostgreSQL, and no row is older than the newest acknowledged
// write of its id. The keys written before the stop are not written after
// it, so their rows prove that the writes the stream held across the
// restart were stored.
//
// Redis runs as the StreamQueue docs ask: appendonly yes, maxmemory-policy
// noeviction. A clean shutdown writes and fsyncs the whole AOF, so the
// SIGTERM case keeps Redis's default fsync policy, everysec. The SIGKILL
// case runs with appendfsync always, under which Redis writes and fsyncs
// the AOF before it replies. With everysec it does not: while the last
// second's fsync is still running, Redis holds new commands in its AOF
// buffer (for up to 2s) and replies meanwhile, so a killed process, not
// only a crashed machine, loses writes it acknowledged. On a busy disk
// that is common: this case failed that way under load, with acknowledged
// writes missing from the AOF at the kill.
func TestWriteBehindSurvivesRedisRestart(t *testing.T) {
	for _, c := range []struct {
		name  string
		sig   syscall.Signal
		fsync string
	}{
		{"sigterm", syscall.SIGTERM, "everysec"},
		{"sigkill", syscall.SIGKILL, "always"},
	} {
		t.Run(c.name, func(t *testing.T) { redisRestartRun(t, c.sig, c.fsync) })
	}
}

func redisRestartRun(t *testing.T, sig syscall.Signal, fsync string) {
	const (
		writers     = 4
		keys        = 40
		stopAfter   = 400 // acknowledged writes before the store is held
		heldAtStop  = 40  // more acknowledged writes while it is held, before the stop
		finishAfter = 300 // more acknowledged writes after the restart
		downFor     = 1500 * time.Millisecond
	)
	pool := pgPool(t)
	srv := startOwnRedis(t, fsync)
	quietRedisLogger(t)
	ctx := context.Background()
	pg := newStore[item](t, pool, postgres.Options{})
	client := goredis.NewClient(&goredis.Options{
		Addr: srv.addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1,
	})
	defer client.Close()

	const name = "restart"
	shared, err := hoardredis.New[item](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	aside, err := hoard.NewAside(&hoard.AsideOptions[item]{Name: name, Shared: shared})
	if err != nil {
		t.Fatal(err)
	}
	queue, err := hoardredis.NewStreamQueue[item](client, &hoardredis.StreamQueueOptions{
		Name: name, MaxLen: 5000, ClaimIdle: 500 * time.Millisecond, ClaimInterval: 50 * time.Millisecond,
		Block: 10 * time.Millisecond, PollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The default versioner's counters, in the same Redis: the restart
	// must not set them back either.
	counter := hoard.CounterVersioner{Counter: shared, Prefix: aside.Key("%version") + ":"}
	var mu sync.Mutex                      // guards tries, acked and the counts below
	tries := map[string]map[uint64]write{} // every version a writer took, by id
	acked := map[string]write{}            // the newest acknowledged write of each id
	nAcked, nFailed := 0, 0
	pendingSeq := map[string]write{} // the write each id's writer is making
	versions := versionerFunc(func(ctx context.Context, id string) (uint64, error) {
		v, err := counter.NextVersion(ctx, id)
		if err == nil {
			mu.Lock()
			w := pendingSeq[id]
			w.version = v
			pendingSeq[id] = w
			if tries[id] == nil {
				tries[id] = map[uint64]write{}
			}
			tries[id][v] = w
			mu.Unlock()
		}
		return v, err
	})
	var stored atomic.Int64
	store := &pausingStore{Store: pg}
	wb, err := hoard.NewWriteBehind(&hoard.WriteBehindOptions[item]{
		Aside: aside, Store: store, Queue: queue, Versioner: versions,
		BatchSize: 20, FlushInterval: 5 * time.Millisecond, Workers: 2, MaxAttempts: -1,
		Backoff: func(int) time.Duration { return 20 * time.Millisecond }, Logger: discard,
		Hooks: hoard.WriteBehindHooks[item]{OnStored: func(ws []hoard.Write[item]) { stored.Add(int64(len(ws))) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = wb.Close(cctx)
		}
	}()

	var seq atomic.Int64
	// After the restart the writers move to other keys, so a write lost
	// with the stop cannot be hidden by a newer write of its key.
	var keyBase atomic.Int64
	stopWriters := make(chan struct{})
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stopWriters:
					return
				default:
				}
				id := fmt.Sprintf("k%03d", int(keyBase.Load())+g+writers*(n%(keys/writers)))
				w := write{seq: seq.Add(1), del: n%10 == 9}
				mu.Lock()
				pendingSeq[id] = w
				mu.Unlock()
				// Each write gives up after 300ms (go-redis spends ~500ms
				// retrying a dial), so writes fail while Redis is down.
				wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				var err error
				if w.del {
					err = wb.Delete(wctx, id)
				} else {
					err = wb.Put(wctx, id, item{Seq: w.seq})
				}
				cancel()
				mu.Lock()
				if err != nil {
					nFailed++
					mu.Unlock()
					time.Sleep(5 * time.Millisecond) // Redis is down: not acknowledged
					continue
				}
				w = pendingSeq[id]
				if w.version <= acked[id].version {
					mu.Unlock()
					t.Errorf("%s acknowledged at version %d after %d", id, w.version, acked[id].version)
					return
				}
				acked[id] = w
				nAcked++
				mu.Unlock()
			}
		})
	}
	waitAcked := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			got := nAcked
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				close(stopWriters)
				wg.Wait()
				t.Fatalf("only %d of %d writes acknowledged after 60s", got, n)
			}
		}
	}

	waitAcked(stopAfter)
	release := store.hold()
	defer release() // if the test ends before the stop
	mu.Lock()
	ackedAtHold := nAcked
	mu.Unlock()
	waitAcked(ackedAtHold + heldAtStop)
	keyBase.Store(keys)
	srv.stop(sig)
	stoppedAt := time.Now()
	mu.Lock()
	ackedAtStop, failedAtStop := nAcked, nFailed // Redis has exited: no more acknowledgements
	mu.Unlock()
	storedAtStop := stored.Load()
	release()
	queueErrorsAtStop := wb.Stats().Snapshot().QueueErrors

	// Redis stays down for downFor, and until the writers and the workers
	// have met it: Puts or Deletes failed, and a Take or an Ack.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		failed := nFailed - failedAtStop
		mu.Unlock()
		queueErrors := wb.Stats().Snapshot().QueueErrors - queueErrorsAtStop
		if failed >= writers && queueErrors > 0 && time.Since(stoppedAt) >= downFor {
			break
		}
		if time.Now().After(deadline) {
			close(stopWriters)
			wg.Wait()
			t.Fatalf("Redis down for %v: %d Puts/Deletes and %d queue calls failed: the outage was not exercised",
				time.Since(stoppedAt).Round(time.Millisecond), failed, queueErrors)
		}
	}
	srv.start()
	down := time.Since(stoppedAt)
	// The first XLEN that gets through: go-redis answers new connections
	// with its last dial error for up to a second after failed dials
	// (see waitDialable).
	var backlog int64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if backlog, err = client.XLen(ctx, queue.Stream()).Result(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("XLEN after the restart: %v", err)
		}
	}
	mu.Lock()
	failedWhileDown := nFailed - failedAtStop
	mu.Unlock()
	waitAcked(ackedAtStop + finishAfter)
	close(stopWriters)
	wg.Wait()

	waitDialable(t, client)
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := wb.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	if err := wb.Close(fctx); err != nil {
		t.Fatal(err)
	}
	if n, err := client.XLen(ctx, queue.Stream()).Result(); err != nil || n != 0 {
		t.Fatalf("XLEN after the drain = %d, %v", n, err)
	}
	if backlog == 0 {
		t.Fatalf("the stream was empty after the restart: the test did not carry a backlog across it (acknowledged %d, stored %d at the stop)",
			ackedAtStop, storedAtStop)
	}

	mu.Lock()
	defer mu.Unlock()
	beforeStop := 0
	for id := range acked {
		if id < fmt.Sprintf("k%03d", keys) {
			beforeStop++
		}
	}
	c := checkTable(t, pool, pg.Table(), acked, tries)
	lost, older, mismatched, newerUnacked := c.lost, c.older, c.mismatched, c.newerUnacked
	s := wb.Stats().Snapshot()
	t.Logf("redis restart (%v, appendonly yes, appendfsync %s): %d writes acknowledged before the stop, %d of them while the store was held, %d writes stored by then; "+
		"Redis down %v, %d Puts/Deletes failed meanwhile (not acknowledged); the first XLEN after the restart (writers on new keys by then) saw %d entries; "+
		"%d acknowledged in all on %d keys (%d written only before the stop), %d writes stored; lost: %d, overwritten by older: %d, mismatched: %d, "+
		"rows newer than acknowledged (a failed Put whose write had reached the stream): %d; queue errors %d, store retries %d; XLEN after: 0",
		sig, fsync, ackedAtStop, ackedAtStop-ackedAtHold, storedAtStop, down.Round(time.Millisecond), failedWhileDown, backlog,
		nAcked, len(acked), beforeStop, stored.Load(), lost, older, mismatched, newerUnacked, s.QueueErrors, s.Retries)
}

// pausingStore slows every batch by ~15ms, so that the writers outrun the
// workers, and holds batches back between hold and its release, so that
// the stream holds a backlog when Redis stops.
type pausingStore struct {
	*postgres.Store[item]
	held atomic.Pointer[chan struct{}] // closed on release; nil before hold
}

// hold makes the batches that come to the store wait until release is
// called (or their ctx ends). Calling release again does nothing.
func (s *pausingStore) hold() (release func()) {
	ch := make(chan struct{})
	s.held.Store(&ch)
	return sync.OnceFunc(func() { close(ch) })
}

func (s *pausingStore) WriteMany(ctx context.Context, ws []hoard.Write[item]) error {
	select {
	case <-time.After(15 * time.Millisecond):
	case <-ctx.Done():
		return errors.Join(hoard.ErrUnavailable, ctx.Err())
	}
	if held := s.held.Load(); held != nil {
		select {
		case <-*held:
		case <-ctx.Done():
			return errors.Join(hoard.ErrUnavailable, ctx.Err())
		}
	}
	return s.Store.WriteMany(ctx, ws)
}
