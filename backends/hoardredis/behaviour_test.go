package hoardredis_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/internal/redistest"
)

func TestNewRejectsBadOptions(t *testing.T) {
	_, client := redistest.Miniredis(t)
	if _, err := hoardredis.New[int](nil, nil); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("New(nil client): %v; want ErrInvalidOption", err)
	}
	for name, o := range map[string]hoardredis.Options{
		"negative MaxValueBytes": {MaxValueBytes: -1},
		"negative TombstoneTTL":  {TombstoneTTL: -time.Second},
		"sub-ms TombstoneTTL":    {TombstoneTTL: time.Microsecond},
		"negative ScanCount":     {ScanCount: -1},
		"negative BatchSize":     {BatchSize: -5},
		"TagPrefix, no hash tag": {TagPrefix: "app:tags"},
		"TagPrefix, empty tag":   {TagPrefix: "app:{}tags"},
		"TagPrefix, unclosed":    {TagPrefix: "app:{tags"},
	} {
		_, err := hoardredis.New[int](client, &o)
		if !errors.Is(err, hoard.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "hoard:") {
			t.Errorf("%s: %v; want a hoard: ErrInvalidOption", name, err)
		}
	}
}

// Two caches with their own TagPrefix keep their tags apart on one Redis.
func TestTagPrefixSeparatesServices(t *testing.T) {
	_, client := redistest.Miniredis(t)
	ctx := context.Background()
	a := newCache(t, client, &hoardredis.Options{TagPrefix: "a:{tags}"})
	b := newCache(t, client, &hoardredis.Options{TagPrefix: "b:{tags}"})
	bStart, err := b.Epoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stamp, err := a.InvalidateTags(ctx, "product:1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.TagEpochs(ctx, []string{"product:1"})
	if err != nil || got[0] != stamp {
		t.Fatalf("a's stamp %v, %v; want %d", got, err, stamp)
	}
	// Never stamped in b: it reads as b's clock start, not a's stamp.
	got, err = b.TagEpochs(ctx, []string{"product:1"})
	if err != nil || got[0] != bStart {
		t.Fatalf("b's stamp %v, %v; want its clock's start %d (a's stamp is %d)", got, err, bStart, stamp)
	}
}

// Bytes under a key that hoard did not write (or that a broken server
// mangled) are a clear ErrCorrupt, never a panic or a silent zero value.
func TestCorruptBytesInRedis(t *testing.T) {
	_, client := redistest.Miniredis(t)
	ctx := context.Background()
	c := newCache(t, client, nil)
	good := hoard.Entry[hoardtest.Item]{Value: hoardtest.Item{ID: 1, Name: "one"}}
	if err := c.Set(ctx, "good", good); err != nil {
		t.Fatal(err)
	}
	raw, err := client.Get(ctx, "good").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	badPayload := append(append([]byte{}, raw[:42]...), "{not json"...)
	for key, val := range map[string][]byte{
		"plain":       []byte("hello"),
		"truncated":   raw[:10],
		"bad payload": badPayload,
	} {
		if err := client.Set(ctx, key, val, 0).Err(); err != nil {
			t.Fatal(err)
		}
		_, err := c.Get(ctx, key)
		if !errors.Is(err, hoard.ErrCorrupt) || !strings.Contains(err.Error(), key) {
			t.Errorf("Get(%q): %v; want ErrCorrupt naming the key", key, err)
		}
	}
	got, err := c.GetMany(ctx, []string{"good", "plain", "absent", "bad payload"})
	if !errors.Is(err, hoard.ErrCorrupt) {
		t.Errorf("GetMany err = %v; want ErrCorrupt", err)
	}
	if len(got) != 1 || got["good"].Value.Name != "one" {
		t.Errorf("GetMany = %v; want the one good entry despite the corrupt ones", got)
	}
}

// An unreachable server is a hoard: ErrUnavailable error that wraps the
// cause, returned within the ctx deadline.
func TestUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	client := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	defer client.Close()
	c := newCache(t, client, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = c.Get(ctx, "k")
	if !errors.Is(err, hoard.ErrUnavailable) {
		t.Fatalf("Get: %v; want ErrUnavailable", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("Get: %v does not wrap the connection error", err)
	}
	if !strings.HasPrefix(err.Error(), "hoard:") {
		t.Errorf("Get: %q is not prefixed hoard:", err)
	}
	if err := c.Set(ctx, "k", hoard.Entry[hoardtest.Item]{}); !errors.Is(err, hoard.ErrUnavailable) {
		t.Errorf("Set: %v; want ErrUnavailable", err)
	}
	if _, err := c.GetMany(ctx, []string{"a", "b"}); !errors.Is(err, hoard.ErrUnavailable) {
		t.Errorf("GetMany: %v; want ErrUnavailable", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("calls took %v, past the ctx deadline", time.Since(start))
	}
}

// A Redis error reply is ErrBackend, not ErrUnavailable.
func TestErrorReplyIsBackendError(t *testing.T) {
	_, client := redistest.Miniredis(t)
	ctx := context.Background()
	if err := client.LPush(ctx, "list", "x").Err(); err != nil {
		t.Fatal(err)
	}
	c := newCache(t, client, nil)
	_, err := c.Get(ctx, "list")
	if !errors.Is(err, hoard.ErrBackend) || errors.Is(err, hoard.ErrUnavailable) {
		t.Errorf("Get of a list: %v; want ErrBackend", err)
	}
}

// The Redis TTL follows the entry: KeepUntil for values, TombstoneTTL for
// deletes, none for entries that never expire.
func TestRedisTTLs(t *testing.T) {
	mr, client := redistest.Miniredis(t)
	ctx := context.Background()
	clock := hoardtest.NewFakeClock(time.Now())
	c, err := hoardredis.New[int](client, &hoardredis.Options{Clock: clock, TombstoneTTL: 7 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	set := func(key string, e hoard.Entry[int]) {
		t.Helper()
		if err := c.Set(ctx, key, e); err != nil {
			t.Fatal(err)
		}
	}
	set("fresh", hoard.Entry[int]{Value: 1, ExpiresAt: now.Add(time.Minute)})
	set("stale", hoard.Entry[int]{Value: 1, ExpiresAt: now.Add(time.Minute), StaleUntil: now.Add(time.Hour)})
	set("forever", hoard.Entry[int]{Value: 1})
	if err := c.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	grace := 10 * time.Second
	for key, want := range map[string]time.Duration{
		"fresh": time.Minute + grace, "stale": time.Hour + grace, "forever": 0, "gone": 7 * time.Second,
	} {
		if got := mr.TTL(key); got != want {
			t.Errorf("TTL(%q) = %v; want %v", key, got, want)
		}
	}
}

// A load that read a key as absent, then outlived the tombstone of a Delete
// that came after its read, must not store: the expired tombstone no longer
// says the key moved on, the token's age does.
func TestAbsentTokenOutlivingTombstone(t *testing.T) {
	mr, client := redistest.Miniredis(t)
	ctx := context.Background()
	clock := hoardtest.NewFakeClock(time.Now())
	c, err := hoardredis.New[int](client, &hoardredis.Options{Clock: clock, TombstoneTTL: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	advance := func(d time.Duration) { clock.Advance(d); mr.FastForward(d) }

	_, tok, err := c.GetWithToken(ctx, "k") // the load reads "absent"
	if !errors.Is(err, hoard.ErrNotFound) {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "k"); err != nil { // a writer deletes
		t.Fatal(err)
	}
	advance(11 * time.Second) // the tombstone expires while the load runs
	if mr.Exists("k") {
		t.Fatal("the tombstone did not expire")
	}
	err = c.CompareAndSet(ctx, "k", tok, hoard.Entry[int]{Value: 1})
	if !errors.Is(err, hoard.ErrConflict) {
		t.Fatalf("CompareAndSet with a token older than TombstoneTTL: %v; want ErrConflict", err)
	}
	if mr.Exists("k") {
		t.Fatal("the stale load was stored")
	}
	// A fresh token of the absent key still stores.
	_, tok, _ = c.GetWithToken(ctx, "k")
	advance(5 * time.Second)
	if err := c.CompareAndSet(ctx, "k", tok, hoard.Entry[int]{Value: 2}); err != nil {
		t.Fatalf("CompareAndSet with a young token: %v", err)
	}
	if err := c.CompareAndSet(ctx, "k", 0, hoard.Entry[int]{Value: 3}); !errors.Is(err, hoard.ErrConflict) {
		t.Fatalf("CompareAndSet with the zero token: %v; want ErrConflict", err)
	}
}

// An entry that expired while a load of it ran: the load's write-back must
// go through (nothing changed the key), and it does, because Redis keeps
// the expired entry, absent to readers, for ExpiredGrace.
func TestLoadOutlivingItsEntryStores(t *testing.T) {
	mr, client := redistest.Miniredis(t)
	ctx := context.Background()
	clock := hoardtest.NewFakeClock(time.Now())
	c, err := hoardredis.New[int](client, &hoardredis.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	advance := func(d time.Duration) { clock.Advance(d); mr.FastForward(d) }
	now := clock.Now()
	if err := c.Set(ctx, "k", hoard.Entry[int]{Value: 1, ExpiresAt: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	advance(time.Second + time.Millisecond) // expired, still in Redis
	_, tok, err := c.GetWithToken(ctx, "k")
	if !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Get of an expired entry: %v; want ErrNotFound", err)
	}
	advance(2 * time.Second) // the load runs on
	if err := c.CompareAndSet(ctx, "k", tok, hoard.Entry[int]{Value: 2, ExpiresAt: clock.Now().Add(time.Minute)}); err != nil {
		t.Fatalf("the load's write-back: %v; want it stored", err)
	}
	if e, err := c.Get(ctx, "k"); err != nil || e.Value != 2 {
		t.Fatalf("Get = %v, %v; want 2", e.Value, err)
	}
}

// A load that read a key as absent must not store over an entry written
// (and expired) while it ran.
func TestAbsentTokenAfterWriteAndExpiry(t *testing.T) {
	mr, client := redistest.Miniredis(t)
	ctx := context.Background()
	clock := hoardtest.NewFakeClock(time.Now())
	c, err := hoardredis.New[int](client, &hoardredis.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	advance := func(d time.Duration) { clock.Advance(d); mr.FastForward(d) }
	_, tok, _ := c.GetWithToken(ctx, "k") // the slow load reads "absent" and the old row
	if err := c.Set(ctx, "k", hoard.Entry[int]{Value: 2, ExpiresAt: clock.Now().Add(time.Second)}); err != nil {
		t.Fatal(err) // a writer stores the new row, briefly
	}
	advance(3 * time.Second) // the new entry expires; the load finishes
	if err := c.CompareAndSet(ctx, "k", tok, hoard.Entry[int]{Value: 1, ExpiresAt: clock.Now().Add(time.Hour)}); !errors.Is(err, hoard.ErrConflict) {
		t.Fatalf("the stale load's write-back: %v; want ErrConflict", err)
	}
}

// A Redis restarted empty loses every tag stamp; the tag clock then starts
// again from the time, and a tag with no stamp reads as stamped at that
// start: an entry loaded before the restart never reads as valid again.
func TestTagClockRestartedEmpty(t *testing.T) {
	mr, client := redistest.Miniredis(t)
	ctx := context.Background()
	clock := hoardtest.NewFakeClock(time.Now())
	c := newCache(t, client, &hoardredis.Options{Clock: clock})
	loadedAt, err := c.Epoch(ctx) // an entry tagged "row:1" is loaded at this epoch
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InvalidateTags(ctx, "row:1"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	mr.FlushAll() // the restart: no epoch, no stamp
	stamps, err := c.TagEpochs(ctx, []string{"row:1", "never"})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range stamps {
		if s <= loadedAt {
			t.Errorf("stamp %d after the restart is %d, not after the old entry's epoch %d: it would be served again", i, s, loadedAt)
		}
	}
	if e, _ := c.Epoch(ctx); e < stamps[0] {
		t.Errorf("epoch %d is before the clock's start %d", e, stamps[0])
	}
}
