package main

import (
	"net/url"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx": PostgreSQL with --db
	_ "modernc.org/sqlite"             // database/sql driver "sqlite": pure Go, in memory
)

// dialect is what differs between the demo's two databases. Every query
// of the catalogue is written once, with ? placeholders and SQL that both
// accept (INSERT ... ON CONFLICT ... DO UPDATE ... WHERE, CAST, IN lists);
// the dialect only rewrites the placeholders and names the types.
type dialect struct {
	driver string // the database/sql driver
	bigint string // the type of the 64-bit integer columns
	dollar bool   // placeholders are $1, $2, ... rather than ?
}

var (
	sqliteDialect   = dialect{driver: "sqlite", bigint: "INTEGER"}
	postgresDialect = dialect{driver: "pgx", bigint: "BIGINT", dollar: true}
)

// rebind rewrites q's ? placeholders as $1, $2, ... when the dialect needs
// it. The demo's queries hold no ? inside a string literal.
func (d dialect) rebind(q string) string {
	if !d.dollar || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
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

// describeURL says where a PostgreSQL URL points, without its user and
// password: "127.0.0.1:5432/test". A keyword/value connection string
// ("host=... dbname=...") is not shown.
func describeURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "(connection string not shown)"
	}
	return u.Host + u.Path
}
