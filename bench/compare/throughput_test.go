package compare

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestThroughputShort runs the throughput workload at its short sizes: it
// keeps cmd/throughput compiling and working in CI, and checks that every
// library ran every cell and that no read of a pre-filled cache missed,
// except hoard's after writes (a write that loses a race invalidates).
func TestThroughputShort(t *testing.T) {
	env := testEnv(t)
	rep := RunThroughput(context.Background(), env, ShortThroughput(), "go -C bench run ./cmd/throughput -short", testWriter{t})
	cfg := ShortThroughput()
	cfg.defaults()
	if want := len(throughputLibs) * len(throughputMixes) * len(cfg.Goroutines); len(rep.Results) != want {
		t.Fatalf("%d results; want %d", len(rep.Results), want)
	}
	for _, r := range rep.Results {
		if r.Err != nil || len(r.OpsPerSec) == 0 || r.OpsPerSec[0] <= 0 {
			t.Errorf("%s, reads %d%%, %d goroutines: %v ops/s, %v", r.Lib, r.Mix, r.Goroutines, r.OpsPerSec, r.Err)
		}
		if r.Misses > 0 && !(r.Lib == Hoard && r.Mix < 100) {
			t.Errorf("%s, reads %d%%, %d goroutines: %d misses in a pre-filled cache", r.Lib, r.Mix, r.Goroutines, r.Misses)
		}
	}
	var md, png bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "| otter |") {
		t.Errorf("WriteMarkdown: %v\n%s", err, md.String())
	}
	if err := rep.WriteChart(&png); err != nil || png.Len() == 0 {
		t.Errorf("WriteChart: %v, %d bytes", err, png.Len())
	}
}
