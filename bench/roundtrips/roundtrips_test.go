package roundtrips

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// TestRoundTrips counts every operation on an in-process miniredis (the
// client's counts: miniredis has no commandstats) and holds each to its
// budget, so that a change that adds a round trip fails here.
func TestRoundTrips(t *testing.T) {
	mr := miniredis.RunT(t)
	ctx := context.Background()
	rep, err := Run(ctx, mr.Addr(), "miniredis", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(Ops()) {
		t.Fatalf("%d results for %d operations", len(rep.Results), len(Ops()))
	}
	for _, r := range rep.Results {
		switch {
		case r.Err != nil:
			t.Errorf("%s: %v", r.Name, r.Err)
		case r.Trips > r.Budget:
			t.Errorf("%s: %d round trips (%s); its budget is %d", r.Name, r.Trips, format(r.Commands), r.Budget)
		case r.Trips < r.Min:
			t.Errorf("%s: %d round trips, fewer than the least possible, %d: the count or the least is wrong", r.Name, r.Trips, r.Min)
		case r.Others > 0 && !r.onB:
			t.Errorf("%s: the other instance made %d round trips meanwhile", r.Name, r.Others)
		}
	}
	var b bytes.Buffer
	if err := rep.WriteMarkdown(&b); err != nil || !strings.Contains(b.String(), "| Get: miss, load, write-back |") {
		t.Errorf("WriteMarkdown: %v\n%s", err, b.String())
	}
}

func TestKeyKind(t *testing.T) {
	for key, want := range map[string]string{
		"shop:items:42":            "entry",
		"shop:lock:shop:items:42":  "lock",
		"shop:ns:catalog":          "namespace",
		"shop:bus":                 "bus",
		"shop:{shop:tags}:epoch":   "tag clock",
		"shop:items:%25version:42": "version",
		"other:items:42":           "other",
	} {
		if got := keyKind("shop", key); got != want {
			t.Errorf("keyKind(%q) = %q; want %q", key, got, want)
		}
	}
}
