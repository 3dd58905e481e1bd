package hoard_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// rig is one service instance: its own memory tier over a shared Redis.
type rig struct {
	aside  *hoard.Aside[string]
	memory *memory.Cache[string]
	shared *hoardredis.Cache[string]
}

// world is what instances share: a miniredis and a fake clock.
type world struct {
	mr    *miniredis.Miniredis
	redis *goredis.Client
	clock *hoardtest.FakeClock
}

func newWorld(t *testing.T) *world {
	mr, client := redistest.Miniredis(t)
	return &world{mr: mr, redis: client, clock: hoardtest.NewFakeClock(time.Now())}
}

func (w *world) advance(d time.Duration) {
	w.clock.Advance(d)
	w.mr.FastForward(d)
}

func (w *world) instance(t *testing.T, o hoard.AsideOptions[string]) *rig {
	t.Helper()
	mem, err := memory.New(&memory.Options[string]{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	shared, err := hoardredis.New[string](w.redis, &hoardredis.Options{Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	if o.Name == "" {
		o.Name = "products"
	}
	o.Memory, o.Shared, o.Clock = mem, shared, w.clock
	if o.Rand == nil {
		o.Rand = func() float64 { return 0 }
	}
	a, err := hoard.NewAside(&o)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{aside: a, memory: mem, shared: shared}
}

// source is a fake database table that counts its queries.
type source struct {
	mu      sync.Mutex
	rows    map[string]string
	fail    error
	queries atomic.Int64
}

func (s *source) Load(_ context.Context, id string) (string, error) {
	s.queries.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return "", s.fail
	}
	v, ok := s.rows[id]
	if !ok {
		return "", hoard.ErrNotFound
	}
	return v, nil
}

func (s *source) set(id, v string, fail error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rows == nil {
		s.rows = map[string]string{}
	}
	if id != "" {
		s.rows[id] = v
	}
	s.fail = fail
}

func TestAsideTwoLevels(t *testing.T) {
	w := newWorld(t)
	db := &source{}
	db.set("42", "kettle", nil)
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute})
	b := w.instance(t, hoard.AsideOptions[string]{TTL: time.Minute})
	ctx := context.Background()

	for range 3 {
		if v, err := a.aside.Get(ctx, "42", db); err != nil || v != "kettle" {
			t.Fatalf("A.Get = %q, %v", v, err)
		}
	}
	if q := db.queries.Load(); q != 1 {
		t.Fatalf("%d queries for 3 reads on one instance; want 1", q)
	}
	// B has its own memory tier: it finds the value in Redis and keeps it.
	for range 3 {
		if v, err := b.aside.Get(ctx, "42", db); err != nil || v != "kettle" {
			t.Fatalf("B.Get = %q, %v", v, err)
		}
	}
	if q := db.queries.Load(); q != 1 {
		t.Fatalf("%d queries after B read; want 1 (Redis answers B)", q)
	}
	s := b.aside.Metrics().Snapshot()
	if s.Count(hoard.EventHit, hoard.TierShared) != 1 || s.Count(hoard.EventHit, hoard.TierMemory) != 2 {
		t.Errorf("B hits: redis %d, memory %d; want 1 and 2",
			s.Count(hoard.EventHit, hoard.TierShared), s.Count(hoard.EventHit, hoard.TierMemory))
	}
	if _, err := b.memory.Get(ctx, b.aside.Key("42")); err != nil {
		t.Errorf("a Redis hit did not fill the memory tier: %v", err)
	}
	// After the TTL both tiers are stale: the next read loads again.
	w.advance(2 * time.Minute)
	if _, err := a.aside.Get(ctx, "42", db); err != nil {
		t.Fatal(err)
	}
	if q := db.queries.Load(); q != 2 {
		t.Fatalf("%d queries after expiry; want 2", q)
	}
}

// 10,000 reads of an absent row cost one query per negative TTL.
func TestAsideNegativeCaching(t *testing.T) {
	w := newWorld(t)
	db := &source{}
	db.set("", "", nil)
	a := w.instance(t, hoard.AsideOptions[string]{NegativeTTL: 10 * time.Second})
	ctx := context.Background()
	for range 10_000 {
		if _, err := a.aside.Get(ctx, "absent", db); !errors.Is(err, hoard.ErrNotFound) {
			t.Fatalf("Get: %v; want ErrNotFound", err)
		}
	}
	if q := db.queries.Load(); q != 1 {
		t.Fatalf("%d queries for 10,000 reads of an absent row; want 1", q)
	}
	w.advance(11 * time.Second)
	for range 100 {
		_, _ = a.aside.Get(ctx, "absent", db)
	}
	if q := db.queries.Load(); q != 2 {
		t.Fatalf("%d queries after the negative TTL; want 2", q)
	}
	if n := a.aside.Metrics().Snapshot().Total(hoard.EventNegativeHit); n != 10_098 {
		t.Errorf("negative hits = %d; want 10098", n)
	}
}

func TestAsideJitter(t *testing.T) {
	w := newWorld(t)
	db := &source{}
	db.set("1", "one", nil)
	a := w.instance(t, hoard.AsideOptions[string]{TTL: 100 * time.Second, Jitter: 0.2, Rand: func() float64 { return 0.5 }})
	ctx := context.Background()
	if _, err := a.aside.Get(ctx, "1", db); err != nil {
		t.Fatal(err)
	}
	e, err := a.shared.Get(ctx, a.aside.Key("1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.ExpiresAt.Sub(e.WrittenAt), 90*time.Second; got != want {
		t.Errorf("TTL with jitter 0.2 and rand 0.5 = %v; want %v", got, want)
	}
}

func TestAsideFailSafe(t *testing.T) {
	w := newWorld(t)
	db := &source{}
	db.set("1", "v1", nil)
	a := w.instance(t, hoard.AsideOptions[string]{
		TTL: time.Minute, FailSafe: &hoard.FailSafe{Window: time.Hour, Throttle: 30 * time.Second},
	})
	ctx := context.Background()
	if _, err := a.aside.Get(ctx, "1", db); err != nil {
		t.Fatal(err)
	}
	outage := errors.New("db down")
	db.set("", "", outage)
	w.advance(2 * time.Minute) // expired, inside the fail-safe window

	v, err := a.aside.Get(ctx, "1", db)
	if v != "v1" || !errors.Is(err, hoard.ErrServedStale) || !errors.Is(err, outage) {
		t.Fatalf("Get during outage = %q, %v; want v1 with ErrServedStale and the cause", v, err)
	}
	// Within the throttle the stale value is served without asking the source.
	q := db.queries.Load()
	for range 50 {
		if v, err := a.aside.Get(ctx, "1", db); v != "v1" || err != nil {
			t.Fatalf("Get within throttle = %q, %v", v, err)
		}
	}
	if db.queries.Load() != q {
		t.Fatalf("the failing source was asked %d more times within the throttle", db.queries.Load()-q)
	}
	// Past the window there is nothing to serve: the error comes through.
	w.advance(2 * time.Hour)
	if _, err := a.aside.Get(ctx, "1", db); !errors.Is(err, outage) || errors.Is(err, hoard.ErrServedStale) {
		t.Fatalf("Get past the window: %v; want the outage, not stale", err)
	}
	if n := a.aside.Metrics().Snapshot().Total(hoard.EventStaleServe); n != 1 {
		t.Errorf("stale serves = %d; want 1", n)
	}
}

// The stale-set race, forced with barriers: a reader misses and reads v1
// from the database; a writer stores v2 and invalidates the key; the
// reader then tries to store v1. Afterwards no tier may hold v1.
func TestAsideStaleSetProtection(t *testing.T) {
	w := newWorld(t)
	db := &source{}
	db.set("1", "v1", nil)
	a := w.instance(t, hoard.AsideOptions[string]{TTL: time.Hour})
	ctx := context.Background()

	readV1 := make(chan struct{})
	writerDone := make(chan struct{})
	slowReader := hoard.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
		v, err := db.Load(ctx, id)
		close(readV1)
		<-writerDone // the writer runs between the read and the write-back
		return v, err
	})
	got := make(chan string)
	go func() {
		v, _ := a.aside.Get(ctx, "1", slowReader)
		got <- v
	}()
	<-readV1
	db.set("1", "v2", nil)
	key := a.aside.Key("1")
	if err := a.aside.Delete(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	close(writerDone)
	if v := <-got; v != "v1" {
		t.Fatalf("the racing reader got %q; want its own v1", v)
	}
	for name, c := range map[string]hoard.Cache[string]{"memory": a.memory, "redis": a.shared} {
		if e, err := c.Get(ctx, key); err == nil && e.Value == "v1" {
			t.Errorf("%s tier holds the stale v1 after the invalidation", name)
		}
	}
	if v, err := a.aside.Get(ctx, "1", db); err != nil || v != "v2" {
		t.Fatalf("Get after the race = %q, %v; want v2", v, err)
	}
	if n := a.aside.Metrics().Snapshot().Total(hoard.EventInvalidation); n != 1 {
		t.Errorf("invalidations = %d; want 1", n)
	}
}

// One instance, many goroutines, one expired key: one load.
func TestAsideLocalStampede(t *testing.T) {
	w := newWorld(t)
	release := make(chan struct{})
	var loads atomic.Int64
	slow := hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
		loads.Add(1)
		<-release
		return "v", nil
	})
	a := w.instance(t, hoard.AsideOptions[string]{})
	var wg sync.WaitGroup
	const n = 250
	var started sync.WaitGroup
	started.Add(n)
	for range n {
		wg.Go(func() {
			started.Done()
			if v, err := a.aside.Get(context.Background(), "hot", slow); err != nil || v != "v" {
				t.Errorf("Get = %q, %v", v, err)
			}
		})
	}
	started.Wait()
	for loads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	// Goroutines that arrived after the load finished found the value cached.
	if l := loads.Load(); l != 1 {
		t.Fatalf("%d loads for %d concurrent readers; want 1", l, n)
	}
}

// With Redis unreachable, Get answers from the loader and the memory tier,
// counts the Redis errors, and never hangs past ctx.
func TestAsideSharedTierDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	client := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer client.Close()
	shared, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	mem, _ := memory.New[string](nil)
	defer mem.Close()
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "down", Memory: mem, Shared: shared})
	if err != nil {
		t.Fatal(err)
	}
	db := &source{}
	db.set("1", "v1", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 3 {
		if v, err := a.Get(ctx, "1", db); err != nil || v != "v1" {
			t.Fatalf("Get with Redis down = %q, %v; want v1 from the loader", v, err)
		}
	}
	if q := db.queries.Load(); q != 1 {
		t.Errorf("%d queries; want 1 (the memory tier answers after the first)", q)
	}
	if n := a.Metrics().Snapshot().Count(hoard.EventBackendError, hoard.TierShared); n == 0 {
		t.Error("Redis errors were not counted")
	}
}

func TestAsideLoadTimeout(t *testing.T) {
	w := newWorld(t)
	a := w.instance(t, hoard.AsideOptions[string]{LoadTimeout: 50 * time.Millisecond})
	stuck := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	start := time.Now()
	_, err := a.aside.Get(context.Background(), "1", stuck)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with a stuck loader: %v; want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Get took %v with a 50ms LoadTimeout", took)
	}
}

func TestNewAsideRejectsBadOptions(t *testing.T) {
	mem, _ := memory.New[string](nil)
	defer mem.Close()
	for name, o := range map[string]hoard.AsideOptions[string]{
		"no tier":                        {},
		"negative TTL":                   {Memory: mem, TTL: -1},
		"jitter above 1":                 {Memory: mem, Jitter: 1.5},
		"negative timeout":               {Memory: mem, LoadTimeout: -time.Second},
		"brace in name":                  {Memory: mem, Name: "a{b}"},
		"fail-safe without a window":     {Memory: mem, FailSafe: &hoard.FailSafe{Throttle: time.Second}},
		"negative fail-safe window":      {Memory: mem, FailSafe: &hoard.FailSafe{Window: -time.Second}},
		"negative soft timeout":          {Memory: mem, FailSafe: &hoard.FailSafe{Window: time.Hour, SoftTimeout: -1}},
		"stampede without a locker":      {Memory: mem, Stampede: &hoard.Stampede{Wait: time.Second}},
		"lock TTL below 3ms":             {Memory: mem, Stampede: &hoard.Stampede{Locker: &hoard.LocalLocker{}, LockTTL: time.Millisecond}},
		"unknown lock fallback":          {Memory: mem, Stampede: &hoard.Stampede{Locker: &hoard.LocalLocker{}, Fallback: 9}},
		"negative early refresh beta":    {Memory: mem, EarlyRefresh: &hoard.EarlyRefresh{Beta: -1}},
		"negative early refresh backoff": {Memory: mem, EarlyRefresh: &hoard.EarlyRefresh{Backoff: -1}},
	} {
		if _, err := hoard.NewAside(&o); !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("%s: %v; want ErrInvalidOption", name, err)
		}
	}
}
