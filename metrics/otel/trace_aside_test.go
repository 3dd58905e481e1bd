package otel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// redisAddr returns the Redis the test's instances share: the real server
// when HOARD_REDIS_ADDR is set, else a miniredis.
func redisAddr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(redistest.EnvAddr); addr != "" {
		return addr
	}
	mr, _ := redistest.Miniredis(t)
	return mr.Addr()
}

func uniqueName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// tracedInstance is one process of a test: an Aside with a memory tier in
// front of a traced Redis tier, and a traced Redis locker (its TryLocks go
// through inject first, when it is set).
func tracedInstance(t testing.TB, tr *Tracer, addr, name string, inject hoardtest.Injector) *hoard.Aside[string] {
	t.Helper()
	client := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { _ = client.Close() })
	mem, err := memory.New[string](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	rc, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := TraceCache[string](tr, hoard.TierShared, rc)
	if err != nil {
		t.Fatal(err)
	}
	var locker hoard.Locker
	if locker, err = hoardredis.NewLocker(client, &hoardredis.LockerOptions{Prefix: name + ":lock:"}); err != nil {
		t.Fatal(err)
	}
	if inject != nil {
		locker = hoardtest.NewFaultyLocker(locker, inject)
	}
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{
		Name: name, Memory: mem, Shared: shared, TTL: time.Minute,
		Stampede: &hoard.Stampede{Locker: TraceLocker(tr, locker)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a
}

// wantTree checks that the spans under parent are named as want, in the
// order they ended.
func wantTree(t *testing.T, rec *spans, parent sdktrace.ReadOnlySpan, want ...string) []sdktrace.ReadOnlySpan {
	t.Helper()
	got := childrenOf(rec.Ended(), parent.SpanContext())
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].Name() == want[i]
	}
	if !ok {
		t.Fatalf("spans under %q: %v, want %v", parent.Name(), names(got), want)
	}
	return got
}

// TestTraceAsideMissAndHit follows a miss of a two-tier Aside on Redis:
// under the request's span, the shared tier's miss, the lock, the
// double-check read, the load, the write-back and the release; then a
// second instance's hit in the shared tier.
func TestTraceAsideMissAndHit(t *testing.T) {
	tr, rec, test := newTracing(t, TraceOptions{Name: "products"})
	addr, name := redisAddr(t), uniqueName("otel-trace")
	a := tracedInstance(t, tr, addr, name, nil)
	loader := TraceLoader(tr, hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "lamp", nil }))

	ctx, req := test.Start(context.Background(), "GET /products/42")
	if v, err := a.Get(ctx, "42", loader); v != "lamp" || err != nil {
		t.Fatalf("Get: %q, %v", v, err)
	}
	req.End()
	miss := wantTree(t, rec, req.(sdktrace.ReadOnlySpan),
		"hoard.shared.get_with_token", LockTrySpan, "hoard.shared.get_with_token", LoadSpan, "hoard.shared.compare_and_set", LockReleaseSpan)
	if attrs(miss[0])[AttrHit].AsBool() || attrs(miss[2])[AttrHit].AsBool() {
		t.Errorf("the reads of the miss found an entry")
	}
	if got := attrs(miss[1])[AttrOutcome].AsString(); got != "acquired" {
		t.Errorf("lock try: %s", got)
	}
	if got := attrs(miss[4])[AttrOutcome].AsString(); got != "stored" {
		t.Errorf("write-back: %s", got)
	}
	for _, s := range miss {
		if s.SpanContext().TraceID() != req.SpanContext().TraceID() || attrs(s)[AttrCache].AsString() != "products" {
			t.Errorf("%s: not in the request's trace, or no cache name", s.Name())
		}
	}

	// The same instance answers from its memory tier, which is not traced.
	n := len(rec.Ended())
	ctx, req = test.Start(context.Background(), "GET /products/42 again")
	if _, err := a.Get(ctx, "42", loader); err != nil {
		t.Fatal(err)
	}
	req.End()
	if got := rec.Ended()[n:]; len(got) != 1 {
		t.Errorf("a memory hit made spans %v", names(got))
	}

	// Another instance finds it in Redis.
	b := tracedInstance(t, tr, addr, name, nil)
	ctx, req = test.Start(context.Background(), "GET /products/42 elsewhere")
	if _, err := b.Get(ctx, "42", loader); err != nil {
		t.Fatal(err)
	}
	req.End()
	hit := wantTree(t, rec, req.(sdktrace.ReadOnlySpan), "hoard.shared.get_with_token")
	if !attrs(hit[0])[AttrHit].AsBool() {
		t.Errorf("the shared tier's hit says hit=false")
	}
}

// TestTraceAsideLockWait: instance A loads a key slowly while holding its
// lock; instance B, asked for the same key, waits. B's trace shows the
// wait as one span, then the read that found A's value, and no load.
func TestTraceAsideLockWait(t *testing.T) {
	tr, rec, test := newTracing(t, TraceOptions{Name: "products"})
	addr, name := redisAddr(t), uniqueName("otel-wait")
	a := tracedInstance(t, tr, addr, name, nil)
	var tries atomic.Int32
	polled := make(chan struct{})
	b := tracedInstance(t, tr, addr, name, func(_ context.Context, c hoardtest.Call) hoardtest.Fault {
		if c.Method == "TryLock" && tries.Add(1) == 3 {
			close(polled) // B has polled twice after its first try
		}
		return hoardtest.Fault{}
	})

	started, release := make(chan struct{}), make(chan struct{})
	slow := TraceLoader(tr, hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
		close(started)
		<-release
		return "lamp", nil
	}))
	aDone := make(chan error, 1)
	go func() {
		_, err := a.Get(context.Background(), "42", slow)
		aDone <- err
	}()
	<-started

	ctx, req := test.Start(context.Background(), "GET /products/42 on B")
	bDone := make(chan error, 1)
	go func() {
		v, err := b.Get(ctx, "42", hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
			t.Error("B loaded: it should have waited for A's value")
			return "", nil
		}))
		if err == nil && v != "lamp" {
			t.Errorf("B got %q", v)
		}
		bDone <- err
	}()
	<-polled
	close(release)
	if err := <-aDone; err != nil {
		t.Fatalf("A: %v", err)
	}
	if err := <-bDone; err != nil {
		t.Fatalf("B: %v", err)
	}
	req.End()

	w := rec.waitFor(t, LockWaitSpan) // emitted when B's load ctx ended
	under := childrenOf(rec.Ended(), req.SpanContext())
	for _, s := range under {
		t.Logf("%-28s %8v from %v %v", s.Name(), s.EndTime().Sub(s.StartTime()), s.StartTime().Sub(req.(sdktrace.ReadOnlySpan).StartTime()), s.Attributes())
	}
	var found sdktrace.ReadOnlySpan
	for _, s := range under {
		if s.Name() == "hoard.shared.get_with_token" && attrs(s)[AttrHit].AsBool() {
			found = s
		}
		if s.Name() == LoadSpan {
			t.Errorf("B's trace has a load")
		}
	}
	if w.Parent().SpanID() != req.SpanContext().SpanID() {
		t.Fatalf("the wait is not a child of B's request")
	}
	a2 := attrs(w)
	// B stops polling when its read after a held TryLock finds A's value,
	// or it takes the lock when A released it between B's read and its
	// next TryLock, then reads A's value under the lock. Both are right.
	if out := a2[AttrOutcome].AsString(); a2[AttrPolls].AsInt64() < 3 || (out != "stopped" && out != "acquired") {
		t.Errorf("wait attributes %v, want at least 3 polls, stopped or acquired", w.Attributes())
	}
	if found == nil {
		t.Fatalf("no read of A's value under B's request: %v", names(under))
	}
	if found.StartTime().Before(w.EndTime()) {
		t.Errorf("the read that found A's value started at %v, before the wait's end %v", found.StartTime(), w.EndTime())
	}
	if held := w.EndTime().Sub(w.StartTime()); held <= 0 {
		t.Errorf("the wait lasted %v", held)
	}
}
