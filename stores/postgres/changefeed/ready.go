package changefeed

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotReady is the server not set up for a change feed: wal_level is not
// logical, or a replication connection is refused (pg_hba.conf, or a role
// without REPLICATION). scripts/pg-logical.sh sets a local server up.
var ErrNotReady = errors.New("hoard: changefeed: the server cannot serve a change feed")

// Ready checks that the database at connString can serve a feed: it
// answers, its wal_level is logical, and it lets this role open a
// replication connection. A server that is not set up gives an error
// wrapping ErrNotReady, which says what is missing; one that cannot be
// reached gives another error.
func Ready(ctx context.Context, connString string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return fmt.Errorf("hoard: changefeed: connect: %w", err)
	}
	defer closeQuietly(conn)
	var level string
	if err := conn.QueryRow(ctx, "show wal_level").Scan(&level); err != nil {
		return fmt.Errorf("hoard: changefeed: show wal_level: %w", err)
	}
	if level != "logical" {
		return fmt.Errorf("%w: wal_level is %s, a feed needs logical (a restart)", ErrNotReady, level)
	}
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		return fmt.Errorf("hoard: changefeed: %w", err)
	}
	cfg.RuntimeParams["replication"] = "database"
	rconn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%w: a replication connection is refused (pg_hba.conf needs a replication line, the role the REPLICATION attribute): %w", ErrNotReady, err)
	}
	return rconn.Close(ctx)
}
