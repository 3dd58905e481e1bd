package scaling

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// TestRunShort runs every series at ShortConfig's sizes on an in-process
// miniredis: it keeps cmd/scaling working in CI, and checks that every
// figure was measured.
func TestRunShort(t *testing.T) {
	mr := miniredis.RunT(t)
	ctx := context.Background()
	env, err := NewEnv(ctx, mr.Addr(), "miniredis", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Close(context.Background()) })
	cfg := ShortConfig()
	cfg.Command = "go -C bench run ./cmd/scaling -short"
	rep, err := Run(ctx, env, cfg, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Values) != len(cfg.ValueSizes) || len(rep.Batches) != len(cfg.BatchSizes) || len(rep.Entries) != len(cfg.Entries) || len(rep.Instances) != len(cfg.Instances.Instances) {
		t.Fatalf("points: %d values, %d batches, %d entries, %d instances", len(rep.Values), len(rep.Batches), len(rep.Entries), len(rep.Instances))
	}
	for _, v := range rep.Values {
		for name, s := range v.NS {
			if m := s.Median(); math.IsNaN(m) || m <= 0 {
				t.Errorf("value size %d, %s: %v ns", v.Size, name, m)
			}
		}
		if v.Stored[codecJSON] < v.Size || v.Stored[codecJSONS2] <= 0 {
			t.Errorf("value size %d: stored %v", v.Size, v.Stored)
		}
	}
	for _, p := range rep.Entries {
		if p.Skipped == "" && (p.PerEntry[EHoard] <= 0 || p.NS[EHoard].Median() <= 0) {
			t.Errorf("%d entries: %v B per entry, %v ns", p.Entries, p.PerEntry[EHoard], p.NS[EHoard].Median())
		}
	}
	for _, p := range rep.Instances {
		if p.Reads <= 0 || p.Loads <= 0 || p.RoundTrips <= 0 {
			t.Errorf("%d instances: %+v", p.Instances, p)
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "#### Instances sharing one Redis") {
		t.Errorf("WriteMarkdown: %v", err)
	}
	if err := rep.WriteCharts(t.TempDir()); err != nil {
		t.Errorf("WriteCharts: %v", err)
	}
}

// makeDoc's JSON is about the size asked for.
func TestMakeDoc(t *testing.T) {
	for _, size := range []int{100, 1 << 10, 1 << 20} {
		d := makeDoc("d", size)
		if n := len(d.Body) + 20; n < size*9/10 || n > size*11/10 {
			t.Errorf("makeDoc(%d): body of %d bytes", size, len(d.Body))
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
