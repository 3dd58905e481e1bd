package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// short runs the demo in its short mode: tiny durations, two instances,
// the embedded miniredis whatever the environment says.
var short = []string{"demo", "--redis=", "--db=", "--duration=300ms", "--instances=2", "--products=1000", "--writes=200"}

func runDemo(t *testing.T, extra ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append(short, extra...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestDemoTables(t *testing.T) {
	code, out, errs := runDemo(t)
	if code != 0 {
		t.Fatalf("exit status %d; stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{
		"1. cache-aside", "2. stampede", "3. early refresh", "4. writes", "5. invalidation",
		"6. HTTP caching with ETags", "7. changes from outside hoard", "skipped: the database is the embedded SQLite",
		"scripts/pg-logical.sh", "PostgreSQL", "every promise kept (skipped here: changes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "BROKEN") {
		t.Errorf("a promise broke:\n%s", out)
	}
	// stdout is the report alone; progress goes to stderr, as plain lines
	// since stderr is no terminal here.
	if strings.Contains(out, "cache-aside (Zipf reads)") {
		t.Errorf("progress went to stdout:\n%s", out)
	}
	if !strings.Contains(errs, "cache-aside (Zipf reads)") {
		t.Errorf("no progress on stderr:\n%s", errs)
	}
	if strings.Contains(out+errs, "\r") {
		t.Errorf("progress rewrote its line on a non-terminal:\nstdout %q\nstderr %q", out, errs)
	}
}

func TestDemoJSON(t *testing.T) {
	code, out, errs := runDemo(t, "--json")
	if code != 0 {
		t.Fatalf("exit status %d; stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	var rep struct {
		OK        bool `json:"ok"`
		Scenarios []struct {
			Name     string          `json:"name"`
			Results  json.RawMessage `json:"results"`
			Promises []promise       `json:"promises"`
			Skipped  string          `json:"skipped"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if !rep.OK || len(rep.Scenarios) != len(scenarios) {
		t.Fatalf("ok=%v with %d scenarios:\n%s", rep.OK, len(rep.Scenarios), out)
	}
	results := map[string]json.RawMessage{}
	for _, s := range rep.Scenarios {
		results[s.Name] = s.Results
		// Only scenario 7 needs more than the embedded SQLite and miniredis.
		if skip := s.Skipped != ""; skip != (s.Name == "changes") {
			t.Errorf("%s: skipped %q", s.Name, s.Skipped)
		}
		for _, p := range s.Promises {
			if !p.Kept {
				t.Errorf("%s: broken: %s (%s)", s.Name, p.What, p.Got)
			}
		}
	}

	var aside asideData
	decode(t, results["cache-aside"], &aside)
	if aside.Reads == 0 || aside.Queries >= aside.QueriesNoCache {
		t.Errorf("cache-aside: %+v; want reads, and fewer queries than reads", aside)
	}
	var st stampedeData
	decode(t, results["stampede"], &st)
	if st.Hoard.Expiries == 0 || st.Hoard.MaxOnOneExpiry > 1 {
		t.Errorf("stampede with the lock: %+v; want at most one query per expiry", st.Hoard)
	}
	if st.Naive.MaxOnOneExpiry <= 1 {
		t.Errorf("naive stampede: %+v; want several queries on an expiry", st.Naive)
	}
	var w writesData
	decode(t, results["writes"], &w)
	for name, s := range map[string]writeSide{"write-through": w.WriteThrough, "write-behind": w.WriteBehind} {
		if s.Updates != 200 || s.StaleReads != 0 || s.LostWrites != 0 {
			t.Errorf("%s: %+v; want 200 updates, none stale or lost", name, s)
		}
	}
	if w.WriteBehind.StoreCalls >= w.WriteThrough.StoreCalls {
		t.Errorf("write-behind made %d store calls, write-through %d; want fewer (batches)", w.WriteBehind.StoreCalls, w.WriteThrough.StoreCalls)
	}
	var inv invalidationData
	decode(t, results["invalidation"], &inv)
	if inv.Checks == 0 || inv.StaleReads != 0 || inv.WriteThroughs == 0 || inv.Deletes == 0 || inv.TagInvals == 0 {
		t.Errorf("invalidation: %+v; want every kind of change checked and no stale read", inv)
	}
	var h httpData
	decode(t, results["http"], &h)
	if h.Requests == 0 || h.Renders == 0 || h.Hits == 0 || h.NotModified == 0 || h.BytesSaved == 0 ||
		h.Updates == 0 || h.StalePages != 0 || h.ETagReused != 0 {
		t.Errorf("http: %+v; want requests, renders, hits, 304s, updates, and no stale page", h)
	}
}

func decode(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"demo", "--instances=1"},
		{"demo", "--duration=0s"},
		{"demo", "extra"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("run(%q) = %d; want 2 (usage)", args, code)
		}
	}
}
