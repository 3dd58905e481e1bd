package hoardtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// conformanceTests is the suite, one subtest each.
var conformanceTests = []struct {
	name string
	run  func(t *testing.T, s *suite)
}{
	{"GetMissing", testGetMissing},
	{"SetGetRoundTrip", testSetGetRoundTrip},
	{"Overwrite", testOverwrite},
	{"Delete", testDelete},
	{"Expiry", testExpiry},
	{"StaleRetention", testStaleRetention},
	{"NoExpiry", testNoExpiry},
	{"SetAlreadyExpired", testSetAlreadyExpired},
	{"NegativeEntry", testNegativeEntry},
	{"HostileKeys", testHostileKeys},
	{"GetID", testGetID},
	{"Oversize", testOversize},
	{"Concurrent", testConcurrent},
	{"ContextCanceled", testContextCanceled},
	{"ManyKeys", testManyKeys},
	{"CompareAndSet", testCompareAndSet},
	{"ManyTokens", testManyTokens},
	{"DeletePrefix", testDeletePrefix},
	{"Clear", testClear},
	{"Counter", testCounter},
	{"FloorCounter", testFloorCounter},
	{"TagClock", testTagClock},
}

func testGetMissing(t *testing.T, s *suite) {
	s.mustMiss(t, s.key("absent"))
}

func testSetGetRoundTrip(t *testing.T, s *suite) {
	k := s.key("round-trip")
	now := s.now()
	in := hoard.Entry[Item]{
		Value:        sampleItem(7),
		WrittenAt:    now,
		ExpiresAt:    now.Add(time.Hour),
		StaleUntil:   now.Add(2 * time.Hour),
		LoadDuration: 1234567 * time.Nanosecond,
		Generation:   99, // ignored: the cache assigns its own
		Tags:         []string{"product:7", "category:{x}", ""},
		TagEpoch:     1_780_000_000_123_456,
	}
	s.mustSet(t, k, in)
	out := s.mustGet(t, k)
	if !itemsEqual(out.Value, in.Value) {
		t.Errorf("Value = %+v; want %+v", out.Value, in.Value)
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"WrittenAt", out.WrittenAt, in.WrittenAt},
		{"ExpiresAt", out.ExpiresAt, in.ExpiresAt},
		{"StaleUntil", out.StaleUntil, in.StaleUntil},
	} {
		if !f.got.Equal(f.want) {
			t.Errorf("%s = %v; want %v", f.name, f.got, f.want)
		}
	}
	if out.LoadDuration != in.LoadDuration {
		t.Errorf("LoadDuration = %v; want %v", out.LoadDuration, in.LoadDuration)
	}
	if out.Negative {
		t.Error("Negative = true; want false")
	}
	if !slices.Equal(out.Tags, in.Tags) {
		t.Errorf("Tags = %q; want %q", out.Tags, in.Tags)
	}
	if out.TagEpoch != in.TagEpoch {
		t.Errorf("TagEpoch = %d; want %d", out.TagEpoch, in.TagEpoch)
	}
	if out.Generation == 0 {
		t.Error("Generation = 0; want the cache to assign one")
	}
	if !out.IsFresh(s.now()) {
		t.Error("IsFresh = false right after Set")
	}
}

func testOverwrite(t *testing.T, s *suite) {
	k := s.key("overwrite")
	s.mustSet(t, k, s.entry(1, time.Hour))
	g1 := s.mustGet(t, k).Generation
	s.mustSet(t, k, s.entry(2, time.Hour))
	s.mustHoldItem(t, k, 2)
	if g2 := s.mustGet(t, k).Generation; g2 == g1 {
		t.Errorf("Generation %d did not change on overwrite", g2)
	}
}

func testDelete(t *testing.T, s *suite) {
	ctx := context.Background()
	a, b, c := s.key("a"), s.key("b"), s.key("c")
	for i, k := range []string{a, b, c} {
		s.mustSet(t, k, s.entry(i, time.Hour))
	}
	if err := s.Cache.Delete(ctx, a); err != nil {
		t.Fatalf("Delete(a): %v", err)
	}
	s.mustMiss(t, a)
	s.mustHoldItem(t, b, 1)
	if err := s.Cache.Delete(ctx, b, c, s.key("never-set")); err != nil {
		t.Fatalf("Delete(b, c, absent): %v", err)
	}
	s.mustMiss(t, b)
	s.mustMiss(t, c)
	if err := s.Cache.Delete(ctx); err != nil {
		t.Fatalf("Delete(): %v", err)
	}
}

// ttlUnit is the TTL granularity of a subtest: an hour when time is fake,
// a fraction of a second when it passes for real.
func (s *suite) ttlUnit() time.Duration {
	if s.realTime() {
		return 150 * time.Millisecond
	}
	return time.Hour
}

func testExpiry(t *testing.T, s *suite) {
	k := s.key("expiring")
	u := s.ttlUnit()
	s.mustSet(t, k, s.entry(1, 2*u))
	s.pass(u)
	if e := s.mustGet(t, k); !e.IsFresh(s.now()) {
		t.Fatal("entry not fresh before its expiry")
	}
	s.pass(2 * u)
	s.mustMiss(t, k)
}

func testStaleRetention(t *testing.T, s *suite) {
	k := s.key("stale")
	u := s.ttlUnit()
	e := s.entry(1, 2*u)
	e.StaleUntil = e.ExpiresAt.Add(4 * u)
	s.mustSet(t, k, e)
	s.pass(3 * u)
	got := s.mustGet(t, k)
	if got.IsFresh(s.now()) {
		t.Fatal("entry still fresh after its ExpiresAt")
	}
	if !itemsEqual(got.Value, sampleItem(1)) {
		t.Fatalf("stale Value = %+v", got.Value)
	}
	s.pass(4 * u)
	s.mustMiss(t, k)
}

func testNoExpiry(t *testing.T, s *suite) {
	k := s.key("forever")
	s.mustSet(t, k, s.entry(1, 0))
	s.pass(s.ttlUnit() * 3)
	if e := s.mustGet(t, k); !e.ExpiresAt.IsZero() || !e.IsFresh(s.now()) {
		t.Fatalf("entry without expiry: ExpiresAt %v, fresh %v", e.ExpiresAt, e.IsFresh(s.now()))
	}
}

func testSetAlreadyExpired(t *testing.T, s *suite) {
	k := s.key("past")
	s.mustSet(t, k, s.entry(1, time.Hour))
	e := s.entry(2, time.Hour)
	e.ExpiresAt = s.now().Add(-time.Second)
	s.mustSet(t, k, e)
	s.mustMiss(t, k)
}

func testNegativeEntry(t *testing.T, s *suite) {
	k := s.key("negative")
	now := s.now()
	s.mustSet(t, k, hoard.Entry[Item]{Negative: true, WrittenAt: now, ExpiresAt: now.Add(time.Hour)})
	e := s.mustGet(t, k)
	if !e.Negative {
		t.Fatal("Negative = false; want true")
	}
	if !itemsEqual(e.Value, Item{}) {
		t.Fatalf("negative entry Value = %+v; want the zero Item", e.Value)
	}
}

func testHostileKeys(t *testing.T, s *suite) {
	names := []string{
		"", ":", "{", "}", "{tag}", "a{b}c", "*", "?", "[a-z]", "\\", "%", "%3A",
		"space key", "new\nline", "nul\x00byte", "\xff\xfe", "ключ", "🗝️",
		strings.Repeat("x", 300),
	}
	for i, n := range names {
		s.mustSet(t, s.key(n), s.entry(i, time.Hour))
	}
	for i, n := range names {
		s.mustHoldItem(t, s.key(n), i)
	}
}

func testGetID(t *testing.T, s *suite) {
	g, ok := s.Cache.(hoard.IDKeyGetter[Item])
	if !ok {
		t.Skip("hoardtest: cache is no IDKeyGetter")
	}
	ctx := context.Background()
	kb, err := hoard.NewKeyBuilder(s.key("by-id"), nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := []hoard.IDKey{
		{Keys: &kb, ID: "7"},
		{Keys: &kb, Version: "v3", ID: "7"},
		{Keys: &kb, ID: "a:b {c}%\n"},                          // escaped parts
		{Keys: &kb, ID: strings.Repeat("long/", 100)},          // past any stack buffer, hashed down
		{Keys: &kb, Version: "9", ID: strings.Repeat("é", 40)}, // escapes that make it long
	}
	for i, k := range keys {
		s.mustSet(t, k.String(), s.entry(i, time.Hour))
	}
	for i, k := range keys {
		e, err := g.GetID(ctx, k)
		if err != nil || e == nil || !itemsEqual(e.Value, sampleItem(i)) {
			t.Fatalf("GetID(%q) = %+v, %v; want item %d", k.String(), e, err, i)
		}
	}
	if _, err := g.GetID(ctx, hoard.IDKey{Keys: &kb, Version: "v4", ID: "7"}); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("GetID of an absent key: %v; want ErrNotFound", err)
	}
}

func testOversize(t *testing.T, s *suite) {
	if s.MaxValueBytes <= 0 {
		t.Skip("hoardtest: Subject.MaxValueBytes not set")
	}
	ctx := context.Background()
	k := s.key("big")
	s.mustSet(t, k, s.entry(1, time.Hour))
	big := s.entry(2, time.Hour)
	big.Value.Data = make([]byte, s.MaxValueBytes+1)
	err := s.Cache.Set(ctx, k, big)
	if !errors.Is(err, hoard.ErrTooLarge) {
		t.Fatalf("Set of a %d-byte value: %v; want hoard.ErrTooLarge", len(big.Value.Data), err)
	}
	if !strings.HasPrefix(err.Error(), "hoard:") {
		t.Errorf("error %q is not prefixed hoard:", err)
	}
	s.mustHoldItem(t, k, 1) // the old value is not lost

	if ms, ok := s.Cache.(hoard.ManySetter[Item]); ok {
		k2 := s.key("small")
		err := ms.SetMany(ctx, map[string]hoard.Entry[Item]{k: big, k2: s.entry(3, time.Hour)})
		if !errors.Is(err, hoard.ErrTooLarge) {
			t.Fatalf("SetMany with an oversize value: %v; want hoard.ErrTooLarge", err)
		}
		s.mustHoldItem(t, k, 1)
		s.mustMiss(t, k2) // nothing of a refused batch is written
	}
	if cas, ok := s.Cache.(hoard.CompareAndSetter[Item]); ok {
		_, tok, err := cas.GetWithToken(ctx, k)
		if err != nil {
			t.Fatalf("GetWithToken: %v", err)
		}
		if err := cas.CompareAndSet(ctx, k, tok, big); !errors.Is(err, hoard.ErrTooLarge) {
			t.Fatalf("CompareAndSet of an oversize value: %v; want hoard.ErrTooLarge", err)
		}
		s.mustHoldItem(t, k, 1)
	}
}

func testConcurrent(t *testing.T, s *suite) {
	const workers, ops, keys = 8, 150, 12
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				id := (w*ops + i) % keys
				k := s.key(fmt.Sprint("k", id))
				var err error
				switch i % 4 {
				case 0, 1:
					err = s.Cache.Set(ctx, k, s.entry(id, time.Hour))
				case 2:
					var e hoard.Entry[Item]
					e, err = s.Cache.Get(ctx, k)
					if err == nil && !itemsEqual(e.Value, sampleItem(id)) {
						err = fmt.Errorf("Get(%q) = item %d; want %d", k, e.Value.ID, id)
					} else if errors.Is(err, hoard.ErrNotFound) {
						err = nil
					}
				case 3:
					err = s.Cache.Delete(ctx, k)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testContextCanceled(t *testing.T, s *suite) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k := s.key("ctx")
	check := func(op string, err error) {
		t.Helper()
		if err != nil && !errors.Is(err, hoard.ErrNotFound) && !errors.Is(err, context.Canceled) {
			t.Errorf("%s on a canceled ctx: %v; want success or context.Canceled", op, err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check("Set", s.Cache.Set(ctx, k, s.entry(1, time.Hour)))
		_, err := s.Cache.Get(ctx, k)
		check("Get", err)
		check("Delete", s.Cache.Delete(ctx, k))
		if mg, ok := s.Cache.(hoard.ManyGetter[Item]); ok {
			_, err := mg.GetMany(ctx, []string{k, s.key("other")})
			check("GetMany", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("calls on a canceled ctx did not return within 10s")
	}
}

func testManyKeys(t *testing.T, s *suite) {
	mg, okGet := s.Cache.(hoard.ManyGetter[Item])
	ms, okSet := s.Cache.(hoard.ManySetter[Item])
	if !okGet && !okSet {
		t.Skip("hoardtest: cache has neither GetMany nor SetMany")
	}
	ctx := context.Background()
	const n = 60
	keys := make([]string, 0, n+10)
	entries := make(map[string]hoard.Entry[Item], n)
	for i := range n {
		k := s.key(fmt.Sprint("many-", i))
		keys = append(keys, k)
		entries[k] = s.entry(i, time.Hour)
	}
	for i := range 10 {
		keys = append(keys, s.key(fmt.Sprint("many-absent-", i)))
	}
	if okSet {
		if err := ms.SetMany(ctx, entries); err != nil {
			t.Fatalf("SetMany: %v", err)
		}
		if err := ms.SetMany(ctx, nil); err != nil {
			t.Fatalf("SetMany(nil): %v", err)
		}
	} else {
		for k, e := range entries {
			s.mustSet(t, k, e)
		}
	}
	if !okGet {
		for i := range n {
			s.mustHoldItem(t, keys[i], i)
		}
		return
	}
	got, err := mg.GetMany(ctx, keys)
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if len(got) != n {
		t.Errorf("GetMany found %d keys; want %d", len(got), n)
	}
	for i := range n {
		e, ok := got[keys[i]]
		if !ok || !itemsEqual(e.Value, sampleItem(i)) {
			t.Errorf("GetMany[%q] = %+v, %v; want item %d", keys[i], e.Value, ok, i)
		}
	}
	if got, err := mg.GetMany(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("GetMany(nil) = %v, %v; want empty, nil", got, err)
	}
}
