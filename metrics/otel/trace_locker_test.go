package otel

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/hoardtest"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// followed returns how many waits l follows now.
func followed(l hoard.Locker) int {
	tl := l.(*tracedLocker)
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.waits)
}

// waitUnfollowed waits until l follows no wait: the AfterFunc of an ended
// ctx has run.
func waitUnfollowed(t *testing.T, l hoard.Locker) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for followed(l) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d waits still followed 10s after their ctx ended", followed(l))
		}
		runtime.Gosched()
	}
}

// spansNamed returns the ended spans named name.
func spansNamed(rec *spans, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// TestTraceLockerWaitAcquired: a waiter polls a held lock twice, the holder
// releases it, the third TryLock takes it. The wait is one span under the
// waiter's span, from its first TryLock to its last, and its polls have no
// spans of their own.
func TestTraceLockerWaitAcquired(t *testing.T) {
	tr, rec, test := newTracing(t, TraceOptions{Name: "products", Keys: KeysRaw})
	l := TraceLocker(tr, &hoard.LocalLocker{})
	holder, err := l.TryLock(context.Background(), "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx, parent := test.Start(ctx, "request")
	for range 2 {
		if _, err := l.TryLock(ctx, "k", time.Minute); !errors.Is(err, hoard.ErrLockHeld) {
			t.Fatalf("TryLock of a held lock: %v", err)
		}
	}
	if err := holder.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	lock, err := l.TryLock(ctx, "k", time.Minute)
	if err != nil {
		t.Fatalf("TryLock after the release: %v", err)
	}
	if err := lock.Release(ctx); err != nil {
		t.Fatal(err)
	}
	parent.End()

	tries := spansNamed(rec, LockTrySpan)
	if len(tries) != 2 {
		t.Fatalf("%d try spans, want 2 (the holder's, the waiter's first): %v", len(tries), names(rec.Ended()))
	}
	waits := spansNamed(rec, LockWaitSpan)
	if len(waits) != 1 {
		t.Fatalf("%d wait spans, want 1: %v", len(waits), names(rec.Ended()))
	}
	w, first := waits[0], tries[1]
	a := attrs(w)
	if a[AttrPolls].AsInt64() != 3 || a[AttrOutcome].AsString() != "acquired" || a[AttrKey].AsString() != "k" || a[AttrCache].AsString() != "products" {
		t.Errorf("wait attributes %v, want 3 polls, acquired, key k, cache products", w.Attributes())
	}
	if w.Parent().SpanID() != parent.SpanContext().SpanID() || first.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("the wait and its first try are not children of the waiter's span")
	}
	// The wait starts as its first try does: after the holder's try, not
	// after the first try's own start, and it ends after that try.
	if w.StartTime().Before(tries[0].EndTime()) || w.StartTime().After(first.StartTime()) || w.EndTime().Before(first.EndTime()) {
		t.Errorf("wait %v–%v does not start with its first try %v–%v", w.StartTime(), w.EndTime(), first.StartTime(), first.EndTime())
	}
	if attrs(first)[AttrOutcome].AsString() != "held" || attrs(tries[0])[AttrOutcome].AsString() != "acquired" {
		t.Errorf("try outcomes %v and %v", tries[0].Attributes(), first.Attributes())
	}
	if n := len(spansNamed(rec, LockReleaseSpan)); n != 2 {
		t.Errorf("%d release spans, want 2", n)
	}
	if n := followed(l); n != 0 {
		t.Errorf("%d waits still followed", n)
	}
}

// TestTraceLockerWaitStopped: a waiter polls twice and stops (it found the
// holder's value); its ctx ends, and the wait's span ends at its last
// TryLock.
func TestTraceLockerWaitStopped(t *testing.T) {
	tr, rec, _ := newTracing(t, TraceOptions{})
	l := TraceLocker(tr, &hoard.LocalLocker{})
	if _, err := l.TryLock(context.Background(), "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	for range 2 {
		if _, err := l.TryLock(ctx, "k", time.Minute); !errors.Is(err, hoard.ErrLockHeld) {
			t.Fatalf("TryLock of a held lock: %v", err)
		}
	}
	lastPoll := time.Now()
	cancel()
	w := rec.waitFor(t, LockWaitSpan)
	a := attrs(w)
	if a[AttrPolls].AsInt64() != 2 || a[AttrOutcome].AsString() != "stopped" || w.Status().Code == codes.Error {
		t.Errorf("wait %v, status %v; want 2 polls, stopped", w.Attributes(), w.Status())
	}
	if w.EndTime().After(lastPoll) {
		t.Errorf("the wait ends at %v, after its last poll ended (by %v)", w.EndTime(), lastPoll)
	}
	if a[AttrKeyHash].AsString() != hashOf("k") {
		t.Errorf("key hash %q", a[AttrKeyHash].AsString())
	}
}

// TestTraceLockerNoWait: a caller that tries once and leaves (a background
// refresh finding the key locked) makes a try span and no wait span; a ctx
// that cannot end is not followed, each of its TryLocks gets a try span.
func TestTraceLockerNoWait(t *testing.T) {
	tr, rec, _ := newTracing(t, TraceOptions{})
	l := TraceLocker(tr, &hoard.LocalLocker{})
	if _, err := l.TryLock(context.Background(), "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := l.TryLock(ctx, "k", time.Minute); !errors.Is(err, hoard.ErrLockHeld) {
		t.Fatalf("TryLock of a held lock: %v", err)
	}
	if followed(l) != 1 {
		t.Fatalf("the held TryLock is not followed")
	}
	cancel()
	waitUnfollowed(t, l)

	for range 3 {
		if _, err := l.TryLock(context.Background(), "k", time.Minute); !errors.Is(err, hoard.ErrLockHeld) {
			t.Fatalf("TryLock of a held lock: %v", err)
		}
	}
	if n := followed(l); n != 0 {
		t.Errorf("%d waits followed on a ctx that cannot end", n)
	}
	if got := names(rec.Ended()); len(got) != 5 || len(spansNamed(rec, LockTrySpan)) != 5 {
		t.Errorf("spans %v, want 5 tries and no wait", got)
	}
}

// TestTraceLockerWaitError: the locker fails while a waiter polls; the
// wait ends there, failed.
func TestTraceLockerWaitError(t *testing.T) {
	tr, rec, _ := newTracing(t, TraceOptions{})
	faults := hoardtest.NewFaults(1)
	l := TraceLocker(tr, hoardtest.NewFaultyLocker(&hoard.LocalLocker{}, faults.Inject))
	if _, err := l.TryLock(context.Background(), "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := l.TryLock(ctx, "k", time.Minute); !errors.Is(err, hoard.ErrLockHeld) {
		t.Fatalf("TryLock of a held lock: %v", err)
	}
	faults.SetDown(true)
	if _, err := l.TryLock(ctx, "k", time.Minute); !hoardtest.IsInjected(err) {
		t.Fatalf("TryLock with the locker down: %v", err)
	}
	waits := spansNamed(rec, LockWaitSpan)
	if len(waits) != 1 {
		t.Fatalf("wait spans %d, want 1", len(waits))
	}
	w := waits[0]
	if attrs(w)[AttrOutcome].AsString() != "error" || w.Status().Code != codes.Error || !hasException(w) {
		t.Errorf("wait %v, status %v; want outcome error, failed", w.Attributes(), w.Status())
	}
	if followed(l) != 0 {
		t.Errorf("the failed wait is still followed")
	}
}
