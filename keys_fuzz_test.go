package hoard

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// fuzzKeyBuilder builds the builder of the fuzz input, checking that
// NewKeyBuilder refuses exactly the options its doc refuses. For refused
// options it returns the zero KeyBuilder, so that the parts are still tested.
func fuzzKeyBuilder(t *testing.T, prefix string, maxLen uint16) KeyBuilder {
	t.Helper()
	o := &KeyOptions{MaxLen: int(maxLen)}
	b, err := NewKeyBuilder(prefix, o)
	effective := int(maxLen)
	if effective == 0 {
		effective = defaultKeyMaxLen
	}
	wantErr := strings.ContainsFunc(prefix, func(r rune) bool { return r == '{' || r == '}' || r < 0x20 || r == 0x7f }) ||
		effective < len(prefix)+88
	if (err != nil) != wantErr {
		t.Fatalf("NewKeyBuilder(%q, MaxLen %d) error %v, want an error: %v", prefix, maxLen, err, wantErr)
	}
	if err != nil {
		if !errors.Is(err, ErrInvalidOption) {
			t.Fatalf("NewKeyBuilder(%q, MaxLen %d) = %v, not ErrInvalidOption", prefix, maxLen, err)
		}
		return KeyBuilder{}
	}
	if b.Prefix() != prefix || b.MaxLen() != effective {
		t.Fatalf("NewKeyBuilder(%q, MaxLen %d): Prefix %q, MaxLen %d", prefix, maxLen, b.Prefix(), b.MaxLen())
	}
	return b
}

// fuzzTuples derives tuples from a, b and c that a naive join would confuse.
func fuzzTuples(a, b, c string) [][]string {
	return [][]string{
		{}, {""}, {"", ""}, {a}, {a, b}, {a, b, c},
		{a + ":" + b}, {a, "", b}, {a + b}, {a + "%3A" + b}, {a + "|" + b},
		{a + b, c}, {a, b + c}, {a + ":" + b, c}, {a, b + ":" + c},
		{"", a}, {a, ""}, {a + "{" + b + "}"}, {a + ":", b}, {a, ":" + b},
		{a + "%", "3A" + b}, {a + "%H"}, {"%H" + a},
	}
}

// FuzzKeyBuilderInjective checks that Key and SlotKey give distinct tuples
// distinct keys, that they are what their docs say (against plain reference
// encoders), and that Split and SplitSlotKey invert them.
func FuzzKeyBuilderInjective(f *testing.F) {
	f.Add("shop:users", "a", "b", "c", uint16(0))
	f.Add("", "", "", "", uint16(0))
	f.Add("p", "a:b", "%3A", "{x}", uint16(0))
	f.Add("p", "%", "%H", "}{", uint16(100))
	f.Add("p", "\x00\n\x7f", "héllo", "\xff", uint16(90))
	f.Add("p%H", "a", "", ":", uint16(89))
	f.Add("shop", strings.Repeat("x", 60), strings.Repeat(":", 30), "z", uint16(120))
	f.Add("a{b", "a", "b", "c", uint16(0))
	f.Add("a", "a", "b", "c", uint16(50))
	f.Fuzz(func(t *testing.T, prefix, a, b, c string, maxLen uint16) {
		kb := fuzzKeyBuilder(t, prefix, maxLen)
		prefix, limit := kb.Prefix(), kb.MaxLen()
		tuples := fuzzTuples(a, b, c)

		type origin struct {
			slot  bool
			tag   string
			parts []string
		}
		seen := make(map[string]origin)
		add := func(k string, o origin) {
			t.Helper()
			if prev, dup := seen[k]; dup && !(prev.slot == o.slot && prev.tag == o.tag && slices.Equal(prev.parts, o.parts)) {
				t.Fatalf("key %q of both %+v and %+v", k, prev, o)
			}
			seen[k] = o
		}

		for _, parts := range tuples {
			k := kb.Key(parts...)
			if want := refKey(prefix, limit, parts); k != want {
				t.Fatalf("Key(%q) = %q, want %q", parts, k, want)
			}
			if again := kb.Key(slices.Clone(parts)...); again != k {
				t.Fatalf("Key(%q) = %q, then %q", parts, k, again)
			}
			if len(k) > limit || !strings.HasPrefix(k, prefix) || strings.ContainsAny(k, "{}") {
				t.Fatalf("Key(%q) = %q (%d bytes, MaxLen %d)", parts, k, len(k), limit)
			}
			got, ok := kb.Split(k)
			if hashed := strings.HasPrefix(k[len(prefix):], ":%H"); ok == hashed {
				t.Fatalf("Split(%q) reports %v for a key hashed %v", k, ok, hashed)
			}
			if ok && !slices.Equal(got, parts) {
				t.Fatalf("Split(Key(%q)) = %q", parts, got)
			}
			add(k, origin{parts: parts})
		}

		for _, tag := range []string{a, "", b + "}", "{" + c, a + ":" + b} {
			slot := keySlot(kb.SlotKey(tag))
			for _, parts := range tuples {
				k := kb.SlotKey(tag, parts...)
				if want := refSlotKey(prefix, limit, tag, parts); k != want {
					t.Fatalf("SlotKey(%q, %q) = %q, want %q", tag, parts, k, want)
				}
				if len(k) > limit || !strings.HasPrefix(k, prefix+":{") {
					t.Fatalf("SlotKey(%q, %q) = %q (%d bytes, MaxLen %d)", tag, parts, k, len(k), limit)
				}
				if got := keySlot(k); got != slot {
					t.Fatalf("SlotKey(%q, %q) = %q in slot %d, SlotKey(%q) in %d", tag, parts, k, got, tag, slot)
				}
				gotTag, got, ok := kb.SplitSlotKey(k)
				if hashed := strings.Contains(k, "}:%H"); ok == hashed {
					t.Fatalf("SplitSlotKey(%q) reports %v for a key hashed %v", k, ok, hashed)
				}
				if ok && (gotTag != tag || !slices.Equal(got, parts)) {
					t.Fatalf("SplitSlotKey(SlotKey(%q, %q)) = %q, %q", tag, parts, gotTag, got)
				}
				add(k, origin{slot: true, tag: tag, parts: parts})
			}
		}
	})
}

// FuzzKeyBuilderSplit checks that Split and SplitSlotKey accept only the keys
// that Key and SlotKey write: whatever they accept, Key or SlotKey writes
// back unchanged.
func FuzzKeyBuilderSplit(f *testing.F) {
	f.Add("shop:users", "shop:users:a%3Ab:c", uint16(0))
	f.Add("shop:users", "shop:users:{u42}:items", uint16(0))
	f.Add("p", "p:{%}", uint16(0))
	f.Add("p", "p:%", uint16(0))
	f.Add("p", "p:%41", uint16(0))
	f.Add("p", "p:%3a", uint16(0))
	f.Add("p", "p:{}:", uint16(0))
	f.Add("p", "p:%H0123", uint16(0))
	f.Add("", ":", uint16(88))
	f.Add("", "", uint16(0))
	f.Fuzz(func(t *testing.T, prefix, key string, maxLen uint16) {
		kb := fuzzKeyBuilder(t, prefix, maxLen)
		if parts, ok := kb.Split(key); ok {
			if back := kb.Key(parts...); back != key {
				t.Fatalf("Split(%q) = %q, whose Key is %q", key, parts, back)
			}
		}
		if tag, parts, ok := kb.SplitSlotKey(key); ok {
			if back := kb.SlotKey(tag, parts...); back != key {
				t.Fatalf("SplitSlotKey(%q) = %q, %q, whose SlotKey is %q", key, tag, parts, back)
			}
		}
	})
}
