package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// On the embedded SQLite and miniredis, scenario 7 runs nothing: it says
// why, and how to see it, and breaks no promise.
func TestChangesSkippedOnEmbedded(t *testing.T) {
	ctx := context.Background()
	e, err := newEnv(ctx, config{instances: 2, products: 100, latency: time.Millisecond, duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r, err := runChanges(ctx, e, progress{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"embedded SQLite", "wal_level=logical", "miniredis", "CLIENT TRACKING", "scripts/pg-logical.sh", "--db 'postgres://"} {
		if !strings.Contains(r.Skipped, want) {
			t.Errorf("skipped %q; want it to mention %q", r.Skipped, want)
		}
	}
	if !r.ok() || len(r.Promises) != 0 || len(r.rows) != 0 {
		t.Errorf("a skipped scenario: ok %v, promises %+v, rows %v", r.ok(), r.Promises, r.rows)
	}
	d := r.Data.(*changesData)
	if d.Feed.Skipped == "" || d.Tracking.Skipped == "" {
		t.Errorf("parts skipped: feed %q, tracking %q; want both", d.Feed.Skipped, d.Tracking.Skipped)
	}
	var out strings.Builder
	r.print(&out)
	if lines := strings.Count(out.String(), "\n"); lines != 3 || !strings.Contains(out.String(), "  skipped: ") {
		t.Errorf("printed %d lines; want the title and one skipped line:\n%s", lines, out.String())
	}
}

func TestWithSearchPath(t *testing.T) {
	for _, c := range []struct{ dsn, want string }{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?search_path=s1&sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db?search_path=s1"},
		{"host=h dbname=db", "host=h dbname=db search_path=s1"},
	} {
		got, err := withSearchPath(c.dsn, "s1")
		if err != nil || got != c.want {
			t.Errorf("withSearchPath(%q) = %q, %v; want %q", c.dsn, got, err, c.want)
		}
	}
}

func TestTimingsQuantile(t *testing.T) {
	ts := timings{5, 1, 4, 2, 3}
	for q, want := range map[float64]time.Duration{0.5: 3, 0.99: 5, 1: 5, 0.2: 1} {
		if got := ts.quantile(q); got != want {
			t.Errorf("quantile(%v) = %v; want %v", q, got, want)
		}
	}
	if s := (timings{}).summary(); s.P50 != "-" || s.Max != "-" {
		t.Errorf("summary of none: %+v", s)
	}
}
