package main

import (
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx": PostgreSQL
	_ "modernc.org/sqlite"             // database/sql driver "sqlite": pure Go
)

// dialect is what differs between the two databases the service runs on.
// Every query is written once, with ? placeholders and SQL both accept
// (INSERT ... ON CONFLICT ... DO UPDATE ... WHERE); the dialect rewrites
// the placeholders and names the integer type.
type dialect struct {
	driver string // the database/sql driver
	bigint string // the type of the 64-bit integer columns
	dollar bool   // placeholders are $1, $2, ... rather than ?

	// lockDDL, run first in the transaction that makes the table,
	// serialises instances that start together: PostgreSQL's CREATE ...
	// IF NOT EXISTS is not safe against a concurrent one (it fails on a
	// unique index of the catalogue). SQLite's is.
	lockDDL string

	// replicaIdentity, when set, is the query that sets the table's
	// REPLICA IDENTITY FULL (%[1]s the table) unless it is already: see
	// newRepo.
	replicaIdentity string
}

var (
	sqliteDialect   = dialect{driver: "sqlite", bigint: "INTEGER"}
	postgresDialect = dialect{driver: "pgx", bigint: "BIGINT", dollar: true,
		lockDDL: "SELECT pg_advisory_xact_lock(8675309)", // any number the app reserves for this
		// A DO block, so that a table already FULL is not locked again
		// (ALTER TABLE takes an exclusive lock) each time an instance starts.
		replicaIdentity: `DO $$ BEGIN
			IF (SELECT relreplident FROM pg_class WHERE oid = '%[1]s'::regclass) <> 'f' THEN
				ALTER TABLE %[1]s REPLICA IDENTITY FULL;
			END IF;
		END $$`}
)

// rebind rewrites q's ? placeholders as $1, $2, ... when the dialect needs
// it. The service's queries hold no ? inside a string literal.
func (d dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			b.WriteByte(q[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
