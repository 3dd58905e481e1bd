package otel

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// abilityTypes are the optional interfaces of a hoard.Cache[int], in the
// order of the ability bits; the tests check method sets with reflect, not
// with the package's own abilitiesOf.
var abilityTypes = [abilityCount]reflect.Type{
	reflect.TypeFor[hoard.CompareAndSetter[int]](),
	reflect.TypeFor[hoard.ManyGetter[int]](),
	reflect.TypeFor[hoard.PrefixDeleter](),
	reflect.TypeFor[hoard.Counter](),
	reflect.TypeFor[hoard.ManySetter[int]](),
	reflect.TypeFor[hoard.ManyTokenGetter[int]](),
	reflect.TypeFor[hoard.ManyCompareAndSetter[int]](),
	reflect.TypeFor[hoard.TagClock](),
	reflect.TypeFor[hoard.Clearer](),
	reflect.TypeFor[hoard.IDKeyGetter[int]](),
	reflect.TypeFor[hoard.FloorCounter](),
}

// implemented returns the abilities c's type implements, found with
// reflect.
func implemented(c hoard.Cache[int]) ability {
	var m ability
	for i, it := range abilityTypes {
		if reflect.TypeOf(c).Implements(it) {
			m |= 1 << i
		}
	}
	return m
}

// newMemory returns a memory cache, which has every ability.
func newMemory(t testing.TB) *memory.Cache[int] {
	t.Helper()
	c, err := memory.New[int](nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestTraceCacheKeepsAbilities checks that a traced cache can do exactly
// what the cache it wraps can: the backends, the fault-injecting wrappers
// of hoardtest, and every mix TraceCache keeps.
func TestTraceCacheKeepsAbilities(t *testing.T) {
	tr, _, _ := newTracing(t, TraceOptions{Name: "abilities"})
	mem := newMemory(t)
	_, client := redistest.Miniredis(t)
	rc, err := hoardredis.New[int](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	inners := map[string]hoard.Cache[int]{
		"memory":                   mem,
		"hoardredis":               rc,
		"faulty memory":            hoardtest.NewFaultyCache[int](mem, hoardtest.FaultOptions[int]{}),
		"faulty hoardredis":        hoardtest.NewFaultyCache[int](rc, hoardtest.FaultOptions[int]{}),
		"faulty memory with clear": hoardtest.NewFaultyCache[int](clearOnly{mem}, hoardtest.FaultOptions[int]{}),
		"faulty memory with GetID": hoardtest.NewFaultyCache[int](byIDOnly{mem}, hoardtest.FaultOptions[int]{}),
		"plain":                    plain{mem},
	}
	// Every mix TraceCache keeps, as a wrapper of the memory cache.
	core := &tracedCache[int]{inner: mem}
	for m := ability(0); m < 1<<abilityCount; m++ {
		if w, ok := withAbilities(core, m); ok {
			if got := implemented(w); got != m {
				t.Fatalf("the wrapper type %T for %s implements %s", w, m, got)
			}
			inners["mix "+m.String()] = w
		}
	}
	if n := len(inners); n != 7+16+8 {
		t.Fatalf("%d inner caches, want 7 and the 24 mixes", n)
	}
	for name, inner := range inners {
		w, err := TraceCache(tr, hoard.TierShared, inner)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got, want := implemented(w), implemented(inner); got != want {
			t.Errorf("%s (%T): traced has %s, want %s", name, inner, got, want)
		}
	}
	if got := implemented(mem); got != 1<<abilityCount-1 {
		t.Errorf("the memory backend has %s: the test no longer covers every ability", got)
	}
}

// TestTraceCacheRefusesOtherMixes checks that a mix TraceCache cannot keep
// is an error that names it, not a wrapper that lacks an ability.
func TestTraceCacheRefusesOtherMixes(t *testing.T) {
	tr, _, _ := newTracing(t, TraceOptions{})
	mem := newMemory(t)
	for _, tc := range []struct {
		inner hoard.Cache[int]
		want  string
	}{
		{setManyOnly{mem, mem}, "(ManySetter)"},
		{casWithTokens{mem, mem}, "(CompareAndSetter, ManyTokenGetter)"},
		{plainClear{mem, mem}, "(Clearer)"},
	} {
		_, err := TraceCache(tr, hoard.TierShared, tc.inner)
		if !errors.Is(err, hoard.ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%T: err %v, want ErrInvalidOption naming %s", tc.inner, err, tc.want)
		}
	}
}

func TestTraceCacheBadInput(t *testing.T) {
	tr, _, _ := newTracing(t, TraceOptions{})
	mem := newMemory(t)
	if _, err := TraceCache[int](tr, hoard.TierShared, nil); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("nil cache: err %v", err)
	}
	for _, tier := range []hoard.Tier{hoard.TierNone, hoard.Tier(9)} {
		if _, err := TraceCache[int](tr, tier, mem); !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("tier %d: err %v", tier, err)
		}
	}
	if got, err := TraceCache[int](nil, hoard.TierShared, mem); err != nil || got != hoard.Cache[int](mem) {
		t.Errorf("nil Tracer: got %T, %v; want the cache itself", got, err)
	}
	if _, err := NewTracer(&TraceOptions{Keys: keyModes}); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("bad KeyMode: err %v", err)
	}
}

// The fixtures: caches with chosen abilities, each a memory cache seen
// through fewer methods.
type (
	plain struct{ hoard.Cache[int] }
	// clearOnly is hoardtest.Cache and Clearer; byIDOnly is
	// hoardtest.Cache and IDKeyGetter.
	clearOnly struct{ hoardtest.Cache[int] }
	byIDOnly  struct{ hoardtest.Cache[int] }
	// setManyOnly, casWithTokens and plainClear are mixes TraceCache does
	// not keep: a Cache with SetMany; one with GetWithToken, CompareAndSet
	// and GetManyWithTokens but not CompareAndSetMany; one with Clear.
	setManyOnly struct {
		hoard.Cache[int]
		m *memory.Cache[int]
	}
	casWithTokens struct {
		hoard.Cache[int]
		m *memory.Cache[int]
	}
	plainClear struct {
		hoard.Cache[int]
		m *memory.Cache[int]
	}
)

func (c setManyOnly) SetMany(ctx context.Context, entries map[string]hoard.Entry[int]) error {
	return c.m.SetMany(ctx, entries)
}

func (c casWithTokens) GetWithToken(ctx context.Context, key string) (hoard.Entry[int], hoard.Token, error) {
	return c.m.GetWithToken(ctx, key)
}

func (c casWithTokens) CompareAndSet(ctx context.Context, key string, tok hoard.Token, e hoard.Entry[int]) error {
	return c.m.CompareAndSet(ctx, key, tok, e)
}

func (c casWithTokens) GetManyWithTokens(ctx context.Context, keys []string, each func(i int, e *hoard.Entry[int], tok hoard.Token, tokOK bool)) error {
	return c.m.GetManyWithTokens(ctx, keys, each)
}

func (c plainClear) Clear(ctx context.Context) error { return c.m.Clear(ctx) }

func (c clearOnly) Clear(ctx context.Context) error {
	return c.Cache.(*memory.Cache[int]).Clear(ctx)
}

func (c byIDOnly) GetID(ctx context.Context, key hoard.IDKey) (*hoard.Entry[int], error) {
	return c.Cache.(*memory.Cache[int]).GetID(ctx, key)
}
