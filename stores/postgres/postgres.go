// Package postgres is a [hoard.Store] on a PostgreSQL table, for
// write-through and write-behind (and, as a [hoard.Loader], cache-aside).
//
// Each value is a row (id text primary key, value, version bigint,
// deleted boolean, updated_at). Saves and deletes are versioned upserts:
//
//	INSERT ... ON CONFLICT (id) DO UPDATE SET ... WHERE t.version < excluded.version
//
// so a write older than the row is a no-op, however late it arrives. A
// delete does not remove the row: it keeps it as a tombstone (deleted,
// value NULL) that holds the delete's version, so a save older than the
// delete replayed afterwards (a write-behind batch retried, or taken over
// from a dead process) cannot bring the row back. Load treats a tombstone
// as absent; [Store.PurgeTombstones] removes old ones.
//
// [Store.SaveNext] and [Store.DeleteNext] pick the version themselves, in
// the same statement: greatest(row's version + 1, floor). The Store is a
// [hoard.VersioningStore], so a [hoard.WriteThrough] on it needs no cache
// to version its writes, and orders them as PostgreSQL applied them.
//
// [Store.WriteMany] stores a batch in one statement, so one transaction:
// the rows are sent as arrays and unnested, newest write per id first
// (two writes of one id in one batch keep the higher version), and locked
// in id order so concurrent batches never deadlock.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/defaults"
)

// ValueType is the column type that holds the encoded values.
type ValueType uint8

// The value types.
const (
	// JSONB stores the Codec's output as jsonb: readable and queryable
	// in SQL. The Codec must write JSON (hoard.JSON does). The default.
	JSONB ValueType = iota
	// Bytea stores the Codec's output as bytes, for any Codec
	// (hoard.MsgPack, hoard.Compressed).
	Bytea
)

// Options configure a [Store]. Table is required.
type Options struct {
	// Table is the table's name, optionally schema-qualified
	// ("shop.products"). Each part is quoted as an identifier.
	Table string

	// Codec encodes values. Default: hoard.JSON.
	Codec hoard.Codec

	// ValueType is the type of the value column. Default: JSONB.
	ValueType ValueType
}

// Store is a [hoard.BatchStore] of values of type V in one PostgreSQL
// table. It is safe for concurrent use; the pool stays the caller's.
type Store[V any] struct {
	pool   *pgxpool.Pool
	codec  hoard.Codec
	table  string // quoted
	name   string // as given, for errors
	bytea  bool
	sqlGet string
	sqlPut string // one write: $1 id, $2 value, $3 version, $4 deleted
	sqlNxt string // one write at the next version: $1 id, $2 value, $3 floor, $4 deleted
	sqlBat string // a batch: $1 ids, $2 values, $3 versions, $4 deleted
	sqlDDL []string
	sqlTmb string
}

var (
	_ hoard.BatchStore[int]      = (*Store[int])(nil)
	_ hoard.VersioningStore[int] = (*Store[int])(nil)
)

// New returns the store of the table opts names, in pool. It does not
// touch the database: call [Store.CreateTable] to create the table, or
// create it with the statements it runs.
func New[V any](pool *pgxpool.Pool, opts Options) (*Store[V], error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: postgres: nil pool", hoard.ErrInvalidOption)
	}
	if opts.ValueType > Bytea {
		return nil, fmt.Errorf("%w: postgres %q: unknown ValueType %d", hoard.ErrInvalidOption, opts.Table, opts.ValueType)
	}
	parts := strings.Split(opts.Table, ".")
	if opts.Table == "" || len(parts) > 2 {
		return nil, fmt.Errorf("%w: postgres: Table %q is not a name or schema.name", hoard.ErrInvalidOption, opts.Table)
	}
	for _, p := range parts {
		if p == "" || strings.ContainsRune(p, 0) || len(p) > 63 {
			return nil, fmt.Errorf("%w: postgres: Table %q has an empty, NUL-holding or over-long part", hoard.ErrInvalidOption, opts.Table)
		}
	}
	s := &Store[V]{
		pool:  pool,
		codec: defaults.Codec(opts.Codec),
		table: pgx.Identifier(parts).Sanitize(),
		name:  opts.Table,
		bytea: opts.ValueType == Bytea,
	}
	col, cast := "jsonb", "::jsonb"
	if s.bytea {
		col, cast = "bytea", ""
	}
	// The index of the tombstones is "<table>_tombstones", or for a long
	// name its first 40 bytes and a hash of it: names stop at 63 bytes.
	base := parts[len(parts)-1]
	indexName := base + "_tombstones"
	if len(indexName) > 63 {
		h := fnv.New32a()
		_, _ = h.Write([]byte(base))
		indexName = fmt.Sprintf("%s_%08x_tombstones", strings.ToValidUTF8(base[:40], ""), h.Sum32())
	}
	index := pgx.Identifier{indexName}.Sanitize()
	s.sqlDDL = []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
	id text PRIMARY KEY,
	value %s,
	version bigint NOT NULL,
	deleted boolean NOT NULL DEFAULT false,
	updated_at timestamptz NOT NULL DEFAULT now()
)`, s.table, col),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (updated_at) WHERE deleted`, index, s.table),
	}
	s.sqlGet = fmt.Sprintf(`SELECT value, version FROM %s WHERE id = $1 AND NOT deleted`, s.table)
	const upsert = ` ON CONFLICT (id) DO UPDATE SET value = excluded.value, version = excluded.version,
	deleted = excluded.deleted, updated_at = excluded.updated_at
WHERE t.version < excluded.version`
	s.sqlPut = fmt.Sprintf(`INSERT INTO %s AS t (id, value, version, deleted, updated_at)
VALUES ($1, $2%s, $3, $4, now())`, s.table, cast) + upsert
	// The next version: the row locked by the conflict, so concurrent
	// writes of one id take their versions in the order they apply.
	s.sqlNxt = fmt.Sprintf(`INSERT INTO %s AS t (id, value, version, deleted, updated_at)
VALUES ($1, $2%s, $3, $4, now())
ON CONFLICT (id) DO UPDATE SET value = excluded.value, version = greatest(t.version + 1, excluded.version),
	deleted = excluded.deleted, updated_at = excluded.updated_at
RETURNING version`, s.table, cast)
	valueArray := "$2::text[]"
	if s.bytea {
		valueArray = "$2::bytea[]"
	}
	s.sqlBat = fmt.Sprintf(`INSERT INTO %s AS t (id, value, version, deleted, updated_at)
SELECT u.id, u.value%s, u.version, u.deleted, now()
FROM unnest($1::text[], %s, $3::bigint[], $4::boolean[]) AS u(id, value, version, deleted)
ORDER BY u.id`, s.table, cast, valueArray) + upsert
	s.sqlTmb = fmt.Sprintf(`DELETE FROM %s WHERE deleted AND updated_at < now() - $1::interval`, s.table)
	return s, nil
}

// Table returns the table's name as given.
func (s *Store[V]) Table() string { return s.name }

// CreateTable creates the table and the index of its tombstones, unless
// they exist.
func (s *Store[V]) CreateTable(ctx context.Context) error {
	for _, q := range s.sqlDDL {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			return s.wrap("create table", "", err)
		}
	}
	return nil
}

// Load returns the value of id, or an error wrapping [hoard.ErrNotFound]
// when there is no row or it is a tombstone.
func (s *Store[V]) Load(ctx context.Context, id string) (V, error) {
	v, _, err := s.LoadVersion(ctx, id)
	return v, err
}

// LoadVersion is Load that also returns the row's version.
func (s *Store[V]) LoadVersion(ctx context.Context, id string) (V, uint64, error) {
	var zero V
	var b []byte
	var version int64
	err := s.pool.QueryRow(ctx, s.sqlGet, id).Scan(&b, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return zero, 0, fmt.Errorf("%w: postgres %s: %q", hoard.ErrNotFound, s.name, id)
	}
	if err != nil {
		return zero, 0, s.wrap("load", id, err)
	}
	var v V
	if err := s.codec.Unmarshal(b, &v); err != nil {
		return zero, 0, fmt.Errorf("hoard: postgres %s: load %q: %w", s.name, id, err)
	}
	return v, uint64(version), nil
}

// Save stores v as the value of id at version, unless the row holds a
// newer or equal version (a save or a delete).
func (s *Store[V]) Save(ctx context.Context, id string, v V, version uint64) error {
	return s.write(ctx, hoard.Write[V]{ID: id, Value: v, Version: version})
}

// Delete makes id a tombstone at version, unless the row holds a newer or
// equal version. Deleting an absent id leaves a tombstone too: a save
// older than the delete that arrives later is refused.
func (s *Store[V]) Delete(ctx context.Context, id string, version uint64) error {
	return s.write(ctx, hoard.Write[V]{ID: id, Version: version, Delete: true})
}

// SaveNext stores v as the value of id at a version it picks in the same
// statement, above the row's (a save's or a tombstone's) and at least
// floor, and returns it. See [hoard.VersioningStore].
func (s *Store[V]) SaveNext(ctx context.Context, id string, v V, floor uint64) (uint64, error) {
	return s.writeNext(ctx, hoard.Write[V]{ID: id, Value: v, Version: floor})
}

// DeleteNext makes id a tombstone at a version picked as SaveNext picks
// it, and returns it.
func (s *Store[V]) DeleteNext(ctx context.Context, id string, floor uint64) (uint64, error) {
	return s.writeNext(ctx, hoard.Write[V]{ID: id, Version: floor, Delete: true})
}

// writeNext is SaveNext or DeleteNext: w.Version is the floor.
func (s *Store[V]) writeNext(ctx context.Context, w hoard.Write[V]) (uint64, error) {
	floor, value, err := s.encode(&w)
	if err != nil {
		return 0, err
	}
	var version int64
	if err := s.pool.QueryRow(ctx, s.sqlNxt, w.ID, s.arg(w, value), floor, w.Delete).Scan(&version); err != nil {
		return 0, s.wrap(opName(w), w.ID, err)
	}
	return uint64(version), nil
}

func (s *Store[V]) write(ctx context.Context, w hoard.Write[V]) error {
	version, value, err := s.encode(&w)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, s.sqlPut, w.ID, s.arg(w, value), version, w.Delete); err != nil {
		return s.wrap(opName(w), w.ID, err)
	}
	return nil
}

// arg is the value parameter of w, encoded as value: NULL for a delete.
func (s *Store[V]) arg(w hoard.Write[V], value []byte) any {
	switch {
	case w.Delete:
		return nil
	case s.bytea:
		return value
	default:
		return string(value)
	}
}

// opName names w's operation in errors.
func opName[V any](w hoard.Write[V]) string {
	if w.Delete {
		return "delete"
	}
	return "save"
}

// WriteMany applies writes in one statement (one transaction): every write
// newer than its row, or none if the statement fails. Of several writes
// of one id it keeps the highest version.
func (s *Store[V]) WriteMany(ctx context.Context, writes []hoard.Write[V]) error {
	if len(writes) == 0 {
		return nil
	}
	newest := make(map[string]int, len(writes))
	for i := range writes {
		if j, ok := newest[writes[i].ID]; !ok || writes[i].Version > writes[j].Version {
			newest[writes[i].ID] = i
		}
	}
	ids := make([]string, 0, len(newest))
	versions := make([]int64, 0, len(newest))
	deleted := make([]bool, 0, len(newest))
	var texts []*string
	var blobs [][]byte
	for i := range writes {
		w := &writes[i]
		if newest[w.ID] != i {
			continue
		}
		version, value, err := s.encode(w)
		if err != nil {
			return err
		}
		ids, versions, deleted = append(ids, w.ID), append(versions, version), append(deleted, w.Delete)
		switch {
		case s.bytea:
			blobs = append(blobs, value)
		case value == nil:
			texts = append(texts, nil)
		default:
			t := string(value)
			texts = append(texts, &t)
		}
	}
	var values any = texts
	if s.bytea {
		values = blobs
	}
	if _, err := s.pool.Exec(ctx, s.sqlBat, ids, values, versions, deleted); err != nil {
		return s.wrap("write many", fmt.Sprintf("%d rows", len(ids)), err)
	}
	return nil
}

// PurgeTombstones deletes the tombstones older than age and returns how
// many it deleted. A tombstone is what keeps a late save older than its
// delete out: purge only those older than any write can arrive late (for
// write-behind, well past the time a write can stay queued and retried).
func (s *Store[V]) PurgeTombstones(ctx context.Context, age time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, s.sqlTmb, fmt.Sprintf("%d microseconds", age.Microseconds()))
	if err != nil {
		return 0, s.wrap("purge tombstones", "", err)
	}
	return tag.RowsAffected(), nil
}

// encode checks w's version fits a bigint and encodes its value (nil for a
// delete).
func (s *Store[V]) encode(w *hoard.Write[V]) (int64, []byte, error) {
	if w.Version > math.MaxInt64 {
		return 0, nil, fmt.Errorf("%w: postgres %s: version %d of %q is over bigint's range", hoard.ErrInvalidOption, s.name, w.Version, w.ID)
	}
	if w.Delete {
		return int64(w.Version), nil, nil
	}
	b, err := s.codec.Marshal(w.Value)
	if err != nil {
		return 0, nil, fmt.Errorf("hoard: postgres %s: encode %q: %w", s.name, w.ID, err)
	}
	if b == nil {
		b = []byte{} // a value, not NULL
	}
	return int64(w.Version), b, nil
}

// wrap turns a pgx error into a hoard error that wraps it: ctx errors stay
// matchable, a reply from the server wraps ErrBackend, anything else (the
// connection, the pool) ErrUnavailable.
func (s *Store[V]) wrap(op, id string, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr):
		return fmt.Errorf("%w: postgres %s: %s %q: %w", hoard.ErrBackend, s.name, op, id, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("hoard: postgres %s: %s %q: %w", s.name, op, id, err)
	default:
		return fmt.Errorf("%w: postgres %s: %s %q: %w", hoard.ErrUnavailable, s.name, op, id, err)
	}
}
