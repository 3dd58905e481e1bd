package changefeed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Drop removes what the feeds of slot keep in the database at connString:
// the replication slot (which retains WAL until it is dropped), the
// publication and the slot's row in the state table. It is for retiring a
// feed (a service that no longer caches the tables, a test's own slot):
// stop every Feed.Run of the slot first. A slot still read (a walsender
// ends a moment after its feed) is waited for until ctx ends. Dropping
// what does not exist is not an error.
func Drop(ctx context.Context, connString, slot string) error {
	if slot == "" {
		return errors.New("hoard: changefeed: Drop: the slot's name is empty")
	}
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return fmt.Errorf("hoard: changefeed: Drop %s: %w", slot, err)
	}
	defer closeQuietly(conn)
	for {
		var active bool
		err := conn.QueryRow(ctx, "select coalesce(bool_or(active), false) from pg_replication_slots where slot_name = $1", slot).Scan(&active)
		if err != nil {
			return fmt.Errorf("hoard: changefeed: Drop %s: %w", slot, err)
		}
		if !active {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hoard: changefeed: Drop %s: the slot is still read (is a feed of it running?): %w", slot, context.Cause(ctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
	var errs []error
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1", []any{slot}},
		{"drop publication if exists " + pgx.Identifier{slot}.Sanitize(), nil},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.args...); err != nil {
			errs = append(errs, fmt.Errorf("hoard: changefeed: Drop %s: %w", slot, err))
		}
	}
	// The state table is in the schema the connection's search_path names
	// (see prepare); a feed that never ran made none.
	var state bool
	if err := conn.QueryRow(ctx, "select to_regclass($1) is not null", stateTable).Scan(&state); err != nil {
		errs = append(errs, fmt.Errorf("hoard: changefeed: Drop %s: %w", slot, err))
	} else if state {
		if _, err := conn.Exec(ctx, "delete from "+stateTable+" where slot = $1", slot); err != nil {
			errs = append(errs, fmt.Errorf("hoard: changefeed: Drop %s: %w", slot, err))
		}
	}
	return errors.Join(errs...)
}
