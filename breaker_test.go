package hoard

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond until it holds, failing the test after a generous
// deadline: it waits on the condition, not on a guess of how long it takes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// The breaker opens after Failures unavailable calls in a row, skips the
// tier while open, replays the deferred changes oldest first (the newest
// of each key only) when the tier answers, and only then closes.
func TestBreakerOpensDefersReplaysAndCloses(t *testing.T) {
	var mu sync.Mutex
	down := true
	probes := 0
	var replayed []string
	probe := func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		probes++
		if down {
			return ErrUnavailable
		}
		return nil
	}
	b, err := NewCircuitBreaker(&BreakerOptions{Failures: 2, OpenFor: time.Millisecond, Probe: probe})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.record(true)
	if !b.allow() {
		t.Fatal("open after 1 failure of 2")
	}
	b.record(false) // a success resets the count
	b.record(true)
	if !b.allow() {
		t.Fatal("open after a success and 1 failure")
	}
	b.record(true)
	if b.allow() || b.State() == BreakerClosed {
		t.Fatal("still closed after 2 failures in a row")
	}
	change := func(name string) func(context.Context) error {
		return func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			replayed = append(replayed, name)
			return nil
		}
	}
	for _, c := range []struct{ key, name string }{{"a", "a1"}, {"b", "b1"}, {"a", "a2"}} {
		if err := b.deferChange(context.Background(), c.key, change(c.name)); !errors.Is(err, ErrDeferred) {
			t.Fatalf("deferChange = %v; want ErrDeferred", err)
		}
	}
	if n := b.Deferred(); n != 2 {
		t.Fatalf("%d changes deferred; want 2 (newest per key)", n)
	}
	// Down: the probe fails, nothing is replayed, it stays open.
	waitFor(t, "a failed probe", func() bool { mu.Lock(); defer mu.Unlock(); return probes >= 1 })
	mu.Lock()
	early := len(replayed)
	mu.Unlock()
	if b.allow() || early > 0 {
		t.Fatal("closed, or replayed, while the tier is down")
	}
	mu.Lock()
	down = false
	mu.Unlock()
	waitFor(t, "the breaker to close", func() bool { return b.State() == BreakerClosed })
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"b1", "a2"}; !slices.Equal(replayed, want) {
		t.Fatalf("replayed %v; want %v", replayed, want)
	}
	if b.Deferred() != 0 || !b.allow() {
		t.Fatal("closed with changes left, or refusing calls")
	}
	m := b.Metrics().Snapshot()
	if m.Total(EventDeferred) != 3 || m.Total(EventReplayed) != 2 || m.Total(EventBreakerClose) != 1 {
		t.Fatalf("deferred %d, replayed %d, closed %d; want 3, 2, 1",
			m.Total(EventDeferred), m.Total(EventReplayed), m.Total(EventBreakerClose))
	}
}

// Past MaxDeferred the oldest change is dropped, and counted; a change
// deferred while the breaker was closed opens it.
func TestBreakerDropsPastMaxDeferred(t *testing.T) {
	b, err := NewCircuitBreaker(&BreakerOptions{MaxDeferred: 2, OpenFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	noop := func(context.Context) error { return nil }
	for _, k := range []string{"a", "b", "c"} {
		_ = b.deferChange(context.Background(), k, noop)
	}
	if b.State() != BreakerOpen {
		t.Fatalf("state %v after a deferred change; want open", b.State())
	}
	if n := b.Deferred(); n != 2 {
		t.Fatalf("%d deferred; want 2", n)
	}
	if n := b.Metrics().Snapshot().Total(EventDropped); n != 1 {
		t.Fatalf("%d dropped; want 1", n)
	}
	if err := b.Close(); err == nil {
		t.Fatal("Close with 2 changes not replayed returned no error")
	}
	if n := b.Metrics().Snapshot().Total(EventDropped); n != 3 {
		t.Fatalf("%d dropped after Close; want 3", n)
	}
}

func TestNewCircuitBreakerRejectsBadOptions(t *testing.T) {
	for _, o := range []BreakerOptions{{Failures: -1}, {OpenFor: -1}, {ProbeTimeout: -1}, {MaxDeferred: -1}} {
		if _, err := NewCircuitBreaker(&o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("NewCircuitBreaker(%+v) = %v; want ErrInvalidOption", o, err)
		}
	}
}
