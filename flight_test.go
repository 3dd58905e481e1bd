package hoard

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFlightGroupDeduplicates(t *testing.T) {
	var g FlightGroup[string]
	var calls atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{})
	const n = 100
	var wg sync.WaitGroup
	results := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			v, err, _ := g.Do(context.Background(), "k", func(context.Context) (string, error) {
				if calls.Add(1) == 1 {
					close(started)
				}
				<-release
				return "loaded", nil
			})
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
			}
			results <- v
		})
	}
	<-started
	waitForWaiters(t, &g, "k", n)
	close(release)
	wg.Wait()
	close(results)
	for v := range results {
		if v != "loaded" {
			t.Fatalf("result %q", v)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("fn ran %d times for %d concurrent callers; want 1", c, n)
	}
}

// waitForWaiters blocks until n callers wait on key's flight.
func waitForWaiters[V any](t *testing.T, g *FlightGroup[V], key string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		f := g.flights[key]
		got := 0
		if f != nil {
			got = f.waiters
		}
		g.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters on %q; want %d", got, key, n)
		}
		runtime.Gosched()
	}
}

func TestFlightGroupWaiterLeavesOnCtx(t *testing.T) {
	var g FlightGroup[int]
	release := make(chan struct{})
	loadCanceled := make(chan struct{})
	fn := func(ctx context.Context) (int, error) {
		select {
		case <-release:
			return 7, nil
		case <-ctx.Done():
			close(loadCanceled)
			return 0, ctx.Err()
		}
	}
	patient := make(chan int)
	go func() {
		v, _, _ := g.Do(context.Background(), "k", fn)
		patient <- v
	}()
	waitForWaiters(t, &g, "k", 1)

	ctx, cancel := context.WithCancel(context.Background())
	leaving := make(chan error)
	go func() {
		_, err, _ := g.Do(ctx, "k", fn)
		leaving <- err
	}()
	waitForWaiters(t, &g, "k", 2)
	cancel()
	if err := <-leaving; !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "hoard:") {
		t.Fatalf("leaving waiter: %v; want a hoard: error wrapping context.Canceled", err)
	}
	// The patient waiter still gets the value: the load was not canceled.
	close(release)
	if v := <-patient; v != 7 {
		t.Fatalf("patient waiter got %d; want 7", v)
	}
	select {
	case <-loadCanceled:
		t.Fatal("the load was canceled while a waiter remained")
	default:
	}
}

func TestFlightGroupLastWaiterCancelsLoad(t *testing.T) {
	var g FlightGroup[int]
	loadCanceled := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err, _ := g.Do(ctx, "k", func(ctx context.Context) (int, error) {
			<-ctx.Done()
			close(loadCanceled)
			return 0, ctx.Err()
		})
		done <- err
	}()
	waitForWaiters(t, &g, "k", 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Do: %v", err)
	}
	select {
	case <-loadCanceled:
	case <-time.After(10 * time.Second):
		t.Fatal("the load's ctx was not canceled after every waiter left")
	}
	// The next caller starts a new load.
	v, err, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 9, nil })
	if err != nil || v != 9 {
		t.Fatalf("Do after abandonment = %d, %v; want 9", v, err)
	}
}

func TestFlightGroupLoadCtxKeepsValues(t *testing.T) {
	type ctxKey struct{}
	var g FlightGroup[string]
	ctx := context.WithValue(context.Background(), ctxKey{}, "trace-1")
	v, err, _ := g.Do(ctx, "k", func(ctx context.Context) (string, error) {
		s, _ := ctx.Value(ctxKey{}).(string)
		return s, nil
	})
	if err != nil || v != "trace-1" {
		t.Fatalf("load ctx value = %q, %v; want the caller's", v, err)
	}
}

func TestFlightGroupPanicReachesEveryWaiter(t *testing.T) {
	var g FlightGroup[int]
	release := make(chan struct{})
	const n = 5
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) {
				<-release
				panic(io.ErrUnexpectedEOF)
			})
			errs <- err
		}()
	}
	waitForWaiters(t, &g, "k", n)
	close(release)
	for range n {
		err := <-errs
		var pe *PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v; want *PanicError", err)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("PanicError does not unwrap to the panic value")
		}
		if !strings.Contains(string(pe.Stack), "TestFlightGroupPanicReachesEveryWaiter") {
			t.Errorf("stack does not name the panicking function:\n%s", pe.Stack)
		}
		if !strings.HasPrefix(err.Error(), "hoard:") {
			t.Errorf("error %q not prefixed hoard:", err)
		}
	}
	// The group is usable after a panic.
	if v, err, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 1, nil }); err != nil || v != 1 {
		t.Fatalf("Do after panic = %d, %v", v, err)
	}
}

func TestFlightGroupGoexit(t *testing.T) {
	var g FlightGroup[int]
	_, err, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) {
		runtime.Goexit()
		return 0, nil
	})
	if err == nil || !strings.Contains(err.Error(), "Goexit") {
		t.Fatalf("err = %v; want the Goexit reported", err)
	}
}

func TestFlightGroupForget(t *testing.T) {
	var g FlightGroup[int]
	release := make(chan struct{})
	first := make(chan int)
	go func() {
		v, _, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) { <-release; return 1, nil })
		first <- v
	}()
	waitForWaiters(t, &g, "k", 1)
	g.Forget("k")
	v, err, shared := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 2, nil })
	if err != nil || v != 2 || shared {
		t.Fatalf("Do after Forget = %d, %v, shared %v; want a new load giving 2", v, err, shared)
	}
	close(release)
	if v := <-first; v != 1 {
		t.Fatalf("first waiter got %d; want its own load's 1", v)
	}
}

func TestFlightGroupKeysAreIndependent(t *testing.T) {
	var g FlightGroup[string]
	release := make(chan struct{})
	go func() {
		_, _, _ = g.Do(context.Background(), "slow", func(context.Context) (string, error) { <-release; return "", nil })
	}()
	waitForWaiters(t, &g, "slow", 1)
	v, err, _ := g.Do(context.Background(), "fast", func(context.Context) (string, error) { return "fast", nil })
	if err != nil || v != "fast" {
		t.Fatalf("another key waited on a running load: %q, %v", v, err)
	}
	close(release)
}
