package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestDemoPostgres runs the demo's scenarios in short mode on the
// PostgreSQL server at HOARD_POSTGRES_URL (and the Redis at
// HOARD_REDIS_ADDR when set, else miniredis) and checks their promises.
func TestDemoPostgres(t *testing.T) {
	url := os.Getenv("HOARD_POSTGRES_URL")
	if url == "" {
		t.Skip("HOARD_POSTGRES_URL is not set")
	}
	var out, errb strings.Builder
	args := []string{"demo", "--redis=" + os.Getenv("HOARD_REDIS_ADDR"), "--db=" + url, "--json",
		"--duration=300ms", "--instances=2", "--products=1000", "--writes=200"}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit status %d; stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	var rep struct {
		OK        bool   `json:"ok"`
		Database  string `json:"database"`
		Scenarios []struct {
			Name     string          `json:"name"`
			Promises []promise       `json:"promises"`
			Skipped  string          `json:"skipped"`
			Results  json.RawMessage `json:"results"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
	}
	if !strings.HasPrefix(rep.Database, "PostgreSQL at ") {
		t.Errorf("database %q; want PostgreSQL", rep.Database)
	}
	if !rep.OK || len(rep.Scenarios) != len(scenarios) {
		t.Fatalf("ok=%v with %d scenarios:\n%s", rep.OK, len(rep.Scenarios), out.String())
	}
	promises := 0
	for _, s := range rep.Scenarios {
		for _, p := range s.Promises {
			promises++
			if !p.Kept {
				t.Errorf("%s: broken: %s (%s)", s.Name, p.What, p.Got)
			}
		}
	}
	if promises == 0 {
		t.Error("no promise was checked")
	}
	checked := false
	for _, s := range rep.Scenarios {
		if s.Name == "changes" {
			checkChanges(t, url, s.Skipped, s.Results)
			checked = true
		}
	}
	if !checked {
		t.Error("no changes scenario in the report")
	}
}

// checkChanges checks scenario 7 of a demo run on PostgreSQL: it ran where
// the server allows a change feed (and tracking on a real Redis), every
// change arrived, and the run dropped its slot and publication.
func checkChanges(t *testing.T, url, skipped string, raw json.RawMessage) {
	t.Helper()
	var d changesData
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("changes: %v\n%s", err, raw)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var level string
	if err := db.QueryRowContext(ctx, "show wal_level").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != "logical" {
		if d.Feed.Skipped == "" || !strings.Contains(d.Feed.Skipped, "wal_level") {
			t.Errorf("wal_level %s: the feed ran, or was skipped for another reason: %q", level, d.Feed.Skipped)
		}
		t.Logf("wal_level is %s: the change feed's part was skipped (scripts/pg-logical.sh sets it)", level)
		return
	}
	if skipped != "" || d.Feed.Skipped != "" {
		t.Fatalf("wal_level is logical, yet the changes scenario was skipped: %q; feed: %q", skipped, d.Feed.Skipped)
	}
	f := d.Feed
	if f.Updates == 0 || f.Moves == 0 || f.Deletes == 0 || f.Missed != 0 || f.StaleReads != 0 || f.ReadsChecked == 0 || f.MovesBothTags != f.Moves {
		t.Errorf("feed: %+v; want updates, moves and deletes, every one arrived, no stale read", f)
	}
	if to := f.Takeover; to == nil || to.Changes == 0 || to.Missed != 0 || to.StaleReads != 0 || to.TookOver < 0 || to.TookOver == to.Stopped {
		t.Errorf("takeover: %+v; want another instance to take over and every change made meanwhile to arrive", to)
	}
	var slots, pubs int
	if err := db.QueryRowContext(ctx, "select count(*) from pg_replication_slots where slot_name = $1", f.Slot).Scan(&slots); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "select count(*) from pg_publication where pubname = $1", f.Slot).Scan(&pubs); err != nil {
		t.Fatal(err)
	}
	if f.Slot == "" || slots != 0 || pubs != 0 {
		t.Errorf("slot %q: %d slots and %d publications of that name left; want none", f.Slot, slots, pubs)
	}
	tr := d.Tracking
	if os.Getenv("HOARD_REDIS_ADDR") == "" {
		if !strings.Contains(tr.Skipped, "miniredis") {
			t.Errorf("tracking on miniredis: skipped %q; want it skipped, saying why", tr.Skipped)
		}
		return
	}
	if tr.Skipped != "" || tr.Keys == 0 || tr.Missed != 0 || tr.StaleReads != 0 {
		t.Errorf("tracking: %+v; want keys deleted, each dropped from every memory tier, no stale read", tr)
	}
}
