package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/hoardtest"
)

// The shared-tier budget of the black-hole test: the service's default soft
// timeout, and a hard timeout long enough that no Get on a busy machine
// comes near it unless it really waits for Redis.
const (
	blackHoleSoft = 100 * time.Millisecond // hoardredis's default
	blackHoleHard = 5 * time.Second
)

// Redis black-holed (toxiproxy's timeout toxic: the bytes are swallowed,
// the connections held) behind a cache wired as the README shows, its
// source down too:
//
//   - a Get with no value at hand returns a clear hoard error by the hard
//     timeout, not at its own deadline;
//   - 50 Gets of keys whose memory copies are past their TTL, within the
//     fail-safe window, each return the copy (ErrServedStale, or the
//     fail-safe's throttled copy), none near the hard timeout: within the
//     soft timeout while the breaker is closed, at once once it is open;
//   - the breaker opens on the background refreshes that met the hard
//     timeout, and a Get with no value at hand then fails at once.
//
// Latencies are logged (docs/reliability.md gives them), and asserted only
// against the hard timeout: 50 times the soft one.
func TestBlackHoledRedisServesWithinBudget(t *testing.T) {
	const keys = 10
	srv := startRedis(t)
	proxy := newFaultProxy(t, srv.Addr())
	clock := hoardtest.NewFakeClock(time.Now())
	in := newSvcInstance(t, "b1", proxy.Addr(), fmt.Sprintf("budget%d", time.Now().UnixNano()), &hoardredis.ServiceOptions{
		Clock: clock, SharedBudget: &hoard.SharedBudget{SoftTimeout: blackHoleSoft, HardTimeout: blackHoleHard},
	})
	cache := newSvcAside(t, in, "items", &hoard.AsideOptions[string]{TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour}})
	src := newMemStore[string]()
	ctx := context.Background()
	for k := range keys {
		id := fmt.Sprint(k)
		src.Put(id, "v"+id)
		if v, err := cache.Get(ctx, id, src); v != "v"+id || err != nil {
			t.Fatalf("warm-up Get(%s) = %q, %v", id, v, err)
		}
	}
	clock.Advance(2 * time.Minute) // past the TTL, within the fail-safe window
	src.fail.Store(true)
	proxy.Toxic("timeout", "upstream", map[string]any{"timeout": 0})
	defer proxy.Heal() // before the service closes: its background refreshes then end

	// No value at hand, the breaker closed: the hard timeout.
	took, err := coldGet(t, cache, src, "cold-1")
	t.Logf("no value at hand, breaker closed: %v after %v", err, took.Round(time.Millisecond))

	// 50 Gets with a stale copy in memory; the breaker opens meanwhile.
	var closed, open []time.Duration
	var served, throttled int
	for i := range 50 {
		state := in.svc.Breaker().State()
		d, stale := staleGet(t, cache, fmt.Sprint(i%keys))
		if state == hoard.BreakerClosed {
			closed = append(closed, d)
		} else {
			open = append(open, d)
		}
		if stale {
			served++
		} else {
			throttled++
		}
	}
	eventually(t, 3*blackHoleHard, "the breaker opens", func() bool { return in.svc.Breaker().State() != hoard.BreakerClosed })
	for i := range 50 { // and 50 more with it open
		d, stale := staleGet(t, cache, fmt.Sprint(i%keys))
		open = append(open, d)
		if stale {
			served++
		} else {
			throttled++
		}
	}
	t.Logf("stale copies: %d served with ErrServedStale, %d as the fail-safe's throttled copy", served, throttled)
	t.Logf("breaker closed: %s", latencies(closed))
	t.Logf("breaker open:   %s", latencies(open))

	// No value at hand, the breaker open: at once.
	took, err = coldGet(t, cache, src, "cold-2")
	t.Logf("no value at hand, breaker open: %v after %v", err, took.Round(time.Millisecond))
}

// staleGet gets id, whose value "v<id>" is in memory past its TTL, and
// checks that it answers with it, before the hard timeout. It returns how
// long it took and whether it came with ErrServedStale (else it was the
// fail-safe's throttled copy, served as fresh).
func staleGet(t *testing.T, cache *hoard.Aside[string], id string) (time.Duration, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*blackHoleHard)
	defer cancel()
	start := time.Now()
	v, err := cache.Get(ctx, id, hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
		return "", errSourceDown
	}))
	took := time.Since(start)
	if v != "v"+id || (err != nil && !errors.Is(err, hoard.ErrServedStale)) {
		t.Fatalf("Get(%s) with Redis black-holed = %q, %v after %v; want the stale copy %q", id, v, err, took, "v"+id)
	}
	if took >= blackHoleHard {
		t.Fatalf("Get(%s) with Redis black-holed took %v, past the hard timeout %v", id, took, blackHoleHard)
	}
	return took, err != nil
}

// coldGet gets id, which no tier holds, its source down, and checks that
// it fails with a clear hoard error that keeps the source's, before its
// ctx ends (three hard timeouts away).
func coldGet(t *testing.T, cache *hoard.Aside[string], src *memStore[string], id string) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*blackHoleHard)
	defer cancel()
	start := time.Now()
	v, err := cache.Get(ctx, id, src)
	took := time.Since(start)
	switch {
	case ctx.Err() != nil:
		t.Fatalf("Get(%s), nothing at hand, waited out its ctx (%v): %q, %v", id, took, v, err)
	case err == nil || !errors.Is(err, errSourceDown) || !clearHoardText(err):
		t.Fatalf("Get(%s), nothing at hand = %q, %v; want a hoard: error keeping the source's", id, v, err)
	}
	return took, err
}

// clearHoardText reports whether err's text says "hoard:" first.
func clearHoardText(err error) bool { return len(err.Error()) > 6 && err.Error()[:6] == "hoard:" }

// latencies formats the count, p50, p99 and max of ds.
func latencies(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Sorted(slices.Values(ds))
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	r := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	return fmt.Sprintf("%d Gets, p50 %v, p99 %v, max %v", len(s), r(q(0.5)), r(q(0.99)), r(s[len(s)-1]))
}
