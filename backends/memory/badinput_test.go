package memory_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Oversize values and keys are refused with ErrTooLarge and a message that
// names the key, the size and the limit; the old entry stays, and SetMany
// and CompareAndSet refuse them too.
func TestBadInputOversizeRefused(t *testing.T) {
	const limit = 1 << 10
	c, err := memory.New(&memory.Options[string]{MaxEntries: 100, MaxValueBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", hoard.Entry[string]{Value: "old"}); err != nil {
		t.Fatal(err)
	}
	bigKey := strings.Repeat("K", 4*limit)
	for name, set := range map[string]func() error{
		"value": func() error { return c.Set(ctx, "k", hoard.Entry[string]{Value: strings.Repeat("v", limit+1)}) },
		"key":   func() error { return c.Set(ctx, bigKey, hoard.Entry[string]{Value: "v"}) },
		"tags": func() error {
			return c.Set(ctx, "k", hoard.Entry[string]{Value: "v", Tags: []string{strings.Repeat("t", limit)}})
		},
		"SetMany": func() error {
			return c.SetMany(ctx, map[string]hoard.Entry[string]{"a": {Value: "ok"}, "k": {Value: strings.Repeat("v", 2*limit)}})
		},
		"CompareAndSet": func() error {
			_, tok, _ := c.GetWithToken(ctx, "k")
			return c.CompareAndSet(ctx, "k", tok, hoard.Entry[string]{Value: strings.Repeat("v", 2*limit)})
		},
	} {
		err := set()
		if !errors.Is(err, hoard.ErrTooLarge) {
			t.Errorf("%s: %v; want ErrTooLarge", name, err)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "hoard: too large: memory: entry ") || !strings.Contains(msg, fmt.Sprint("MaxValueBytes ", limit)) {
			t.Errorf("%s: message %q does not say what was refused and why", name, msg)
		}
	}
	if e, err := c.Get(ctx, "k"); err != nil || e.Value != "old" {
		t.Fatalf("after the refusals k = %q, %v; want the old value", e.Value, err)
	}
	for _, k := range []string{"a", bigKey} {
		if _, err := c.Get(ctx, k); !errors.Is(err, hoard.ErrNotFound) {
			t.Errorf("%.10s… was stored by a refused write: %v", k, err)
		}
	}
}

// blob is a value that holds its bytes behind a pointer, with a weigher
// that counts them: what MaxBytes is for.
type blob struct{ data []byte }

// Ten times more data than the byte bound allows is written: the weighted
// size stays under MaxBytes, and so does the heap the cache holds (its
// real footprint, measured after a GC, within a small factor of the bound).
func TestBadInputByteBoundTenfold(t *testing.T) {
	const maxBytes = 8 << 20
	c, err := memory.New(&memory.Options[blob]{
		MaxBytes: maxBytes,
		Weigher:  func(_ string, b blob) int { return cap(b.data) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	before := heapInUse()
	written := 0
	for i := 0; written < 10*maxBytes; i++ {
		n := 256 + (i*7919)%(16<<10) // 256 B to 16 KiB
		if err := c.Set(ctx, fmt.Sprint("key-", i), hoard.Entry[blob]{Value: blob{make([]byte, n)}}); err != nil {
			t.Fatal(err)
		}
		written += n
	}
	c.CleanUp()
	weighted := c.WeightedSize()
	held := int64(heapInUse()) - int64(before)
	if weighted > maxBytes {
		t.Fatalf("weighted size %d exceeds MaxBytes %d after writing %d bytes", weighted, maxBytes, written)
	}
	if weighted < maxBytes/2 {
		t.Errorf("weighted size %d: the cache holds less than half its bound", weighted)
	}
	// The weigher counts the payload; keys, entries and otter's nodes are
	// estimated (128 bytes an entry). Twice the bound is generous and still
	// far below the 80 MiB written.
	if held > 2*maxBytes {
		t.Fatalf("the heap grew by %d bytes for a cache bounded to %d (%d bytes written)", held, maxBytes, written)
	}
	runtime.KeepAlive(c)
	t.Logf("byte bound: %d bytes written (%.1fx MaxBytes %d) into %d entries held; weighted size %d; heap held %d bytes (%.2fx the bound)",
		written, float64(written)/maxBytes, maxBytes, c.Len(), weighted, held, float64(held)/maxBytes)
}

// A million distinct keys through a cache of 10,000 entries: the heap after
// a GC stays near the footprint of 10,000 entries, and does not grow
// between the first tenth of the keys and the last. Under -short it is
// 200,000 keys; under -race (~250µs a Set) 25,000 keys into 1,000 entries:
// still 20 to 100 times the bound.
func TestBadInputMillionDistinctKeys(t *testing.T) {
	maxEntries, n := 10_000, 1_000_000
	switch {
	case raceEnabled:
		maxEntries, n = 1_000, 25_000
	case testing.Short():
		n = 200_000
	}
	c, err := memory.New(&memory.Options[int]{MaxEntries: maxEntries})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	base := heapInUse()
	var atTenth int64
	key := make([]byte, 0, 32)
	for i := range n {
		key = fmt.Appendf(key[:0], "user:%d:profile", i)
		if err := c.Set(ctx, string(key), hoard.Entry[int]{Value: i}); err != nil {
			t.Fatal(err)
		}
		if i+1 == n/10 {
			c.CleanUp()
			atTenth = int64(heapInUse()) - int64(base)
		}
	}
	c.CleanUp()
	atEnd := int64(heapInUse()) - int64(base)
	if l := c.Len(); l > maxEntries {
		t.Fatalf("%d entries held after %d distinct keys; MaxEntries is %d", l, n, maxEntries)
	}
	// An entry costs ~300 bytes (key, entry, otter node, map slot): ~3 MiB
	// for 10,000. Unbounded, a million keys would hold over 250 MiB, and
	// 25,000 over 7 MiB.
	footprint := int64(maxEntries)*1024 + 1<<20
	if atEnd > footprint {
		t.Fatalf("heap grew by %d bytes after %d distinct keys into %d entries; want under %d", atEnd, n, maxEntries, footprint)
	}
	if growth := atEnd - atTenth; growth > footprint/4 {
		t.Fatalf("heap grew by %d bytes between %d and %d keys: it grows with the keys seen", growth, n/10, n)
	}
	runtime.KeepAlive(c)
	t.Logf("%d distinct keys into MaxEntries %d: %d entries held; heap held %d bytes after %d keys, %d after %d (%.0f bytes an entry)",
		n, maxEntries, c.Len(), atTenth, n/10, atEnd, n, float64(atEnd)/float64(maxEntries))
}
