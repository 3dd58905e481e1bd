package hoardredis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// miniredis implements every command the stream queue uses (XADD,
// XREADGROUP, XACK, XAUTOCLAIM, XCLAIM, XPENDING, XINFO GROUPS and
// CONSUMERS, XTRIM MINID, XGROUP) and runs its Lua, so these tests need no
// server; SetTime moves its clock, which XAUTOCLAIM's idle times follow.
// The tests named Real (stream_real_test.go) run against $HOARD_REDIS_ADDR.

func newStreamQueue(t testing.TB, client goredis.UniversalClient, o hoardredis.StreamQueueOptions) *hoardredis.StreamQueue[string] {
	t.Helper()
	q, err := hoardredis.NewStreamQueue[string](client, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close(context.Background()) })
	return q
}

func streamEnqueue(t testing.TB, q hoard.WriteQueue[string], ids ...string) {
	t.Helper()
	for i, id := range ids {
		if err := q.Enqueue(context.Background(), hoard.Write[string]{ID: id, Value: "v" + id, Version: uint64(i + 1)}, false); err != nil {
			t.Fatal(err)
		}
	}
}

func streamTake(t testing.TB, q hoard.WriteQueue[string], n int) []hoard.QueuedWrite[string] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, err := q.Take(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func streamXLen(t testing.TB, client goredis.UniversalClient, q *hoardredis.StreamQueue[string]) int64 {
	t.Helper()
	n, err := client.XLen(context.Background(), q.Stream()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStreamQueueEnqueueTakeAck(t *testing.T) {
	ctx := context.Background()
	_, client := redistest.Miniredis(t)
	q := newStreamQueue(t, client, hoardredis.StreamQueueOptions{Name: "orders", Consumer: "c1"})
	streamEnqueue(t, q, "1", "2")
	if err := q.Enqueue(ctx, hoard.Write[string]{ID: "3", Version: 9, Delete: true}, false); err != nil {
		t.Fatal(err)
	}
	if s, err := q.Stats(ctx); err != nil || s.Depth != 3 || s.Oldest.IsZero() {
		t.Fatalf("Stats = %+v, %v", s, err)
	}
	ws := streamTake(t, q, 10)
	if len(ws) != 3 {
		t.Fatalf("took %d", len(ws))
	}
	for i, want := range []hoard.Write[string]{{ID: "1", Value: "v1", Version: 1}, {ID: "2", Value: "v2", Version: 2}, {ID: "3", Version: 9, Delete: true}} {
		if ws[i].Write != want || ws[i].Err != nil || ws[i].EnqueuedAt.IsZero() || ws[i].Receipt == "" {
			t.Fatalf("write %d = %+v, want %+v", i, ws[i], want)
		}
	}
	if err := q.Ack(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if s, err := q.Stats(ctx); err != nil || s.Depth != 0 || !s.Oldest.IsZero() {
		t.Fatalf("Stats after Ack = %+v, %v", s, err)
	}
	if n := streamXLen(t, client, q); n != 0 {
		t.Fatalf("XLEN after acknowledging everything = %d, want 0 (trimmed)", n)
	}
	if q.Stream() != "hoard:wb:{orders}" || q.Consumer() != "c1" {
		t.Fatalf("Stream %q Consumer %q", q.Stream(), q.Consumer())
	}
}

// TestStreamQueueTrimsOnlyAcknowledged checks that XTRIM MINID never cuts
// an entry that is pending (taken, not acknowledged) or not yet delivered.
func TestStreamQueueTrimsOnlyAcknowledged(t *testing.T) {
	ctx := context.Background()
	_, client := redistest.Miniredis(t)
	q := newStreamQueue(t, client, hoardredis.StreamQueueOptions{Name: "trim"})
	streamEnqueue(t, q, "1", "2", "3", "4", "5")
	first := streamTake(t, q, 2)  // 1, 2: pending
	second := streamTake(t, q, 2) // 3, 4: pending; 5 not delivered
	if err := q.Ack(ctx, second); err != nil {
		t.Fatal(err)
	}
	if n := streamXLen(t, client, q); n != 5 {
		t.Fatalf("XLEN = %d, want 5: 1 and 2 are pending, so nothing below them may go", n)
	}
	if err := q.Ack(ctx, first); err != nil {
		t.Fatal(err)
	}
	if n := streamXLen(t, client, q); n != 1 {
		t.Fatalf("XLEN = %d, want 1: only 5, never delivered, is left", n)
	}
	last := streamTake(t, q, 10)
	if len(last) != 1 || last[0].ID != "5" {
		t.Fatalf("took %+v", last)
	}
	if err := q.Ack(ctx, last); err != nil {
		t.Fatal(err)
	}
	if n := streamXLen(t, client, q); n != 0 {
		t.Fatalf("XLEN = %d, want 0", n)
	}
}

func TestStreamQueueBound(t *testing.T) {
	ctx := context.Background()
	_, client := redistest.Miniredis(t)
	q := newStreamQueue(t, client, hoardredis.StreamQueueOptions{Name: "bound", MaxLen: 2, PollInterval: time.Millisecond})
	streamEnqueue(t, q, "1", "2")
	w := hoard.Write[string]{ID: "3", Value: "v", Version: 3}
	if err := q.Enqueue(ctx, w, false); !errors.Is(err, hoard.ErrQueueFull) {
		t.Fatalf("Enqueue on a full stream: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := q.Enqueue(short, w, true); !errors.Is(err, hoard.ErrQueueFull) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting Enqueue on a full stream: %v", err)
	}
	// Taking does not free room; acknowledging does.
	ws := streamTake(t, q, 1)
	if err := q.Enqueue(ctx, w, false); !errors.Is(err, hoard.ErrQueueFull) {
		t.Fatalf("Enqueue with a taken write: %v", err)
	}
	if err := q.Ack(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(ctx, w, false); err != nil {
		t.Fatal(err)
	}
	big := hoard.Write[string]{ID: "big", Value: strings.Repeat("x", 100), Version: 1}
	small := newStreamQueue(t, client, hoardredis.StreamQueueOptions{Name: "small", MaxValueBytes: 50})
	if err := small.Enqueue(ctx, big, false); !errors.Is(err, hoard.ErrTooLarge) {
		t.Fatalf("Enqueue of a large value: %v", err)
	}
}

// TestStreamQueueClaimsFromDeadConsumer: a consumer takes writes and dies;
// once they have been idle for ClaimIdle, another consumer claims them.
func TestStreamQueueClaimsFromDeadConsumer(t *testing.T) {
	ctx := context.Background()
	mr, client := redistest.Miniredis(t)
	t0 := time.Now()
	mr.SetTime(t0)
	opts := hoardredis.StreamQueueOptions{Name: "claim", ClaimIdle: time.Second, Consumer: "dead"}
	dead := newStreamQueue(t, client, opts)
	streamEnqueue(t, dead, "1", "2", "3")
	if got := streamTake(t, dead, 2); len(got) != 2 {
		t.Fatalf("took %d", len(got))
	}
	_ = dead.Close(ctx) // dies with 1 and 2 taken

	opts.Consumer = "live"
	live := newStreamQueue(t, client, opts)
	// Within ClaimIdle the dead consumer's writes are left alone.
	got := streamTake(t, live, 10)
	if len(got) != 1 || got[0].ID != "3" {
		t.Fatalf("live took %+v, want only 3", got)
	}
	if err := live.Ack(ctx, got); err != nil {
		t.Fatal(err)
	}
	mr.SetTime(t0.Add(2 * time.Second))
	live2 := newStreamQueue(t, client, opts) // a fresh claim pass
	got = streamTake(t, live2, 10)
	if len(got) != 2 || got[0].ID != "1" || got[1].ID != "2" {
		t.Fatalf("claimed %+v, want 1 and 2", got)
	}
	if err := live2.Ack(ctx, got); err != nil {
		t.Fatal(err)
	}
	if s, err := live2.Stats(ctx); err != nil || s.Depth != 0 {
		t.Fatalf("Stats = %+v, %v", s, err)
	}
	if n := streamXLen(t, client, live2); n != 0 {
		t.Fatalf("XLEN = %d", n)
	}
}

func TestStreamQueueCorruptEntries(t *testing.T) {
	ctx := context.Background()
	_, client := redistest.Miniredis(t)
	q := newStreamQueue(t, client, hoardredis.StreamQueueOptions{Name: "corrupt"})
	streamEnqueue(t, q, "ok")
	for _, values := range []map[string]any{
		{"x": "y"},
		{"i": "a", "v": "nan", "d": "0", "p": `"x"`},
		{"i": "b", "v": "1", "d": "2"},
		{"i": "c", "v": "1", "d": "0"},
		{"i": "d", "v": "1", "d": "0", "p": `{"not": "a string"}`},
	} {
		if err := client.XAdd(ctx, &goredis.XAddArgs{Stream: q.Stream(), Values: values}).Err(); err != nil {
			t.Fatal(err)
		}
	}

	db := newStreamDB()
	dead := make(chan error, 8)
	wb := newStreamWB(t, hoard.WriteBehindOptions[string]{
		Store: db, Queue: q, FlushInterval: -1,
		DeadLetter: func(_ context.Context, _ hoard.Write[string], err error) { dead <- err },
	})
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := streamRecv(t, dead); !errors.Is(err, hoard.ErrCorrupt) {
			t.Fatalf("dead letter %v, want ErrCorrupt", err)
		}
	}
	if r, ok := db.row("ok"); !ok || r.value != "vok" {
		t.Fatalf("row %+v", r)
	}
	if n := streamXLen(t, client, q); n != 0 {
		t.Fatalf("XLEN = %d: the corrupt entries were not acknowledged", n)
	}
}

func TestWriteBehindStreamQueue(t *testing.T) {
	ctx := context.Background()
	_, client := redistest.Miniredis(t)
	q := newStreamQueue(t, client, hoardredis.StreamQueueOptions{Name: "wb", Block: 5 * time.Millisecond})
	db := newStreamDB()
	a := newStreamAside(t)
	wb := newStreamWB(t, hoard.WriteBehindOptions[string]{Aside: a, Store: db, Queue: q, BatchSize: 4, FlushInterval: 5 * time.Millisecond})
	for i := range 20 {
		if err := wb.Put(ctx, fmt.Sprint(i%7), fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Delete(ctx, "0"); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Get(ctx, "6", streamNoLoad(t)); v != "v13" || err != nil {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := wb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 13; i < 20; i++ {
		id := fmt.Sprint(i % 7)
		r, _ := db.row(id)
		if id == "0" {
			if !r.deleted {
				t.Fatalf("0 not deleted: %+v", r)
			}
			continue
		}
		if r.value != fmt.Sprint("v", i) {
			t.Fatalf("%s = %+v, want v%d", id, r, i)
		}
	}
	if n := streamXLen(t, client, q); n != 0 {
		t.Fatalf("XLEN = %d after Flush", n)
	}
	if err := wb.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Mark(ctx); !errors.Is(err, hoard.ErrClosed) {
		t.Fatalf("queue not closed with the write-behind: %v", err)
	}
}

func TestStreamQueueOptions(t *testing.T) {
	_, client := redistest.Miniredis(t)
	for name, o := range map[string]hoardredis.StreamQueueOptions{
		"brace":          {Name: "a{b"},
		"brace prefix":   {KeyPrefix: "app:{wb}:"},
		"negative len":   {MaxLen: -1},
		"tiny ClaimIdle": {ClaimIdle: time.Millisecond},
		"tiny Block":     {Block: time.Microsecond},
		"negative poll":  {PollInterval: -1},
	} {
		if _, err := hoardredis.NewStreamQueue[string](client, &o); !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := hoardredis.NewStreamQueue[string](nil, &hoardredis.StreamQueueOptions{}); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("nil client: %v", err)
	}
}

// The queue's keys live under KeyPrefix, so a Redis user limited to an
// application's prefix can use it.
func TestStreamQueueKeyPrefix(t *testing.T) {
	mr, client := redistest.Miniredis(t)
	ctx := context.Background()
	q, err := hoardredis.NewStreamQueue[string](client, &hoardredis.StreamQueueOptions{KeyPrefix: "app:wb:", Name: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close(context.Background()) })
	if got := q.Stream(); got != "app:wb:{orders}" {
		t.Fatalf("Stream() = %q; want app:wb:{orders}", got)
	}
	if err := q.Enqueue(ctx, hoard.Write[string]{ID: "1", Value: "v", Version: 1}, false); err != nil {
		t.Fatal(err)
	}
	ws, err := q.Take(ctx, 10)
	if err != nil || len(ws) != 1 || ws[0].Write.ID != "1" {
		t.Fatalf("Take = %+v, %v", ws, err)
	}
	for _, k := range mr.Keys() {
		if !strings.HasPrefix(k, "app:wb:") {
			t.Errorf("key %q outside the prefix", k)
		}
	}
	if err := q.Ack(ctx, ws); err != nil {
		t.Fatal(err)
	}
}

// failingHook makes every command fail with err, as go-redis's pool does
// when it cannot give a connection.
type failingHook struct{ err error }

func (failingHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h failingHook) ProcessHook(goredis.ProcessHook) goredis.ProcessHook {
	return func(context.Context, goredis.Cmder) error { return h.err }
}
func (h failingHook) ProcessPipelineHook(goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(context.Context, []goredis.Cmder) error { return h.err }
}

// TestStreamQueueConnectionErrors: the queue classifies go-redis's errors
// as the cache does, pool exhaustion included, so a WriteBehind's caller
// can tell Redis being unreachable (ErrUnavailable) from a bad reply
// (ErrBackend).
func TestStreamQueueConnectionErrors(t *testing.T) {
	ctx := context.Background()
	for _, cause := range []error{goredis.ErrPoolExhausted, goredis.ErrPoolTimeout, goredis.ErrClosed} {
		_, client := redistest.Miniredis(t)
		client.AddHook(failingHook{cause})
		q := newStreamQueue(t, client, hoardredis.StreamQueueOptions{Name: "down"})
		err := q.Enqueue(ctx, hoard.Write[string]{ID: "1", Value: "v", Version: 1}, false)
		if !errors.Is(err, hoard.ErrUnavailable) || !errors.Is(err, cause) {
			t.Errorf("Enqueue with %v: %v; want ErrUnavailable wrapping it", cause, err)
		}
		if _, err := q.Mark(ctx); !errors.Is(err, hoard.ErrUnavailable) || !errors.Is(err, cause) {
			t.Errorf("Mark with %v: %v; want ErrUnavailable wrapping it", cause, err)
		}
		if _, err := q.Stats(ctx); !errors.Is(err, hoard.ErrUnavailable) || !errors.Is(err, cause) {
			t.Errorf("Stats with %v: %v; want ErrUnavailable wrapping it", cause, err)
		}
	}
}
