package xfetch_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hoard-cache/hoard/bench/xfetch"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// server returns the real Redis at $HOARD_REDIS_ADDR, else a miniredis.
func server(t *testing.T) *xfetch.Server {
	t.Helper()
	var s *xfetch.Server
	var err error
	if addr := os.Getenv("HOARD_REDIS_ADDR"); addr != "" {
		s, err = xfetch.Connect(context.Background(), addr, false)
	} else {
		s, err = xfetch.StartMiniredis()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// The short run: 2 instances × 4 readers, TTL 300ms, delta 20ms, 1.5s per
// strategy (about 8s in all). The checks hold by a wide margin on a loaded
// machine: plain recomputes about once per reader per expiry, the locked
// strategies once per expiry; lock's readers wait at every expiry,
// xfetch+lock's do not.
func TestRunShort(t *testing.T) {
	srv := server(t)
	cfg := xfetch.Short()
	start := time.Now()
	rep, err := xfetch.Run(t.Context(), cfg, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %v", srv.Description, time.Since(start).Round(time.Millisecond))
	var md strings.Builder
	if err := xfetch.WriteMarkdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + md.String())

	periods := float64(cfg.Duration-cfg.TTL) / float64(cfg.TTL) // the warm-up is one TTL
	for _, s := range xfetch.Strategies() {
		res := rep.Result(s)
		if res == nil {
			t.Fatalf("%s did not run", s)
		}
		if res.Errors != 0 {
			t.Errorf("%s: %d read errors, the first: %s", s, res.Errors, res.FirstError)
		}
		if res.Reads == 0 || res.Requests < res.Reads || res.Misses > res.Requests || res.RawMisses > res.Misses {
			t.Errorf("%s: inconsistent counts: %d reads, %d requests, %d misses, %d raw misses",
				s, res.Reads, res.Requests, res.Misses, res.RawMisses)
		}
		if l := res.Latency; l.P50 > l.P99 || l.P99 > l.Max || res.Hit.P99 <= 0 {
			t.Errorf("%s: latency p50 %v, p99 %v, max %v, hit p99 %v", s, l.P50, l.P99, l.Max, res.Hit.P99)
		}
		// The key expires every TTL and is read all along: it is
		// recomputed about once per period, and never less than half.
		if float64(res.Recomputes) < periods/2 {
			t.Errorf("%s: %d recomputes in %.1f TTL periods", s, res.Recomputes, periods)
		}
	}
	plain, lock, xf, xfLock := rep.Result(xfetch.Plain), rep.Result(xfetch.Lock), rep.Result(xfetch.XFetch), rep.Result(xfetch.XFetchLock)
	for _, res := range []*xfetch.Result{lock, xfLock} {
		if plain.Recomputes < 2*res.Recomputes {
			t.Errorf("plain recomputed %d times, %s %d: want plain ≥ 2x", plain.Recomputes, res.Strategy, res.Recomputes)
		}
		if res.MaxConcurrent > 1 {
			t.Errorf("%s: %d recomputes ran at once despite the lock", res.Strategy, res.MaxConcurrent)
		}
	}
	if plain.MaxConcurrent < 2 {
		t.Errorf("plain: at most %d recompute at once: no stampede", plain.MaxConcurrent)
	}
	// With the lock every expiry makes readers wait; with XFetch in front
	// none should. Compared on reads, since one stall of the machine
	// counts as hundreds of paced requests; and only when the machine let
	// xfetch+lock run without stalls (a stall of a few hundred ms on a
	// busy 2-core machine makes every reader wait, whatever the strategy,
	// and says nothing of it).
	switch {
	case xfLock.Stalls > 0:
		t.Logf("xfetch+lock vs lock not compared: the machine stalled %d requests of xfetch+lock's run (no recompute ran during their wait)", xfLock.Stalls)
	case xfLock.RawMisses >= lock.RawMisses:
		t.Errorf("xfetch+lock made %d reads wait, lock %d: want fewer", xfLock.RawMisses, lock.RawMisses)
	}
	if lock.Hoard.LockWaits == 0 {
		t.Error("lock: no reader waited for another instance's load")
	}
	for _, res := range []*xfetch.Result{xf, xfLock} {
		if res.Hoard.EarlyRefreshes == 0 || res.MeanLead <= 0 {
			t.Errorf("%s: %d early refreshes, mean lead %v: XFetch never refreshed early",
				res.Strategy, res.Hoard.EarlyRefreshes, res.MeanLead)
		}
	}

	var png bytes.Buffer
	if err := xfetch.WriteChart(&png, rep); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png.Bytes(), []byte("\x89PNG")) {
		t.Errorf("the chart is not a PNG: % x", png.Bytes()[:min(8, png.Len())])
	}
	if len(xfetch.Check(rep)) == 0 || !strings.Contains(md.String(), "| xfetch+lock |") {
		t.Errorf("the report has no targets or no xfetch+lock row:\n%s", md.String())
	}
}

func TestParseStrategies(t *testing.T) {
	got, err := xfetch.ParseStrategies("xfetch+lock, plain")
	if err != nil || len(got) != 2 || got[0] != xfetch.XFetchLock || got[1] != xfetch.Plain {
		t.Errorf("ParseStrategies = %v, %v", got, err)
	}
	if all, err := xfetch.ParseStrategies("all"); err != nil || len(all) != 4 {
		t.Errorf("ParseStrategies(all) = %v, %v", all, err)
	}
	if _, err := xfetch.ParseStrategies("xfetch,nope"); err == nil {
		t.Error("ParseStrategies accepted an unknown name")
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	cfg := xfetch.Short()
	cfg.Delta = cfg.TTL
	if _, err := xfetch.Run(t.Context(), cfg, &xfetch.Server{Addr: "127.0.0.1:1"}, nil); err == nil {
		t.Error("Run accepted a delta as long as the TTL")
	}
}
