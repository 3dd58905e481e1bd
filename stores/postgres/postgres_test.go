package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/stores/postgres"
)

// Every test ends with no goroutine left behind: pools and write-behind
// workers are closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// EnvPostgres points the tests at a PostgreSQL database; CI sets it to
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvPostgres = "HOARD_POSTGRES_URL"

// pgPool returns a pool on $HOARD_POSTGRES_URL, closed when the test ends,
// or skips the test when the variable is unset.
func pgPool(t testing.TB) *pgxpool.Pool {
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
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("PostgreSQL at %s does not answer: %v", EnvPostgres, err)
	}
	return pool
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// tableName is a table of the test's own, unique across runs.
func tableName(t testing.TB) string {
	name := nonWord.ReplaceAllString(strings.ToLower(t.Name()), "_")
	return fmt.Sprintf("hoard_test_%.30s_%d_%08x", name, os.Getpid(), rand.Uint32())
}

type product struct {
	Name  string `json:"name"`
	Price int    `json:"price"`
}

// newStore creates a table of the test's own and drops it at the end.
func newStore[V any](t testing.TB, pool *pgxpool.Pool, o postgres.Options) *postgres.Store[V] {
	t.Helper()
	if o.Table == "" {
		o.Table = tableName(t)
	}
	s, err := postgres.New[V](pool, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+pgx.Identifier(strings.Split(o.Table, ".")).Sanitize())
	})
	return s
}

// row reads a row as it is, tombstones included.
type row struct {
	version int64
	deleted bool
	value   []byte
}

func readRow(t testing.TB, pool *pgxpool.Pool, table, id string) (row, bool) {
	t.Helper()
	var r row
	err := pool.QueryRow(context.Background(),
		"SELECT version, deleted, value::text FROM "+pgx.Identifier{table}.Sanitize()+" WHERE id = $1", id).
		Scan(&r.version, &r.deleted, &r.value)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

func TestSaveLoadDeleteFollowVersions(t *testing.T) {
	ctx := context.Background()
	pool := pgPool(t)
	s := newStore[product](t, pool, postgres.Options{})
	kettle := product{Name: "kettle", Price: 30}

	if _, err := s.Load(ctx, "42"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Load of nothing: %v", err)
	}
	must(t, s.Save(ctx, "42", kettle, 10))
	must(t, s.Save(ctx, "42", product{Name: "older"}, 9)) // a late replay: ignored
	must(t, s.Save(ctx, "42", product{Name: "same"}, 10)) // the same version again: ignored
	if v, version, err := s.LoadVersion(ctx, "42"); err != nil || v != kettle || version != 10 {
		t.Fatalf("LoadVersion = %+v, %d, %v", v, version, err)
	}
	must(t, s.Delete(ctx, "42", 8)) // older than the row: ignored
	if v, err := s.Load(ctx, "42"); err != nil || v != kettle {
		t.Fatalf("Load after an older delete = %+v, %v", v, err)
	}
	must(t, s.Delete(ctx, "42", 11))
	if _, err := s.Load(ctx, "42"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Load after Delete: %v", err)
	}
	// The tombstone keeps the delete's version: a save from before the
	// delete, replayed now, does not bring the row back.
	must(t, s.Save(ctx, "42", product{Name: "resurrected"}, 10))
	if _, err := s.Load(ctx, "42"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("a replayed older save resurrected a deleted row: %v", err)
	}
	if r, ok := readRow(t, pool, s.Table(), "42"); !ok || !r.deleted || r.version != 11 || r.value != nil {
		t.Fatalf("tombstone %+v", r)
	}
	// A newer save after the delete is a real re-creation.
	must(t, s.Save(ctx, "42", product{Name: "new kettle"}, 12))
	if v, err := s.Load(ctx, "42"); err != nil || v.Name != "new kettle" {
		t.Fatalf("Load after a newer save = %+v, %v", v, err)
	}
	// Deleting an absent id leaves a tombstone that refuses older saves.
	must(t, s.Delete(ctx, "43", 5))
	must(t, s.Save(ctx, "43", kettle, 4))
	if _, err := s.Load(ctx, "43"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("an older save beat the delete of an absent id: %v", err)
	}
	if err := s.Save(ctx, "44", kettle, math.MaxInt64+1); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Fatalf("a version over bigint: %v", err)
	}
}

func TestWriteManyIsOneVersionedStatement(t *testing.T) {
	ctx := context.Background()
	pool := pgPool(t)
	s := newStore[product](t, pool, postgres.Options{})
	must(t, s.Save(ctx, "a", product{Name: "a5"}, 5))
	must(t, s.Save(ctx, "b", product{Name: "b5"}, 5))
	must(t, s.WriteMany(ctx, []hoard.Write[product]{
		{ID: "a", Value: product{Name: "a4"}, Version: 4}, // older than the row
		{ID: "b", Value: product{Name: "b6"}, Version: 6},
		{ID: "c", Value: product{Name: "c1"}, Version: 1},
		{ID: "c", Value: product{Name: "c3"}, Version: 3}, // twice in a batch: the newer wins
		{ID: "c", Value: product{Name: "c2"}, Version: 2},
		{ID: "d", Version: 7, Delete: true},
		{ID: "b", Version: 4, Delete: true}, // older than b6
	}))
	for id, want := range map[string]string{"a": "a5", "b": "b6", "c": "c3"} {
		if v, err := s.Load(ctx, id); err != nil || v.Name != want {
			t.Errorf("%s = %+v, %v, want %s", id, v, err, want)
		}
	}
	if r, ok := readRow(t, pool, s.Table(), "d"); !ok || !r.deleted || r.version != 7 {
		t.Fatalf("d: %+v", r)
	}
	must(t, s.WriteMany(ctx, nil))
	// A statement that fails stores none of its rows.
	bad := postgres.Options{Table: tableName(t), Codec: notJSON{}}
	sb := newStore[product](t, pool, bad)
	err := sb.WriteMany(ctx, []hoard.Write[product]{{ID: "x", Value: product{}, Version: 1}})
	if !errors.Is(err, hoard.ErrBackend) {
		t.Fatalf("WriteMany of bytes that are not JSON into jsonb: %v, want ErrBackend", err)
	}
}

// TestWriteManyConcurrentBatchesDoNotDeadlock: batches that share ids, in
// any order, from many writers: rows are locked in id order, so no
// deadlock, and every id ends at its highest version.
func TestWriteManyConcurrentBatchesDoNotDeadlock(t *testing.T) {
	ctx := context.Background()
	pool := pgPool(t)
	s := newStore[product](t, pool, postgres.Options{})
	const writers, batches, ids = 6, 20, 30
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for b := range batches {
				ws := make([]hoard.Write[product], 0, ids)
				for _, i := range rng.Perm(ids) {
					v := uint64(b*writers + w + 1)
					ws = append(ws, hoard.Write[product]{ID: fmt.Sprint(i), Value: product{Price: int(v)}, Version: v})
				}
				if err := s.WriteMany(ctx, ws); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range ids {
		if v, version, err := s.LoadVersion(ctx, fmt.Sprint(i)); err != nil || version != batches*writers || v.Price != batches*writers {
			t.Fatalf("%d = %+v at %d, %v", i, v, version, err)
		}
	}
}

func TestByteaWithAnyCodec(t *testing.T) {
	ctx := context.Background()
	pool := pgPool(t)
	s := newStore[product](t, pool, postgres.Options{Codec: hoard.MsgPack, ValueType: postgres.Bytea})
	must(t, s.Save(ctx, "1", product{Name: "msgpack", Price: 1}, 1))
	must(t, s.WriteMany(ctx, []hoard.Write[product]{{ID: "2", Value: product{Name: "two"}, Version: 1}, {ID: "3", Version: 1, Delete: true}}))
	if v, err := s.Load(ctx, "1"); err != nil || v.Name != "msgpack" {
		t.Fatalf("Load = %+v, %v", v, err)
	}
	if v, err := s.Load(ctx, "2"); err != nil || v.Name != "two" {
		t.Fatalf("Load = %+v, %v", v, err)
	}
	if _, err := s.Load(ctx, "3"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Load of a tombstone: %v", err)
	}
}

func TestPurgeTombstones(t *testing.T) {
	ctx := context.Background()
	pool := pgPool(t)
	s := newStore[product](t, pool, postgres.Options{})
	must(t, s.Save(ctx, "kept", product{}, 1))
	must(t, s.Delete(ctx, "gone", 1))
	if n, err := s.PurgeTombstones(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("PurgeTombstones(1h) = %d, %v: the tombstone is younger", n, err)
	}
	if n, err := s.PurgeTombstones(ctx, -time.Second); err != nil || n != 1 {
		t.Fatalf("PurgeTombstones = %d, %v", n, err)
	}
	if _, ok := readRow(t, pool, s.Table(), "gone"); ok {
		t.Fatal("tombstone kept")
	}
	if _, ok := readRow(t, pool, s.Table(), "kept"); !ok {
		t.Fatal("a live row was purged")
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	pool := pgPool(t)
	for _, o := range []postgres.Options{{}, {Table: "a.b.c"}, {Table: "a."}, {Table: "t", ValueType: 9}, {Table: strings.Repeat("x", 64)}} {
		if _, err := postgres.New[product](pool, o); !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("New(%+v): %v", o, err)
		}
	}
	if _, err := postgres.New[product](nil, postgres.Options{Table: "t"}); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("New(nil pool): %v", err)
	}
	// Names that need quoting are quoted, and long ones get an index name
	// that fits.
	ctx := context.Background()
	odd := newStore[product](t, pool, postgres.Options{Table: `Odd "name"; DROP ` + fmt.Sprintf("%08x", rand.Uint32())})
	must(t, odd.Save(ctx, "1", product{Name: "x"}, 1))
	long := newStore[product](t, pool, postgres.Options{Table: fmt.Sprintf("hoard_long_%08x_%s", rand.Uint32(), strings.Repeat("l", 40))})
	must(t, long.Save(ctx, "1", product{Name: "x"}, 1))
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := postgres.New[product](pool, postgres.Options{Table: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "1", product{}, 1); !errors.Is(err, hoard.ErrUnavailable) {
		t.Fatalf("Save on a closed port: %v, want ErrUnavailable", err)
	}
}

// notJSON is a codec whose bytes are not JSON.
type notJSON struct{}

func (notJSON) Name() string                { return "not-json" }
func (notJSON) Marshal(any) ([]byte, error) { return []byte("not json"), nil }
func (notJSON) Unmarshal([]byte, any) error { return errors.New("no") }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
