package hoardtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

func testCompareAndSet(t *testing.T, s *suite) {
	cas, ok := s.Cache.(hoard.CompareAndSetter[Item])
	if !ok {
		t.Skip("hoardtest: cache is no CompareAndSetter")
	}
	ctx := context.Background()
	k := s.key("cas")

	take := func() hoard.Token {
		t.Helper()
		_, tok, err := cas.GetWithToken(ctx, k)
		if err != nil && !errors.Is(err, hoard.ErrNotFound) {
			t.Fatalf("GetWithToken: %v", err)
		}
		return tok
	}
	mustConflict := func(what string, tok hoard.Token, id int) {
		t.Helper()
		err := cas.CompareAndSet(ctx, k, tok, s.entry(id, time.Hour))
		if !errors.Is(err, hoard.ErrConflict) {
			t.Fatalf("CompareAndSet after %s: %v; want hoard.ErrConflict", what, err)
		}
	}

	// A token taken on a miss stores.
	tok := take()
	if err := cas.CompareAndSet(ctx, k, tok, s.entry(1, time.Hour)); err != nil {
		t.Fatalf("CompareAndSet with a fresh token: %v", err)
	}
	s.mustHoldItem(t, k, 1)
	// The same token again is stale: the key was written with it.
	mustConflict("its own write", tok, 2)

	// A Set between token and CompareAndSet wins.
	tok = take()
	s.mustSet(t, k, s.entry(3, time.Hour))
	mustConflict("a Set", tok, 4)
	s.mustHoldItem(t, k, 3)

	// A Delete between them wins: the stale value is not put back.
	tok = take()
	if err := s.Cache.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	mustConflict("a Delete", tok, 5)
	s.mustMiss(t, k)

	// A Delete of an absent key still invalidates a token taken on the miss.
	tok = take()
	if err := s.Cache.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	mustConflict("a Delete of an absent key", tok, 6)
	s.mustMiss(t, k)

	// Of many racing loads with one token, exactly one stores.
	tok = take()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Go(func() {
			err := cas.CompareAndSet(ctx, k, tok, s.entry(10+i, time.Hour))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, hoard.ErrConflict):
				t.Errorf("racing CompareAndSet: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d of 8 racing CompareAndSets with one token stored; want 1", wins)
	}

	if pd, ok := s.Cache.(hoard.PrefixDeleter); ok {
		tok = take()
		if _, err := pd.DeletePrefix(ctx, s.prefix); err != nil {
			t.Fatal(err)
		}
		mustConflict("a DeletePrefix", tok, 20)
	}
}

func testManyTokens(t *testing.T, s *suite) {
	mt, ok := s.Cache.(hoard.ManyTokenGetter[Item])
	cas, isCAS := s.Cache.(hoard.CompareAndSetter[Item])
	if !ok || !isCAS {
		t.Skip("hoardtest: cache is no ManyTokenGetter and CompareAndSetter")
	}
	ctx := context.Background()
	present, deleted, absent, rewritten := s.key("mt-present"), s.key("mt-deleted"), s.key("mt-absent"), s.key("mt-rewritten")
	s.mustSet(t, present, s.entry(1, time.Hour))
	s.mustSet(t, deleted, s.entry(2, time.Hour))
	s.mustSet(t, rewritten, s.entry(3, time.Hour))
	if err := s.Cache.Delete(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	keys := []string{present, deleted, absent, rewritten}
	found := map[string]hoard.Entry[Item]{}
	tokens, tokenOK, calls := make([]hoard.Token, len(keys)), make([]bool, len(keys)), make([]int, len(keys))
	err := mt.GetManyWithTokens(ctx, keys, func(i int, e *hoard.Entry[Item], tok hoard.Token, ok bool) {
		calls[i]++
		if e != nil {
			found[keys[i]] = *e // copied: the entry is valid only during the call
		}
		tokens[i], tokenOK[i] = tok, ok
	})
	if err != nil {
		t.Fatalf("GetManyWithTokens: %v", err)
	}
	for i, n := range calls {
		if n != 1 {
			t.Fatalf("GetManyWithTokens called each %d times for %q; want once", n, keys[i])
		}
	}
	if len(found) != 2 || !itemsEqual(found[present].Value, sampleItem(1)) {
		t.Fatalf("found = %v; want the present and rewritten keys", found)
	}
	for i, ok := range tokenOK {
		if !ok {
			t.Fatalf("no token for %q", keys[i])
		}
	}
	s.mustSet(t, rewritten, s.entry(4, time.Hour))
	// Untouched keys store with their tokens, deleted and absent ones too;
	// the key written since refuses.
	if many, ok := s.Cache.(hoard.ManyCompareAndSetter[Item]); ok {
		writes := make([]hoard.TokenWrite[Item], len(keys))
		for i, k := range keys {
			writes[i] = hoard.TokenWrite[Item]{Key: k, Token: tokens[i], Entry: s.entry(10+i, time.Hour)}
		}
		err := many.CompareAndSetMany(ctx, writes)
		if !errors.Is(err, hoard.ErrConflict) || !strings.Contains(err.Error(), "mt-rewritten") || strings.Contains(err.Error(), "mt-present") {
			t.Errorf("CompareAndSetMany: %v; want one ErrConflict, for the rewritten key", err)
		}
	} else {
		for i, k := range keys[:3] {
			if err := cas.CompareAndSet(ctx, k, tokens[i], s.entry(10+i, time.Hour)); err != nil {
				t.Errorf("CompareAndSet(%q) with its batch token: %v", k, err)
			}
		}
		if err := cas.CompareAndSet(ctx, rewritten, tokens[3], s.entry(13, time.Hour)); !errors.Is(err, hoard.ErrConflict) {
			t.Errorf("CompareAndSet of a key written since: %v; want ErrConflict", err)
		}
	}
	for i, k := range keys[:3] {
		s.mustHoldItem(t, k, 10+i)
	}
	s.mustHoldItem(t, rewritten, 4)
}

func testDeletePrefix(t *testing.T, s *suite) {
	pd, ok := s.Cache.(hoard.PrefixDeleter)
	if !ok {
		t.Skip("hoardtest: cache is no PrefixDeleter")
	}
	ctx := context.Background()
	// Glob characters in the prefix must be taken literally.
	doomed := s.key("users*[?]:")
	for i := range 25 {
		s.mustSet(t, fmt.Sprint(doomed, i), s.entry(i, time.Hour))
	}
	lookalike := s.key("users-x:1") // matches the glob users*, not the prefix
	kept := s.key("orders:1")
	s.mustSet(t, lookalike, s.entry(100, time.Hour))
	s.mustSet(t, kept, s.entry(101, time.Hour))

	n, err := pd.DeletePrefix(ctx, doomed)
	if err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	if n != 25 {
		t.Errorf("DeletePrefix deleted %d; want 25", n)
	}
	for i := range 25 {
		s.mustMiss(t, fmt.Sprint(doomed, i))
	}
	s.mustHoldItem(t, lookalike, 100)
	s.mustHoldItem(t, kept, 101)
	if n, err := pd.DeletePrefix(ctx, s.key("nothing-here:")); err != nil || n != 0 {
		t.Errorf("DeletePrefix of an unused prefix = %d, %v; want 0, nil", n, err)
	}
}

func testClear(t *testing.T, s *suite) {
	cl, ok := s.Cache.(hoard.Clearer)
	if !ok {
		t.Skip("hoardtest: cache is no Clearer")
	}
	ctx := context.Background()
	k := s.key("clear")
	s.mustSet(t, k, s.entry(1, time.Hour))
	var tok hoard.Token
	cas, isCAS := s.Cache.(hoard.CompareAndSetter[Item])
	if isCAS {
		_, tok, _ = cas.GetWithToken(ctx, k)
	}
	if err := cl.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	s.mustMiss(t, k)
	if isCAS {
		if err := cas.CompareAndSet(ctx, k, tok, s.entry(2, time.Hour)); !errors.Is(err, hoard.ErrConflict) {
			t.Fatalf("CompareAndSet after Clear: %v; want hoard.ErrConflict", err)
		}
	}
}

func testCounter(t *testing.T, s *suite) {
	c, ok := s.Cache.(hoard.Counter)
	if !ok {
		t.Skip("hoardtest: cache is no Counter")
	}
	ctx := context.Background()
	k := s.key("counter")
	start, err := c.IncrBy(ctx, k, 0)
	if err != nil {
		t.Fatalf("IncrBy(0): %v", err)
	}
	// A new counter starts from the time in microseconds, so a lost one
	// never repeats an old value.
	now := s.now().UnixMicro()
	if start < now-int64(time.Hour/time.Microsecond) || start > now+int64(time.Hour/time.Microsecond) {
		t.Errorf("new counter = %d; want about the time in µs, %d", start, now)
	}
	const workers, incs = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range incs {
				if _, err := c.IncrBy(ctx, k, 1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := c.IncrBy(ctx, k, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := start + workers*incs; got != want {
		t.Errorf("counter = %d after %d increments; want %d", got, workers*incs, want)
	}
	if got, _ := c.IncrBy(ctx, k, -3); got != start+workers*incs-3 {
		t.Errorf("IncrBy(-3) = %d; want %d", got, start+workers*incs-3)
	}
}

func testTagClock(t *testing.T, s *suite) {
	tc, ok := s.Cache.(hoard.TagClock)
	if !ok {
		t.Skip("hoardtest: cache is no TagClock")
	}
	ctx := context.Background()
	e0, err := tc.Epoch(ctx)
	if err != nil {
		t.Fatalf("Epoch: %v", err)
	}
	// The clock starts from the time in µs, so a lost one comes back later.
	if now := s.now().UnixMicro(); e0 < now-int64(24*time.Hour/time.Microsecond) || e0 > now+int64(time.Hour/time.Microsecond) {
		t.Errorf("epoch %d is not near the time in µs %d", e0, now)
	}
	a, b, never := s.key("tag-a"), s.key("tag-b"), s.key("tag-never")
	e1, err := tc.InvalidateTags(ctx, a, b)
	if err != nil {
		t.Fatalf("InvalidateTags: %v", err)
	}
	if e1 <= e0 {
		t.Fatalf("InvalidateTags returned epoch %d, not after %d", e1, e0)
	}
	e2, _ := tc.InvalidateTags(ctx, b)
	got, err := tc.TagEpochs(ctx, []string{a, b, never})
	if err != nil {
		t.Fatalf("TagEpochs: %v", err)
	}
	// A tag never invalidated reads as the clock's start (or 0), never
	// after an epoch Epoch returned.
	if got[0] != e1 || got[1] != e2 || got[2] < 0 || got[2] > e0 {
		t.Errorf("TagEpochs = %v; want [%d %d ≤%d]", got, e1, e2, e0)
	}
	if cur, _ := tc.Epoch(ctx); cur < e2 {
		t.Errorf("Epoch %d went back from %d", cur, e2)
	}
	// Concurrent invalidations each get an epoch of their own.
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				e, err := tc.InvalidateTags(ctx, a)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[e] {
					t.Errorf("epoch %d handed out twice", e)
				}
				seen[e] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
