package hoard

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// refEscape is the encoding of a part as the KeyBuilder doc states it,
// written plainly.
func refEscape(s string) string {
	var out strings.Builder
	for _, c := range []byte(s) {
		if c == '%' || c == ':' || c == '{' || c == '}' || c < 0x20 || c == 0x7f {
			fmt.Fprintf(&out, "%%%02X", c)
		} else {
			out.WriteByte(c)
		}
	}
	return out.String()
}

func refParts(parts []string) string {
	var out strings.Builder
	for _, p := range parts {
		out.WriteString(":" + refEscape(p))
	}
	return out.String()
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// refKey is Key as its doc states it.
func refKey(prefix string, maxLen int, parts []string) string {
	full := prefix + refParts(parts)
	if len(full) <= maxLen {
		return full
	}
	return prefix + ":%H" + sha256Hex(full)
}

// refSlotKey is SlotKey as its doc states it.
func refSlotKey(prefix string, maxLen int, tag string, parts []string) string {
	enc := refEscape(tag)
	if tag == "" {
		enc = "%"
	}
	full := prefix + ":{" + enc + "}" + refParts(parts)
	tagMax := maxLen - len(prefix) - 70
	switch {
	case len(full) <= maxLen && len(enc) <= tagMax:
		return full
	case len(enc) <= tagMax:
		return prefix + ":{" + enc + "}:%H" + sha256Hex(full)
	default:
		return prefix + ":{%H" + sha256Hex(enc)[:16] + "}:%H" + sha256Hex(full)
	}
}

// crc16 is CRC16-XMODEM (polynomial 0x1021, initial value 0), the checksum
// of Redis Cluster key slots.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// keySlot is the Redis Cluster slot of key, as the cluster specification
// defines it: the text between the first '{' and the next '}' if that is not
// empty, else the whole key.
func keySlot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	return int(crc16(key)) % 16384
}

func TestKeySlotFunction(t *testing.T) {
	// The check value of CRC16-XMODEM, and slots that CLUSTER KEYSLOT of a
	// cluster-enabled redis-server answered.
	if got := crc16("123456789"); got != 0x31C3 {
		t.Errorf("crc16(123456789) = %#x, want 0x31c3", got)
	}
	for key, want := range map[string]int{
		"foo":                    12182,
		"hello":                  866,
		"123456789":              12739,
		"foo{}{bar}":             8363, // empty tag: the whole key
		"foo{{bar}}zap":          4015, // the tag is "{bar"
		"shop:carts:{u42}:items": 11448,
		"shop:carts:{%}":         13511,
		"shop:carts:{%}:x":       13511,
		"shop:users:%7Bx%7D":     16182,
		"p:q:{%7Bu%7D}:%7D:%7B":  8755,
	} {
		if got := keySlot(key); got != want {
			t.Errorf("keySlot(%q) = %d, want %d", key, got, want)
		}
	}
}

func crc16Slot(s string) int { return int(crc16(s)) % 16384 }

func mustKeyBuilder(t testing.TB, prefix string, o *KeyOptions) KeyBuilder {
	t.Helper()
	b, err := NewKeyBuilder(prefix, o)
	if err != nil {
		t.Fatalf("NewKeyBuilder(%q, %+v): %v", prefix, o, err)
	}
	return b
}

func TestKeyBuilderKey(t *testing.T) {
	b := mustKeyBuilder(t, "shop:users", nil)
	tests := []struct {
		parts []string
		want  string
	}{
		{nil, "shop:users"},
		{[]string{""}, "shop:users:"},
		{[]string{"", ""}, "shop:users::"},
		{[]string{"42"}, "shop:users:42"},
		{[]string{"42", "orders"}, "shop:users:42:orders"},
		{[]string{"a|b"}, "shop:users:a|b"},
		{[]string{"a", "b"}, "shop:users:a:b"},
		{[]string{"a:b"}, "shop:users:a%3Ab"},
		{[]string{"a", "", "b"}, "shop:users:a::b"},
		{[]string{"%"}, "shop:users:%25"},
		{[]string{"%3A"}, "shop:users:%253A"},
		{[]string{"%H"}, "shop:users:%25H"},
		{[]string{"{x}"}, "shop:users:%7Bx%7D"},
		{[]string{"}{"}, "shop:users:%7D%7B"},
		{[]string{"\x00\t\n\r\x1f\x7f"}, "shop:users:%00%09%0A%0D%1F%7F"},
		{[]string{" ", "#*?[]|", "a b"}, "shop:users: :#*?[]|:a b"},
		{[]string{"héllo", "世界", "🙂"}, "shop:users:héllo:世界:🙂"},
		{[]string{"\xff\xfe\x80"}, "shop:users:\xff\xfe\x80"},
		{[]string{"::"}, "shop:users:%3A%3A"},
	}
	for _, tt := range tests {
		got := b.Key(tt.parts...)
		if got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.parts, got, tt.want)
		}
		parts, ok := b.Split(got)
		if !ok || !slices.Equal(parts, tt.parts) {
			t.Errorf("Split(%q) = %q, %v, want %q, true", got, parts, ok, tt.parts)
		}
	}
}

func TestKeyBuilderDistinctTuples(t *testing.T) {
	b := mustKeyBuilder(t, "p", nil)
	tuples := [][]string{
		{}, {""}, {"", ""}, {"a|b"}, {"a", "b"}, {"a:b"}, {"a", "", "b"},
		{"a", "b", ""}, {"", "a", "b"}, {"a%3Ab"}, {"a%b"}, {"a%25b"},
		{"ab"}, {"a::b"}, {"a:", "b"}, {"a", ":b"}, {"%H"}, {"{a}"}, {"%7Ba%7D"},
	}
	seen := map[string][]string{}
	for _, tu := range tuples {
		k := b.Key(tu...)
		if prev, dup := seen[k]; dup {
			t.Errorf("Key(%q) = Key(%q) = %q", tu, prev, k)
		}
		seen[k] = tu
	}
	// SlotKey keys differ from Key keys and from each other.
	for _, tag := range []string{"", "%", "a", "a}", "{a"} {
		for _, tu := range tuples {
			k := b.SlotKey(tag, tu...)
			if prev, dup := seen[k]; dup {
				t.Errorf("SlotKey(%q, %q) = %q, already the key of %q", tag, tu, k, prev)
			}
			seen[k] = append([]string{"slot:" + tag}, tu...)
		}
	}
}

func TestKeyBuilderZeroValue(t *testing.T) {
	var b KeyBuilder
	if b.Prefix() != "" || b.MaxLen() != defaultKeyMaxLen {
		t.Errorf("zero KeyBuilder: Prefix %q, MaxLen %d", b.Prefix(), b.MaxLen())
	}
	if got := b.Key(); got != "" {
		t.Errorf("Key() = %q", got)
	}
	if got := b.Key("a", "b:c"); got != ":a:b%3Ac" {
		t.Errorf("Key(a, b:c) = %q", got)
	}
	if parts, ok := b.Split(":a:b%3Ac"); !ok || !slices.Equal(parts, []string{"a", "b:c"}) {
		t.Errorf("Split = %q, %v", parts, ok)
	}
	if got := b.SlotKey("t", "a"); got != ":{t}:a" {
		t.Errorf("SlotKey(t, a) = %q", got)
	}
	nb := mustKeyBuilder(t, "", &KeyOptions{})
	if nb != b {
		t.Errorf("NewKeyBuilder(\"\", zero options) = %+v, want the zero KeyBuilder", nb)
	}
}

func TestNewKeyBuilderInvalid(t *testing.T) {
	tests := []struct {
		prefix string
		o      *KeyOptions
	}{
		{"a{b", nil},
		{"a}b", nil},
		{"{}", nil},
		{"a\nb", nil},
		{"\x00", nil},
		{"\x1f", nil},
		{"a\x7f", nil},
		{strings.Repeat("p", 512-88+1), nil},
		{strings.Repeat("p", 512-88+1), &KeyOptions{MaxLen: 0}},
		{"", &KeyOptions{MaxLen: -1}},
		{"", &KeyOptions{MaxLen: 1}},
		{"", &KeyOptions{MaxLen: 87}},
		{"shop", &KeyOptions{MaxLen: 91}},
	}
	for _, tt := range tests {
		b, err := NewKeyBuilder(tt.prefix, tt.o)
		if !errors.Is(err, ErrInvalidOption) {
			t.Errorf("NewKeyBuilder(%q, %+v) = %+v, %v; want ErrInvalidOption", tt.prefix, tt.o, b, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "hoard: invalid option: ") {
			t.Errorf("error %q lacks the prefix %q", err, "hoard: invalid option: ")
		}
		if b != (KeyBuilder{}) {
			t.Errorf("NewKeyBuilder(%q, %+v) returned %+v with its error", tt.prefix, tt.o, b)
		}
	}
}

func TestNewKeyBuilderValid(t *testing.T) {
	tests := []struct {
		prefix  string
		o       *KeyOptions
		wantMax int
	}{
		{"", nil, 512},
		{"shop:users", nil, 512},
		{"a b%|#*", nil, 512},
		{"héllo:世界", nil, 512},
		{"\x80\xff", nil, 512},
		{strings.Repeat("p", 512-88), nil, 512},
		{"", &KeyOptions{MaxLen: 88}, 88},
		{"shop", &KeyOptions{MaxLen: 92}, 92},
		{"shop", &KeyOptions{MaxLen: 512}, 512},
		{"shop", &KeyOptions{MaxLen: 1 << 20}, 1 << 20},
	}
	for _, tt := range tests {
		b := mustKeyBuilder(t, tt.prefix, tt.o)
		if b.Prefix() != tt.prefix || b.MaxLen() != tt.wantMax {
			t.Errorf("NewKeyBuilder(%q, %+v): Prefix %q, MaxLen %d; want MaxLen %d", tt.prefix, tt.o, b.Prefix(), b.MaxLen(), tt.wantMax)
		}
		// The longest hashed key fits.
		k := b.SlotKey(strings.Repeat("t", b.MaxLen()), "x")
		if len(k) > b.MaxLen() || !strings.HasPrefix(k, tt.prefix+":{%H") {
			t.Errorf("prefix %q, MaxLen %d: SlotKey with a long tag = %q (%d bytes)", tt.prefix, b.MaxLen(), k, len(k))
		}
	}
}

func TestKeyBuilderLongKeys(t *testing.T) {
	const maxLen = 100
	b := mustKeyBuilder(t, "shop", &KeyOptions{MaxLen: maxLen})
	room := maxLen - len("shop:")

	exact := strings.Repeat("x", room)
	if got := b.Key(exact); got != "shop:"+exact {
		t.Errorf("key of exactly MaxLen bytes was changed to %q", got)
	}
	if parts, ok := b.Split("shop:" + exact); !ok || !slices.Equal(parts, []string{exact}) {
		t.Errorf("Split of a key of MaxLen bytes = %q, %v", parts, ok)
	}

	for _, parts := range [][]string{
		{exact + "y"},
		{strings.Repeat("x", room-2) + ":"}, // 3 bytes once encoded
		{exact, ""},
		{strings.Repeat("é", 2000)}, // longer than the 1 KiB stack buffer
		{strings.Repeat("{", 1000), "a"},
	} {
		got := b.Key(parts...)
		full := "shop" + refParts(parts)
		want := "shop:%H" + sha256Hex(full)
		if got != want {
			t.Errorf("Key(%.20q...) = %q, want %q", parts, got, want)
		}
		if len(got) > maxLen {
			t.Errorf("hashed key %q is %d bytes, over MaxLen %d", got, len(got), maxLen)
		}
		if p, ok := b.Split(got); ok {
			t.Errorf("Split(hashed key %q) = %q, true", got, p)
		}
	}
	if b.Key(exact+"y") == b.Key(exact+"z") {
		t.Error("two long keys hash alike")
	}
	// An unhashed key over MaxLen is not a key this builder writes.
	if p, ok := b.Split("shop:" + exact + "y"); ok {
		t.Errorf("Split of a key over MaxLen = %q, true", p)
	}
	// With the default MaxLen, a long key fits the longest hashed form.
	var zero KeyBuilder
	if got := zero.Key(strings.Repeat("z", 600)); len(got) != len(":%H")+64 {
		t.Errorf("zero KeyBuilder: long key = %q", got)
	}
}

func TestSlotKey(t *testing.T) {
	b := mustKeyBuilder(t, "shop:carts", nil)
	tests := []struct {
		tag   string
		parts []string
		want  string
	}{
		{"", nil, "shop:carts:{%}"},
		{"", []string{""}, "shop:carts:{%}:"},
		{"%", nil, "shop:carts:{%25}"},
		{"u42", nil, "shop:carts:{u42}"},
		{"u42", []string{"items", "7"}, "shop:carts:{u42}:items:7"},
		{"u:42", []string{"a:b"}, "shop:carts:{u%3A42}:a%3Ab"},
		{"{u42}", []string{"}", "{"}, "shop:carts:{%7Bu42%7D}:%7D:%7B"},
		{"世界", []string{"é"}, "shop:carts:{世界}:é"},
		{"\n", nil, "shop:carts:{%0A}"},
	}
	for _, tt := range tests {
		got := b.SlotKey(tt.tag, tt.parts...)
		if got != tt.want {
			t.Errorf("SlotKey(%q, %q) = %q, want %q", tt.tag, tt.parts, got, tt.want)
		}
		tag, parts, ok := b.SplitSlotKey(got)
		if !ok || tag != tt.tag || !slices.Equal(parts, tt.parts) {
			t.Errorf("SplitSlotKey(%q) = %q, %q, %v; want %q, %q, true", got, tag, parts, ok, tt.tag, tt.parts)
		}
		if p, ok := b.Split(got); ok {
			t.Errorf("Split(slot key %q) = %q, true", got, p)
		}
	}
}

// hostileParts are parts that would move a key to another slot, or collide,
// were they written as is.
var hostileParts = [][]string{
	nil, {""}, {"{x}"}, {"{", "}"}, {"}", "{"}, {"a{b}c"}, {"{}"}, {"}{x}{"},
	{"%7Bx%7D"}, {"x", "{y}", "z"}, {strings.Repeat("{w}", 300)},
}

func TestSlotKeySameSlot(t *testing.T) {
	for _, maxLen := range []int{0, 100, 200} {
		b := mustKeyBuilder(t, "p:q", &KeyOptions{MaxLen: maxLen})
		for _, tag := range []string{"", "u42", "{", "}", "{u}", "%", strings.Repeat("t", 20), strings.Repeat("t", 400)} {
			base := b.SlotKey(tag)
			want := keySlot(base)
			for _, parts := range hostileParts {
				k := b.SlotKey(tag, parts...)
				if got := keySlot(k); got != want {
					t.Errorf("MaxLen %d: slot of SlotKey(%.20q, %.20q) = %d, want %d, the slot of %q", maxLen, tag, parts, got, want, base)
				}
				if strings.Count(k, "{") != 1 || strings.Count(k, "}") != 1 || strings.Contains(k, "{}") {
					t.Errorf("MaxLen %d: SlotKey(%.20q, %.20q) = %q: want one non-empty hash tag", maxLen, tag, parts, k)
				}
				if len(k) > b.MaxLen() || !strings.HasPrefix(k, "p:q:{") {
					t.Errorf("MaxLen %d: SlotKey(%.20q, %.20q) = %q (%d bytes)", maxLen, tag, parts, k, len(k))
				}
			}
		}
	}
}

func TestKeySlotIsWholeKey(t *testing.T) {
	b := mustKeyBuilder(t, "shop:users", &KeyOptions{MaxLen: 200})
	for _, parts := range hostileParts {
		k := b.Key(parts...)
		if strings.ContainsAny(k, "{}") {
			t.Errorf("Key(%.20q) = %q holds a brace", parts, k)
		}
		if got, want := keySlot(k), crc16Slot(k); got != want {
			t.Errorf("slot of Key(%.20q) = %d, want %d (the whole key)", parts, got, want)
		}
	}
}

func TestSlotKeyLong(t *testing.T) {
	const maxLen = 120
	b := mustKeyBuilder(t, "pre", &KeyOptions{MaxLen: maxLen})
	tagMax := maxLen - len("pre") - 70 // 47

	for _, tt := range []struct {
		tag       string
		parts     []string
		hashed    bool
		tagHashed bool
	}{
		{"t", []string{strings.Repeat("x", maxLen-len("pre:{t}:"))}, false, false},
		{"t", []string{strings.Repeat("x", maxLen-len("pre:{t}:")+1)}, true, false},
		{"t", []string{strings.Repeat(":", 100)}, true, false},
		{strings.Repeat("t", tagMax), nil, false, false},
		{strings.Repeat("t", tagMax), []string{strings.Repeat("x", 100)}, true, false},
		{strings.Repeat("t", tagMax-2) + ":", nil, true, true}, // 49 bytes encoded
		{strings.Repeat("t", tagMax+1), nil, true, true},
		{strings.Repeat("t", tagMax+1), []string{"x"}, true, true},
		{strings.Repeat("t", 5000), []string{"x"}, true, true},
	} {
		got := b.SlotKey(tt.tag, tt.parts...)
		if want := refSlotKey("pre", maxLen, tt.tag, tt.parts); got != want {
			t.Errorf("SlotKey(%.20q, %.20q) = %q, want %q", tt.tag, tt.parts, got, want)
		}
		if hashed := strings.Contains(got, "}:%H"); hashed != tt.hashed {
			t.Errorf("SlotKey(%.20q, %.20q) = %q: hashed %v, want %v", tt.tag, tt.parts, got, hashed, tt.hashed)
		}
		if tagHashed := strings.HasPrefix(got, "pre:{%H"); tagHashed != tt.tagHashed {
			t.Errorf("SlotKey(%.20q, %.20q) = %q: tag hashed %v, want %v", tt.tag, tt.parts, got, tagHashed, tt.tagHashed)
		}
		if len(got) > maxLen {
			t.Errorf("SlotKey(%.20q, %.20q) is %d bytes, over %d", tt.tag, tt.parts, len(got), maxLen)
		}
		if keySlot(got) != keySlot(b.SlotKey(tt.tag)) {
			t.Errorf("SlotKey(%.20q, %.20q) moved slot", tt.tag, tt.parts)
		}
		if tag, parts, ok := b.SplitSlotKey(got); ok != !tt.hashed {
			t.Errorf("SplitSlotKey(%q) = %q, %q, %v", got, tag, parts, ok)
		}
	}
}

func TestKeyBuilderSplitRejects(t *testing.T) {
	b := mustKeyBuilder(t, "shop:users", &KeyOptions{MaxLen: 120})
	for _, key := range []string{
		"",
		"shop",
		"shop:user",
		"shop:usersX",
		"shop:usersX:a",
		"other:a",
		"shop:users:%",
		"shop:users:%4",
		"shop:users:%3",
		"shop:users:%3a",    // lowercase hex
		"shop:users:%41",    // 'A' needs no escape
		"shop:users:%20",    // nor does ' '
		"shop:users:%C3%A9", // nor does UTF-8
		"shop:users:%GG",    //
		"shop:users:%H" + sha256Hex("x"),
		"shop:users:a\nb",  // raw control byte
		"shop:users:a\x7f", //
		"shop:users:{a}",   // raw braces
		"shop:users:a}",    //
		"shop:users:a%",    //
		"shop:users:{t}:a", // a SlotKey key
		"shop:users:" + strings.Repeat("x", 120),
	} {
		if parts, ok := b.Split(key); ok {
			t.Errorf("Split(%q) = %q, true", key, parts)
		}
	}
	for _, key := range []string{
		"",
		"shop:users",
		"shop:users:",
		"shop:users:a",
		"shop:users{t}",
		"shop:users:{}",
		"shop:users:{t",
		"shop:users:{t}a",
		"shop:users:{%%}",
		"shop:users:{%3a}",
		"shop:users:{%41}",
		"shop:users:{\n}",
		"shop:users:{t}:{",
		"shop:users:{t}:%",
		"shop:users:{t}}",
		"shop:users:{t}:%H" + sha256Hex("x"),
		"shop:users:{%H0123456789abcdef}",
		"shop:users:{" + strings.Repeat("t", 48) + "}", // tag too long to be kept
		"shop:users:{t}:" + strings.Repeat("x", 120),
	} {
		if tag, parts, ok := b.SplitSlotKey(key); ok {
			t.Errorf("SplitSlotKey(%q) = %q, %q, true", key, tag, parts)
		}
	}
}

func TestKeyBuilderAllocs(t *testing.T) {
	b := mustKeyBuilder(t, "shop:users", nil)
	long := strings.Repeat("x", 600)
	for _, tt := range []struct {
		name string
		f    func()
		want float64
	}{
		{"Key", func() { _ = b.Key("user", "12345", "profile") }, 1},
		{"KeyEscapes", func() { _ = b.Key("user", "a:b{c}", "100%") }, 1},
		{"SlotKey", func() { _ = b.SlotKey("user12345", "cart", "items") }, 1},
		{"KeyHashed", func() { _ = b.Key(long) }, 1},
		{"SlotKeyHashed", func() { _ = b.SlotKey(long, "x") }, 1},
		{"KeyHashedHuge", func() { _ = b.Key(long, long) }, 2},
	} {
		if got := testing.AllocsPerRun(100, tt.f); got > tt.want {
			t.Errorf("%s: %v allocations, want at most %v", tt.name, got, tt.want)
		}
	}
}

func BenchmarkKeyBuilder(b *testing.B) {
	kb, err := NewKeyBuilder("shop:users", nil)
	if err != nil {
		b.Fatal(err)
	}
	long := strings.Repeat("x", 600)
	user, id := "user", "12345"
	for _, bb := range []struct {
		name string
		f    func() string
	}{
		// A baseline: the same key joined with + and no encoding.
		{"2partsConcat", func() string { return kb.Prefix() + ":" + user + ":" + id }},
		{"2parts", func() string { return kb.Key(user, id) }},
		{"3parts", func() string { return kb.Key("user", "12345", "profile") }},
		{"3partsEscapes", func() string { return kb.Key("user", "a:b{c}", "100%") }},
		{"SlotKey2parts", func() string { return kb.SlotKey("user12345", "cart", "items") }},
		{"Hashed600B", func() string { return kb.Key("user", long) }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			var sink string
			for b.Loop() {
				sink = bb.f()
			}
			_ = sink
		})
	}
	b.Run("Split3parts", func(b *testing.B) {
		b.ReportAllocs()
		key := kb.Key("user", "12345", "profile")
		for b.Loop() {
			if _, ok := kb.Split(key); !ok {
				b.Fatal("Split failed")
			}
		}
	})
}

func TestAppendKeyMatchesKey(t *testing.T) {
	kb, err := NewKeyBuilder("shop", &KeyOptions{MaxLen: 120})
	if err != nil {
		t.Fatal(err)
	}
	for _, parts := range [][]string{
		nil, {""}, {"42"}, {"a:b", "{x}", "%"}, {strings.Repeat("long", 40)},
	} {
		dst := []byte("kept|")
		got := kb.AppendKey(dst, parts...)
		if want := "kept|" + kb.Key(parts...); string(got) != want {
			t.Errorf("AppendKey(%q) = %q; want %q", parts, got, want)
		}
	}
}

// appendIDKey, the hit path's key, is AppendKey's.
func TestAppendIDKeyIsAppendKey(t *testing.T) {
	b := mustKeyBuilder(t, "shop:users", &KeyOptions{MaxLen: 120})
	long := strings.Repeat("x", 200)
	for _, ns := range []string{"", "v1", "a:b", "%", long} {
		for _, id := range []string{"", "42", "a:b{c}", "100%", "é", long} {
			want := b.AppendKey([]byte("pre"), id)
			if ns != "" {
				want = b.AppendKey([]byte("pre"), ns, id)
			}
			if got := b.appendIDKey([]byte("pre"), ns, id); string(got) != string(want) {
				t.Errorf("appendIDKey(%q, %q) = %q; want %q", ns, id, got, want)
			}
		}
	}
}
