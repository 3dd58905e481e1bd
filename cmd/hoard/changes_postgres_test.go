package main

import (
	"context"
	"os"
	"testing"
	"time"
)

// A run of scenario 7 stopped midway (Ctrl-C) drops its replication slot
// and publication all the same: a forgotten slot retains WAL for ever.
func TestChangesDropSlotWhenStopped(t *testing.T) {
	url := os.Getenv("HOARD_POSTGRES_URL")
	if url == "" {
		t.Skip("HOARD_POSTGRES_URL is not set")
	}
	e, err := newEnv(context.Background(), config{dbURL: url, instances: 2, products: 100, latency: time.Millisecond, duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if skip, err := feedReadiness(context.Background(), e); err != nil || skip != "" {
		t.Skipf("no change feed on this server: %q %v", skip, err)
	}
	count := func(q string) int {
		var n int
		if err := e.db.db.QueryRowContext(context.Background(), q, e.db.schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const slots = "select count(*) from pg_replication_slots where slot_name = $1"
	const pubs = "select count(*) from pg_publication where pubname = $1"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := runChanges(ctx, e, progress{})
		errc <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for count(slots) == 0 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no slot %s after 30s (run: %v)", e.db.schema, <-errc)
		}
		time.Sleep(5 * time.Millisecond) // polling the server's state, which has nothing to wait on
	}
	cancel()
	if err := <-errc; err == nil {
		t.Error("a run stopped midway returned no error")
	}
	if s, p := count(slots), count(pubs); s != 0 || p != 0 {
		t.Errorf("after the stop: %d slots and %d publications named %s; want none", s, p, e.db.schema)
	}
}
