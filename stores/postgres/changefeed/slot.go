package changefeed

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// stateTable records, per slot, that the Sink was flushed after the slot was
// created: a consumer that dies between the two flushes on its next start.
const stateTable = "hoard_changefeed_slots"

// prepare makes the publication match the tables, and the slot usable:
// created when missing, recreated when the server invalidated it for the
// WAL it retained, the Sink flushed after either.
func (f *Feed) prepare(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "create table if not exists "+stateTable+
		" (slot text primary key, flushed_at timestamptz not null default now())"); err != nil {
		return fmt.Errorf("hoard: changefeed: state table: %w", err)
	}
	if err := f.publication(ctx, conn); err != nil {
		return err
	}
	var status string
	err := conn.QueryRow(ctx, "select coalesce(wal_status, '') from pg_replication_slots where slot_name = $1", f.opts.Slot).Scan(&status)
	switch {
	case err == pgx.ErrNoRows:
		if err := f.createSlot(ctx, conn); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("hoard: changefeed: slot %s: %w", f.opts.Slot, err)
	case status == "lost":
		f.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "hoard: changefeed: slot lost its WAL (consumer away longer than max_slot_wal_keep_size): recreating it and flushing",
			slog.String("slot", f.opts.Slot))
		if _, err := conn.Exec(ctx, "select pg_drop_replication_slot($1)", f.opts.Slot); err != nil {
			return fmt.Errorf("hoard: changefeed: drop lost slot %s: %w", f.opts.Slot, err)
		}
		if err := f.createSlot(ctx, conn); err != nil {
			return err
		}
	}
	var flushed bool
	if err := conn.QueryRow(ctx, "select exists (select 1 from "+stateTable+" where slot = $1)", f.opts.Slot).Scan(&flushed); err != nil {
		return fmt.Errorf("hoard: changefeed: state table: %w", err)
	}
	if flushed {
		return nil
	}
	if err := f.opts.Sink.Flush(ctx); err != nil {
		return fmt.Errorf("hoard: changefeed: flush after creating slot %s: %w", f.opts.Slot, err)
	}
	f.flushes.Add(1)
	if _, err := conn.Exec(ctx, "insert into "+stateTable+" (slot) values ($1) on conflict (slot) do update set flushed_at = now()", f.opts.Slot); err != nil {
		return fmt.Errorf("hoard: changefeed: state table: %w", err)
	}
	return nil
}

// createSlot creates the slot, after forgetting that an earlier one was
// flushed: changes before the new slot are unknown, the Sink must flush.
func (f *Feed) createSlot(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "delete from "+stateTable+" where slot = $1", f.opts.Slot); err != nil {
		return fmt.Errorf("hoard: changefeed: state table: %w", err)
	}
	if _, err := conn.Exec(ctx, "select pg_create_logical_replication_slot($1, 'pgoutput')", f.opts.Slot); err != nil {
		return fmt.Errorf("hoard: changefeed: create slot %s: %w", f.opts.Slot, err)
	}
	f.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "hoard: changefeed: slot created", slog.String("slot", f.opts.Slot))
	return nil
}

// publication creates the publication, or sets its tables to the feed's.
func (f *Feed) publication(ctx context.Context, conn *pgx.Conn) error {
	names := make([]string, 0, len(f.tables))
	for name := range f.tables {
		schema, table, _ := strings.Cut(name, ".")
		names = append(names, pgx.Identifier{schema, table}.Sanitize())
	}
	sort.Strings(names)
	list := strings.Join(names, ", ")
	pub := pgx.Identifier{f.opts.Slot}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, "select exists (select 1 from pg_publication where pubname = $1)", f.opts.Slot).Scan(&exists); err != nil {
		return fmt.Errorf("hoard: changefeed: publication: %w", err)
	}
	sql := "create publication " + pub + " for table " + list
	if exists {
		sql = "alter publication " + pub + " set table " + list
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("hoard: changefeed: publication %s: %w", f.opts.Slot, err)
	}
	return nil
}
