package hoardtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/defaults"
)

// Subject is a cache under test with what the suite must know about it.
type Subject struct {
	// Cache is the cache under test. It must start empty of the keys the
	// suite uses (they carry a random prefix, so a shared server is fine).
	Cache hoard.Cache[Item]

	// Clock is the clock the cache was built with; the suite dates entries
	// by it. Default: the system clock.
	Clock hoard.Clock

	// Advance moves the cache's time forward by d: a FakeClock's Advance for
	// a memory cache, plus miniredis's FastForward for miniredis. Nil when
	// time can only pass for real (a real Redis server): the suite then
	// uses short real TTLs and waits for them.
	Advance func(d time.Duration)

	// MaxValueBytes is the largest value the cache takes; the suite checks
	// that a larger one is refused and loses nothing. 0 skips that test.
	MaxValueBytes int

	// DeleteUnder, when set, deletes every key under prefix from the
	// cache's server once a subtest is done, counters included, and fails
	// t if it cannot: a shared server then keeps nothing of the suite.
	// Default: the cache's DeletePrefix when it is a [hoard.PrefixDeleter],
	// which leaves counters (they are not entries).
	DeleteUnder func(t testing.TB, prefix string)
}

// TestCache runs the conformance suite against the caches newSubject makes:
// one fresh subject for each subtest. It tests the [hoard.Cache] contract
// (get, set, delete, expiry, stale retention, negative entries, metadata
// round trips, oversize values, concurrent use, context cancellation) and
// every optional ability the cache has ([hoard.ManyGetter],
// [hoard.ManySetter], [hoard.CompareAndSetter], [hoard.PrefixDeleter],
// [hoard.Clearer], [hoard.Counter]). Run it under -race.
func TestCache(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	for _, tc := range conformanceTests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSubject(t)
			if s.Cache == nil {
				t.Fatal("hoardtest: Subject.Cache is nil")
			}
			s.Clock = defaults.Clock(s.Clock)
			prefix := uniquePrefix()
			if s.DeleteUnder != nil {
				// Before the subject's own clean-ups, as below.
				t.Cleanup(func() { s.DeleteUnder(t, prefix) })
			} else if pd, ok := s.Cache.(hoard.PrefixDeleter); ok {
				// Before the subject's own clean-ups (t.Cleanup runs them
				// last in, first out), which may close its client: a
				// shared server keeps nothing of the suite, even the
				// entries stored with no expiry.
				t.Cleanup(func() {
					if _, err := pd.DeletePrefix(context.Background(), prefix); err != nil {
						t.Errorf("hoardtest: deleting the suite's keys (prefix %q): %v", prefix, err)
					}
				})
			}
			tc.run(t, &suite{Subject: s, prefix: prefix})
		})
	}
}

// suite is one subtest's state.
type suite struct {
	Subject
	prefix string
}

// key returns a key unique to this subtest.
func (s *suite) key(name string) string { return s.prefix + name }

func (s *suite) now() time.Time { return s.Clock.Now() }

// entry returns an entry holding item id, fresh for ttl (0: forever).
func (s *suite) entry(id int, ttl time.Duration) hoard.Entry[Item] {
	now := s.now()
	e := hoard.Entry[Item]{Value: sampleItem(id), WrittenAt: now}
	if ttl > 0 {
		e.ExpiresAt = now.Add(ttl)
	}
	return e
}

// pass lets d go by for the cache: through Advance when the subject has it,
// for real otherwise.
func (s *suite) pass(d time.Duration) {
	if s.Advance != nil {
		s.Advance(d)
		return
	}
	time.Sleep(d)
}

// realTime reports whether time passes for real, so TTLs must be short.
func (s *suite) realTime() bool { return s.Advance == nil }

func (s *suite) mustSet(t *testing.T, key string, e hoard.Entry[Item]) {
	t.Helper()
	if err := s.Cache.Set(context.Background(), key, e); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func (s *suite) mustGet(t *testing.T, key string) hoard.Entry[Item] {
	t.Helper()
	e, err := s.Cache.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return e
}

func (s *suite) mustMiss(t *testing.T, key string) {
	t.Helper()
	e, err := s.Cache.Get(context.Background(), key)
	if !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Get(%q) = %+v, %v; want hoard.ErrNotFound", key, e, err)
	}
}

func (s *suite) mustHoldItem(t *testing.T, key string, id int) {
	t.Helper()
	e := s.mustGet(t, key)
	if want := sampleItem(id); !itemsEqual(e.Value, want) {
		t.Fatalf("Get(%q).Value = %+v; want %+v", key, e.Value, want)
	}
}

// sampleItem returns a deterministic item for id.
func sampleItem(id int) Item {
	return Item{
		ID:      id,
		Name:    "item-" + hex.EncodeToString([]byte{byte(id >> 8), byte(id)}),
		Data:    []byte{byte(id), 0, 0xff, ':', '{', '}'},
		Price:   float64(id) + 0.25,
		Labels:  map[string]string{"color": "red", "id": hex.EncodeToString([]byte{byte(id)})},
		Updated: time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC).Add(time.Duration(id) * time.Second),
	}
}

func itemsEqual(a, b Item) bool {
	if a.ID != b.ID || a.Name != b.Name || string(a.Data) != string(b.Data) ||
		a.Price != b.Price || !a.Updated.Equal(b.Updated) || len(a.Labels) != len(b.Labels) {
		return false
	}
	for k, v := range a.Labels {
		if bv, ok := b.Labels[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// uniquePrefix gives each subtest its own keys on a shared server.
func uniquePrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "hoardtest:" + hex.EncodeToString(b[:]) + ":"
}
