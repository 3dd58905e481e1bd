package main

import (
	"database/sql"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// openDB opens PostgreSQL at postgresURL when it is set, else SQLite: the
// file at sqlitePath, or an in-memory database when that is "". desc says
// which, without credentials.
func openDB(postgresURL, sqlitePath string) (db *sql.DB, d dialect, desc string, err error) {
	switch {
	case postgresURL != "":
		d, desc = postgresDialect, "PostgreSQL"
		if u, err := url.Parse(postgresURL); err == nil && u.Host != "" {
			desc += " at " + u.Host + u.Path
		}
		db, err = sql.Open(d.driver, postgresURL)
		if err == nil {
			db.SetMaxOpenConns(10)
			db.SetMaxIdleConns(10)
		}
	case sqlitePath != "":
		d, desc = sqliteDialect, "SQLite file "+sqlitePath
		// WAL and a busy timeout, so instances on one machine can share it.
		db, err = sql.Open(d.driver, "file:"+sqlitePath+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	default:
		d, desc = sqliteDialect, "SQLite in memory"
		db, err = sql.Open(d.driver, ":memory:")
		if err == nil {
			db.SetMaxOpenConns(1) // an in-memory database lives in its connection
		}
	}
	if err != nil {
		return nil, d, desc, fmt.Errorf("open %s: %w", desc, err)
	}
	return db, d, desc, nil
}

// startMiniredis starts an in-process Redis, for running the service with
// nothing installed, and makes its keys expire as time passes (miniredis
// moves its clock only when told). stop closes it.
func startMiniredis() (mr *miniredis.Miniredis, stop func(), err error) {
	mr, err = miniredis.Run()
	if err != nil {
		return nil, nil, fmt.Errorf("start miniredis: %w", err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	})
	return mr, sync.OnceFunc(func() {
		close(done)
		wg.Wait()
		mr.Close()
	}), nil
}
