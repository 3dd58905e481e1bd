package hoardredis_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// The stream queue's tests that need real Redis, against $HOARD_REDIS_ADDR
// (they skip without it): real idle times for claims and the keeper, and
// XINFO CONSUMERS's idle times, which miniredis does not track. Each uses
// a queue of its own and deletes its keys.

// realStream returns a client of $HOARD_REDIS_ADDR and a queue name of the
// test's own, whose keys are deleted at the end; it skips without one.
func realStream(t *testing.T) (*goredis.Client, string) {
	t.Helper()
	client := redistest.Real(t)
	name := fmt.Sprintf("test-%s-%d-%d", t.Name(), os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		_ = client.Del(context.Background(), "hoard:wb:{"+name+"}", "hoard:wb:{"+name+"}:depth").Err()
	})
	return client, name
}

// TestStreamQueueRealClaimAndKeep runs the claim on real Redis, with real
// idle times: a live consumer's taken writes are kept claimed while its
// store is slow, and claimed by another once it dies.
func TestStreamQueueRealClaimAndKeep(t *testing.T) {
	ctx := context.Background()
	client, name := realStream(t)
	// An idle long enough that the keeper's refreshes (every idle/3) are
	// not outlasted by a loaded machine's scheduling stalls.
	const idle = 500 * time.Millisecond
	opts := hoardredis.StreamQueueOptions{Name: name, ClaimIdle: idle, ClaimInterval: time.Millisecond, Consumer: "slow", Block: 5 * time.Millisecond}
	slow := newStreamQueue(t, client, opts)
	streamEnqueue(t, slow, "1", "2")
	held := streamTake(t, slow, 1)

	opts.Consumer = "other"
	other := newStreamQueue(t, client, opts)
	got := streamTake(t, other, 10)
	if len(got) != 1 || got[0].ID != "2" {
		t.Fatalf("other took %+v", got)
	}
	if err := other.Ack(ctx, got); err != nil {
		t.Fatal(err)
	}
	// Three ClaimIdles of a slow store: the keeper keeps 1 claimed.
	short, cancel := context.WithTimeout(ctx, 3*idle)
	defer cancel()
	if ws, err := other.Take(short, 10); err == nil {
		t.Fatalf("other claimed %+v from a live consumer", ws)
	}
	_ = slow.Close(ctx) // the slow consumer dies holding 1
	got = streamTake(t, other, 10)
	if len(got) != 1 || got[0].ID != "1" || got[0].Receipt != held[0].Receipt {
		t.Fatalf("other claimed %+v, want 1", got)
	}
	if err := other.Ack(ctx, got); err != nil {
		t.Fatal(err)
	}
	if n := streamXLen(t, client, other); n != 0 {
		t.Fatalf("XLEN = %d", n)
	}
}

func TestStreamQueueRealTrim(t *testing.T) {
	ctx := context.Background()
	client, name := realStream(t)
	q := newStreamQueue(t, client, hoardredis.StreamQueueOptions{Name: name})
	streamEnqueue(t, q, "1", "2", "3", "4", "5")
	first, second := streamTake(t, q, 2), streamTake(t, q, 2)
	if err := q.Ack(ctx, second); err != nil {
		t.Fatal(err)
	}
	if n := streamXLen(t, client, q); n != 5 {
		t.Fatalf("XLEN = %d, want 5", n)
	}
	if err := q.Ack(ctx, first); err != nil {
		t.Fatal(err)
	}
	if n := streamXLen(t, client, q); n != 1 {
		t.Fatalf("XLEN = %d, want 1", n)
	}
	mark, err := q.Mark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := q.WaitAcked(short, mark); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitAcked with 5 unacknowledged: %v", err)
	}
	last := streamTake(t, q, 10)
	if err := q.Ack(ctx, last); err != nil {
		t.Fatal(err)
	}
	if err := q.WaitAcked(ctx, mark); err != nil {
		t.Fatal(err)
	}
	if s, err := q.Stats(ctx); err != nil || s.Depth != 0 || streamXLen(t, client, q) != 0 {
		t.Fatalf("Stats = %+v, %v", s, err)
	}
}

// TestStreamQueueRealExpiresIdleConsumers needs real Redis: miniredis does
// not track the idle time of consumers.
func TestStreamQueueRealExpiresIdleConsumers(t *testing.T) {
	ctx := context.Background()
	client, name := realStream(t)
	const expiry = 100 * time.Millisecond
	opts := hoardredis.StreamQueueOptions{Name: name, ConsumerExpiry: expiry, Consumer: "old", ClaimInterval: time.Millisecond, Block: 5 * time.Millisecond}
	old := newStreamQueue(t, client, opts)
	streamEnqueue(t, old, "1", "2")
	ws := streamTake(t, old, 1)
	if err := old.Ack(ctx, ws); err != nil {
		t.Fatal(err)
	}
	_ = old.Close(ctx)
	opts.Consumer = "pending"
	pending := newStreamQueue(t, client, opts)
	streamTake(t, pending, 1) // keeps 2 pending, never acknowledged
	_ = pending.Close(ctx)

	opts.Consumer, opts.ClaimIdle = "new", time.Hour // claims nothing, but passes
	fresh := newStreamQueue(t, client, opts)
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Each Take ends a claim pass, which removes the consumers idle
		// for longer than the expiry with nothing pending.
		short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		_, err := fresh.Take(short, 1)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Take: %v", err)
		}
		infos, err := client.XInfoConsumers(ctx, fresh.Stream(), "hoard").Result()
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, c := range infos {
			names[c.Name] = true
		}
		if !names["pending"] {
			t.Fatalf("consumers %v: the one with a pending write was removed", names)
		}
		if !names["old"] {
			return // old (idle, nothing pending) went; pending keeps its write claimable
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumers %v: old was never removed", names)
		}
	}
}
