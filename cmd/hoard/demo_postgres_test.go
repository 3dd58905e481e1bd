package main

import (
	"context"
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
			Name     string    `json:"name"`
			Promises []promise `json:"promises"`
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
}
