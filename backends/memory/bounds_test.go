package memory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

func TestNewRejectsBadOptions(t *testing.T) {
	for name, o := range map[string]memory.Options[string]{
		"negative MaxEntries":    {MaxEntries: -1},
		"negative MaxValueBytes": {MaxValueBytes: -1},
		"negative MaxCounters":   {MaxCounters: -1},
		"bytes below entries":    {MaxEntries: 100, MaxBytes: 10},
	} {
		_, err := memory.New(&o)
		if !errors.Is(err, hoard.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "hoard:") {
			t.Errorf("%s: %v; want a hoard: ErrInvalidOption", name, err)
		}
	}
	c, err := memory.New[string](nil)
	if err != nil {
		t.Fatalf("New(nil): %v", err)
	}
	_ = c.Close()
}

// Writing ten times what fits keeps the cache under its byte bound.
func TestByteBoundHolds(t *testing.T) {
	const maxBytes = 1 << 20
	c, err := memory.New(&memory.Options[string]{MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	value := strings.Repeat("v", 1000)
	for i := range 10 * maxBytes / len(value) {
		if err := c.Set(ctx, fmt.Sprint("key-", i), hoard.Entry[string]{Value: value}); err != nil {
			t.Fatal(err)
		}
	}
	c.CleanUp()
	if got := c.WeightedSize(); got > maxBytes {
		t.Fatalf("weighted size %d exceeds MaxBytes %d", got, maxBytes)
	}
	if got := c.WeightedSize(); got < maxBytes/2 {
		t.Errorf("weighted size %d: the cache holds less than half its bound", got)
	}
}

// With both bounds set, both hold.
func TestEntryAndByteBoundsTogether(t *testing.T) {
	c, err := memory.New(&memory.Options[string]{MaxEntries: 100, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for i := range 10_000 {
		if err := c.Set(ctx, fmt.Sprint("k", i), hoard.Entry[string]{Value: "tiny"}); err != nil {
			t.Fatal(err)
		}
	}
	c.CleanUp()
	if n := c.Len(); n > 100 {
		t.Fatalf("%d entries held; MaxEntries is 100", n)
	}
	if got := c.WeightedSize(); got > 1<<20 {
		t.Fatalf("weighted size %d exceeds MaxBytes", got)
	}
}

func TestEntryBoundHolds(t *testing.T) {
	c, err := memory.New(&memory.Options[int]{MaxEntries: 500})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for i := range 50_000 {
		if err := c.Set(ctx, fmt.Sprint("k", i), hoard.Entry[int]{Value: i}); err != nil {
			t.Fatal(err)
		}
	}
	c.CleanUp()
	if n := c.Len(); n > 500 {
		t.Fatalf("%d entries held; MaxEntries is 500", n)
	}
}

// The weigher decides what "too large" means; tags count towards it.
func TestWeigherAndMaxValueBytes(t *testing.T) {
	type blob struct{ data []byte }
	c, err := memory.New(&memory.Options[blob]{
		MaxBytes:      1 << 20,
		MaxValueBytes: 1000,
		Weigher:       func(_ string, b blob) int { return len(b.data) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", hoard.Entry[blob]{Value: blob{make([]byte, 900)}}); err != nil {
		t.Fatalf("900-byte value: %v", err)
	}
	err = c.Set(ctx, "k", hoard.Entry[blob]{Value: blob{make([]byte, 990)}, Tags: []string{strings.Repeat("t", 20)}})
	if !errors.Is(err, hoard.ErrTooLarge) {
		t.Fatalf("990 bytes + 20 bytes of tags: %v; want ErrTooLarge", err)
	}
	if e, err := c.Get(ctx, "k"); err != nil || len(e.Value.data) != 900 {
		t.Fatalf("after a refused Set the old value must stay: %v, %d bytes", err, len(e.Value.data))
	}
}

// Evictions for room reach the metrics.
func TestEvictionsCounted(t *testing.T) {
	m := hoard.NewMetrics("evict", nil)
	c, err := memory.New(&memory.Options[int]{MaxEntries: 100, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 1000 {
		_ = c.Set(context.Background(), fmt.Sprint("k", i), hoard.Entry[int]{Value: i})
	}
	c.CleanUp()
	// otter runs deletion listeners asynchronously; wait for them.
	deadline := time.Now().Add(10 * time.Second)
	for m.Snapshot().Total(hoard.EventEviction) < 900 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := m.Snapshot().Total(hoard.EventEviction); n < 900 {
		t.Fatalf("%d evictions counted for 1000 writes into 100 entries; want at least 900", n)
	}
}

func TestDeleteMatching(t *testing.T) {
	c, err := memory.New[int](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, k := range []string{"user:1:profile", "user:2:profile", "user:2:orders", "team:1:profile"} {
		_ = c.Set(ctx, k, hoard.Entry[int]{Value: 1})
	}
	n, err := c.DeleteMatching(ctx, "user:*:profile")
	if err != nil || n != 2 {
		t.Fatalf("DeleteMatching = %d, %v; want 2", n, err)
	}
	for k, want := range map[string]bool{"user:1:profile": false, "user:2:profile": false, "user:2:orders": true, "team:1:profile": true} {
		if _, err := c.Get(ctx, k); (err == nil) != want {
			t.Errorf("%s present = %v; want %v", k, err == nil, want)
		}
	}
	if _, err := c.DeleteMatching(ctx, "user:[:"); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("malformed pattern: %v; want ErrInvalidOption", err)
	}
}
