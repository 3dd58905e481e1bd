package hoard_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// sharedRedis returns a way to open clients of one Redis: the real server
// when HOARD_REDIS_ADDR is set, else a miniredis. Each instance of a test
// opens its own client, as separate processes would.
func sharedRedis(tb testing.TB) func() *goredis.Client {
	tb.Helper()
	addr := os.Getenv(redistest.EnvAddr)
	if addr == "" {
		mr, _ := redistest.Miniredis(tb)
		addr = mr.Addr()
	}
	return func() *goredis.Client {
		c := goredis.NewClient(&goredis.Options{Addr: addr})
		tb.Cleanup(func() { _ = c.Close() })
		return c
	}
}

func uniqueName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// stampedeInstance is one process of a stampede test.
func stampedeInstance(tb testing.TB, client *goredis.Client, name string, distributed bool, o hoard.AsideOptions[string]) *hoard.Aside[string] {
	tb.Helper()
	mem, err := memory.New[string](nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = mem.Close() })
	shared, err := hoardredis.New[string](client, &hoardredis.Options{TombstoneTTL: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	o.Name, o.Memory, o.Shared = name, mem, shared
	if o.TTL == 0 {
		o.TTL = 10 * time.Second
	}
	if distributed && (o.Stampede == nil || o.Stampede.Locker == nil) {
		locker, err := hoardredis.NewLocker(client, &hoardredis.LockerOptions{Prefix: "lock:"})
		if err != nil {
			tb.Fatal(err)
		}
		st := hoard.Stampede{}
		if o.Stampede != nil {
			st = *o.Stampede
		}
		st.Locker = locker
		o.Stampede = &st
	}
	a, err := hoard.NewAside(&o)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// stampede runs instances × perInstance goroutines that all Get one key at
// once, and returns how many times the loader ran.
func stampede(tb testing.TB, instances []*hoard.Aside[string], perInstance int, loader func(ctx context.Context) (string, error)) int64 {
	tb.Helper()
	var loads atomic.Int64
	counted := hoard.LoaderFunc[string](func(ctx context.Context, _ string) (string, error) {
		loads.Add(1)
		return loader(ctx)
	})
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, a := range instances {
		for range perInstance {
			wg.Go(func() {
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if v, err := a.Get(ctx, "hot", counted); err != nil || v != "value" {
					tb.Errorf("Get = %q, %v", v, err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	return loads.Load()
}

// 4 instances × 250 goroutines ask for one missing key: with the
// distributed lock the loader runs once across all of them.
func TestAsideDistributedStampede(t *testing.T) {
	open := sharedRedis(t)
	name := uniqueName("stampede")
	var instances []*hoard.Aside[string]
	// tries counts each instance's lock attempts: a reader that finds the
	// key locked polls, trying again.
	var tries [4]atomic.Int64
	waiting := func() (n int) { // instances that tried twice: they waited
		for i := range tries {
			if tries[i].Load() >= 2 {
				n++
			}
		}
		return n
	}
	for i := range 4 {
		client := open()
		locker, err := hoardredis.NewLocker(client, &hoardredis.LockerOptions{Prefix: "lock:"})
		if err != nil {
			t.Fatal(err)
		}
		counted := hoardtest.NewFaultyLocker(locker, func(_ context.Context, c hoardtest.Call) hoardtest.Fault {
			if c.Method == "TryLock" {
				tries[i].Add(1)
			}
			return hoardtest.Fault{}
		})
		instances = append(instances, stampedeInstance(t, client, name, true, hoard.AsideOptions[string]{Stampede: &hoard.Stampede{Locker: counted}}))
	}
	loads := stampede(t, instances, 250, func(context.Context) (string, error) {
		// The slow query every reader would repeat: it lasts until the
		// other instances are waiting on the lock (on a loaded machine
		// their readers may start late, after a fixed delay).
		deadline := time.Now().Add(20 * time.Second)
		for waiting() < 3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		return "value", nil
	})
	if loads != 1 {
		t.Fatalf("the loader ran %d times for 4 instances × 250 readers; want 1", loads)
	}
	waits := int64(0)
	for _, a := range instances {
		waits += a.Metrics().Snapshot().Total(hoard.EventLockWait)
	}
	if waits == 0 {
		t.Error("no instance waited on the lock: the test did not race")
	}
}

// Without a locker each instance loads once: one load per process.
func TestAsideLocalStampedeAcrossInstances(t *testing.T) {
	open := sharedRedis(t)
	name := uniqueName("local")
	var instances []*hoard.Aside[string]
	for range 4 {
		instances = append(instances, stampedeInstance(t, open(), name, false, hoard.AsideOptions[string]{}))
	}
	// Every instance's load waits until all four have started, so none can
	// find another's value in Redis: exactly one load per instance.
	var entered sync.WaitGroup
	entered.Add(4)
	allIn := make(chan struct{})
	go func() { entered.Wait(); close(allIn) }()
	loads := stampede(t, instances, 250, func(context.Context) (string, error) {
		entered.Done()
		select {
		case <-allIn:
		case <-time.After(10 * time.Second):
			return "", errors.New("not every instance loaded")
		}
		return "value", nil
	})
	if loads != 4 {
		t.Fatalf("the loader ran %d times for 4 instances without a locker; want 4", loads)
	}
}

// A reader that waits past Stampede.Wait for a holder that never writes falls
// back as configured.
func TestAsideLockFallbacks(t *testing.T) {
	open := sharedRedis(t)
	client := open()
	locker, err := hoardredis.NewLocker(client, &hoardredis.LockerOptions{Prefix: "lock:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	value := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "loaded", nil })

	for _, c := range []struct {
		name     string
		fallback hoard.LockFallback
		want     string
		wantErr  error
	}{
		{"load", hoard.LockFallbackLoad, "loaded", nil},
		{"error", hoard.LockFallbackError, "", hoard.ErrLockTimeout},
		{"stale without stale value", hoard.LockFallbackStale, "", hoard.ErrLockTimeout},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := stampedeInstance(t, client, uniqueName("fallback"), true, hoard.AsideOptions[string]{
				Stampede: &hoard.Stampede{Wait: 100 * time.Millisecond, Fallback: c.fallback},
			})
			held, err := locker.TryLock(ctx, a.Key("k"), time.Minute) // a holder that never writes
			if err != nil {
				t.Fatal(err)
			}
			defer held.Release(ctx)
			start := time.Now()
			v, err := a.Get(ctx, "k", value)
			if v != c.want || !errors.Is(err, c.wantErr) {
				t.Fatalf("Get = %q, %v; want %q, %v", v, err, c.want, c.wantErr)
			}
			if took := time.Since(start); took < 100*time.Millisecond || took > 5*time.Second {
				t.Errorf("Get returned after %v; LockWait is 100ms", took)
			}
			if n := a.Metrics().Snapshot().Total(hoard.EventLockTimeout); n != 1 {
				t.Errorf("lock timeouts = %d; want 1", n)
			}
		})
	}
}

// The holder refreshes its lock while a loader runs past LockTTL, so no
// second process takes the key meanwhile.
func TestAsideLockRefreshedDuringLongLoad(t *testing.T) {
	locker := &hoard.LocalLocker{}
	mem, _ := memory.New[string](nil)
	defer mem.Close()
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{
		// A LockTTL that a loaded 2-core machine's scheduling stalls do
		// not outlast: the refresher runs every LockTTL/3.
		Name: "refresh", Memory: mem, Stampede: &hoard.Stampede{Locker: locker, LockTTL: 300 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	loading := make(chan struct{})
	finish := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := a.Get(ctx, "k", hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
			close(loading)
			<-finish
			return "v", nil
		}))
		done <- err
	}()
	<-loading
	time.Sleep(1500 * time.Millisecond) // five LockTTLs: only refreshes keep it
	if _, err := locker.TryLock(ctx, a.Key("k"), time.Second); !errors.Is(err, hoard.ErrLockHeld) {
		t.Fatalf("TryLock during the long load: %v; want ErrLockHeld (the holder refreshes)", err)
	}
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Released after the load.
	lock, err := locker.TryLock(ctx, a.Key("k"), time.Second)
	if err != nil {
		t.Fatalf("TryLock after the load: %v", err)
	}
	_ = lock.Release(ctx)
}
