package changefeed_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/hoard-cache/hoard/stores/postgres/changefeed"
)

// Every test ends with no goroutine left behind: feeds are stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// EnvPostgres points the tests at a PostgreSQL database; CI sets it to
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvPostgres = "HOARD_POSTGRES_URL"

// pgURL returns $HOARD_POSTGRES_URL, or skips the test when it is unset or
// when the server cannot serve a change feed.
func pgURL(t testing.TB) (string, *pgxpool.Pool) {
	t.Helper()
	url := os.Getenv(EnvPostgres)
	if url == "" {
		t.Skipf("PostgreSQL: %s is unset (CI sets it, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", EnvPostgres, err)
	}
	t.Cleanup(pool.Close)
	switch err := changefeed.Ready(ctx, url); {
	case errors.Is(err, changefeed.ErrNotReady):
		t.Skipf("PostgreSQL at %s (scripts/pg-logical.sh sets it up): %v", EnvPostgres, err)
	case err != nil:
		t.Fatalf("PostgreSQL at %s: %v", EnvPostgres, err)
	}
	return url, pool
}

// fixture is a table of the test's own, with a slot and a publication named
// after it, all dropped when the test ends.
type fixture struct {
	url   string
	pool  *pgxpool.Pool
	table string
	slot  string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	url, pool := pgURL(t)
	name := fmt.Sprintf("hoard_feed_%d_%08x", os.Getpid(), rand.Uint32())
	fx := &fixture{url: url, pool: pool, table: name, slot: name}
	exec(t, pool, "create table "+name+" (id int primary key, name text not null, team text)")
	t.Cleanup(func() {
		// Feeds stop before (their cleanups were registered later, and run
		// first); Drop waits for the walsender, which ends a moment later.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := changefeed.Drop(ctx, url, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		exec(t, pool, "drop table if exists "+name)
	})
	return fx
}

func exec(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// table is the fixture's mapping: id → "user:<id>", team → tag "team:<team>".
func (fx *fixture) tableMapping() changefeed.Table {
	return changefeed.Table{
		Name: fx.table,
		IDs:  func(r changefeed.Row) []string { return []string{"user:" + r["id"]} },
		Tags: func(r changefeed.Row) []string {
			if team, ok := r["team"]; ok {
				return []string{"team:" + team}
			}
			return nil
		},
	}
}

// recorder is a Sink that keeps what it is given; fail, when set, decides
// whether a call fails.
type recorder struct {
	mu      sync.Mutex
	cond    *sync.Cond
	got     []changefeed.Invalidations
	flushes int
	fail    func(changefeed.Invalidations) error
}

func newRecorder() *recorder {
	r := &recorder{}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *recorder) Invalidate(_ context.Context, inv changefeed.Invalidations) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(inv); err != nil {
			return err
		}
	}
	r.got = append(r.got, inv)
	r.cond.Broadcast()
	return nil
}

func (r *recorder) Flush(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushes++
	r.cond.Broadcast()
	return nil
}

// waitFor waits until ok holds for what was recorded, or fails the test
// after a generous bound.
func (r *recorder) waitFor(t *testing.T, what string, ok func(got []changefeed.Invalidations, flushes int) bool) {
	t.Helper()
	timer := time.AfterFunc(30*time.Second, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(30 * time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	for !ok(r.got, r.flushes) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: got %+v, %d flushes", what, r.got, r.flushes)
		}
		r.cond.Wait()
	}
}

// hasID reports whether any recorded invalidation names id.
func hasID(got []changefeed.Invalidations, id string) bool {
	for _, inv := range got {
		if slices.Contains(inv.IDs, id) {
			return true
		}
	}
	return false
}

// runFeed starts a feed; the returned function stops it and waits for it.
func runFeed(t testing.TB, opts changefeed.Options) (*changefeed.Feed, func()) {
	t.Helper()
	f, err := changefeed.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx) // ctx's error, on stop
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return f, stop
}

// waitUntil polls ok (a query of the server's state, which has nothing to
// wait on) until it holds, failing the test after a generous bound.
func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
