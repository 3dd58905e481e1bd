package hoard

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unsafe"
)

// defaultKeyMaxLen is the longest key a [KeyBuilder] writes when
// [KeyOptions.MaxLen] is zero. Longer keys are hashed down.
const defaultKeyMaxLen = 512

// Lengths of hashed keys: a hashed Key is prefix + ":%H" + 64 hex digits; a
// hashed SlotKey is prefix + ":{" + tag + "}:%H" + 64 hex digits, where tag is
// the encoded hash tag or, when that is too long, "%H" + 16 hex digits.
const (
	keyHashHex     = 2 * sha256.Size // hex digits of the hash of a key
	tagHashHex     = 16              // hex digits of the hash of a hash tag
	hashedKeyExtra = len(":%H") + keyHashHex
	slotKeyExtra   = len(":{") + len("}") + hashedKeyExtra // plus the tag
	minKeyMaxLen   = slotKeyExtra + len("%H") + tagHashHex // plus the prefix: the longest hashed key
)

// KeyOptions configure a [KeyBuilder]. The zero value (or nil) takes every
// default.
type KeyOptions struct {
	// MaxLen is the longest key, in bytes, the builder writes; a longer key
	// is replaced by a hash of itself (see [KeyBuilder.Key]). It must be at
	// least len(prefix) + 88, the length of the longest hashed key. Zero
	// means 512.
	MaxLen int
}

func (o *KeyOptions) validate(prefix string) error {
	for i := 0; i < len(prefix); i++ {
		if c := prefix[i]; c == '{' || c == '}' || c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: key prefix %q contains %q at byte %d", ErrInvalidOption, prefix, c, i)
		}
	}
	maxLen := defaultKeyMaxLen
	if o != nil && o.MaxLen != 0 {
		maxLen = o.MaxLen
	}
	if least := len(prefix) + minKeyMaxLen; maxLen < least {
		return fmt.Errorf("%w: key MaxLen %d is less than len(prefix) + %d = %d, the length of the longest hashed key",
			ErrInvalidOption, maxLen, minKeyMaxLen, least)
	}
	return nil
}

// KeyBuilder writes cache keys from a fixed prefix and a tuple of parts, so
// that distinct tuples never share a key, whatever bytes the parts hold.
//
// Key writes prefix + ":" + part for each part, with the bytes '%', ':', '{',
// '}', the control bytes below 0x20 and 0x7F in a part percent-encoded as
// %XX (uppercase hex). Every other byte, UTF-8 included, is written as is,
// so keys stay readable in redis-cli: Key("42", "a:b") is "prefix:42:a%3Ab".
// Since ':' only ever separates parts, ("a:b"), ("a", "b") and ("a", "", "b")
// give three different keys, and Key() (the prefix alone) differs from
// Key("") (the prefix and ":"). Since braces are encoded, no part can form a
// Redis Cluster hash tag and move its key to another slot; [KeyBuilder.SlotKey]
// forms one on purpose.
//
// Keys of two builders can coincide when one prefix is the other followed by
// ':' and more (prefixes "shop" and "shop:users"): give every builder a
// prefix of its own that does not extend another.
//
// A KeyBuilder is an immutable value, safe for concurrent use. The zero value
// has an empty prefix (its keys start with ':') and the default MaxLen.
type KeyBuilder struct {
	prefix string
	maxLen int // 0 means defaultKeyMaxLen
}

// NewKeyBuilder returns a builder of keys that start with prefix. The prefix
// is written as is: it may hold ':' ("shop:users"), but not '{', '}' or a
// control byte, and it must leave room for hashed keys within MaxLen. A nil
// o takes the defaults. An invalid prefix or option gives an error wrapping
// [ErrInvalidOption].
func NewKeyBuilder(prefix string, o *KeyOptions) (KeyBuilder, error) {
	if err := o.validate(prefix); err != nil {
		return KeyBuilder{}, err
	}
	b := KeyBuilder{prefix: prefix}
	if o != nil {
		b.maxLen = o.MaxLen
	}
	return b, nil
}

// Prefix returns the prefix every key of b starts with.
func (b KeyBuilder) Prefix() string { return b.prefix }

// MaxLen returns the longest key b writes.
func (b KeyBuilder) MaxLen() int {
	if b.maxLen == 0 {
		return defaultKeyMaxLen
	}
	return b.maxLen
}

// Key returns the key of the tuple parts: the prefix, then ":" and the
// encoded part for each part (see [KeyBuilder]).
//
// A key longer than [KeyBuilder.MaxLen] is replaced by prefix + ":%H" + the
// hex SHA-256 of the whole key. "%H" is never the output of encoding, so a
// hashed key is never the key of another tuple; it starts with the prefix,
// but it does not start with Key(parts[0]) + ":", so a prefix delete of the
// keys under a part misses it.
//
// Key allocates the returned string and nothing else, except a buffer to
// hash a key over 1 KiB.
func (b KeyBuilder) Key(parts ...string) string {
	n := len(b.prefix)
	for _, p := range parts {
		n += 1 + escapedLen(p)
	}
	if n > b.MaxLen() {
		return b.hashedKey(n, parts)
	}
	key := make([]byte, 0, n)
	key = appendParts(append(key, b.prefix...), parts)
	return ownedString(key)
}

// AppendKey appends Key(parts...) to dst and returns the extended slice, so
// a caller can build keys in a reused buffer.
func (b KeyBuilder) AppendKey(dst []byte, parts ...string) []byte {
	// Written first and measured after, in one pass over the parts: a key
	// over MaxLen, rare, is then written again hashed.
	start := len(dst)
	dst = appendParts(append(dst, b.prefix...), parts)
	if n := len(dst) - start; n > b.MaxLen() {
		return append(dst[:start], b.hashedKey(n, parts)...)
	}
	return dst
}

// appendIDKey is AppendKey(dst, ns, id), or AppendKey(dst, id) when ns is
// "": an Aside's key, built on its hit paths without the variadic slice.
func (b KeyBuilder) appendIDKey(dst []byte, ns, id string) []byte {
	start := len(dst)
	dst = append(dst, b.prefix...)
	if ns != "" {
		dst = appendEscaped(append(dst, ':'), ns)
	}
	dst = appendEscaped(append(dst, ':'), id)
	if n := len(dst) - start; n > b.MaxLen() {
		parts := []string{id}
		if ns != "" {
			parts = []string{ns, id}
		}
		return append(dst[:start], b.hashedKey(n, parts)...)
	}
	return dst
}

// SlotKey returns a key that Redis Cluster stores in the slot of hashTag,
// whatever the parts: prefix + ":{" + the encoded hashTag + "}", then ":" and
// the encoded part for each part. Redis hashes only the text between the
// first '{' and the next '}', so the keys of one hashTag share a slot and can
// be used together in one MULTI, Lua script or multi-key command. The hash
// tag is unrelated to the invalidation tags of [Entry.Tags].
//
// Redis ignores an empty "{}", so the empty hashTag is written as "{%}": a
// lone '%' is never the output of encoding. SlotKey keys never equal
// [KeyBuilder.Key] keys, whose parts never start with '{'.
//
// A key longer than [KeyBuilder.MaxLen] is replaced by prefix + ":{" + the
// encoded hashTag + "}:%H" + the hex SHA-256 of the whole key, keeping its
// slot. A hashTag whose encoding is longer than MaxLen - len(prefix) - 70
// cannot be kept: every key of it is then hashed, and its hash tag is
// "%H" + 16 hex digits of the SHA-256 of the encoded tag. The slot of a
// hashTag is thus the same for every key b writes, but it is the slot of the
// hashed tag when the tag is that long.
func (b KeyBuilder) SlotKey(hashTag string, parts ...string) string {
	tagLen := max(escapedLen(hashTag), 1) // the empty tag is "%"
	n := len(b.prefix) + len(":{") + tagLen + len("}")
	for _, p := range parts {
		n += 1 + escapedLen(p)
	}
	if n > b.MaxLen() || tagLen > b.slotTagMax() {
		return b.hashedSlotKey(n, hashTag, tagLen, parts)
	}
	key := make([]byte, 0, n)
	key = appendTag(append(append(key, b.prefix...), ":{"...), hashTag)
	key = appendParts(append(key, '}'), parts)
	return ownedString(key)
}

// Split returns the parts key was built from: the inverse of [KeyBuilder.Key].
// It reports false for a key that Key of b does not return for any tuple: one
// without the prefix, a hashed key, a [KeyBuilder.SlotKey] key, or one with a
// malformed or needless escape. Split(b.Key()) returns no parts and true.
func (b KeyBuilder) Split(key string) (parts []string, ok bool) {
	if len(key) > b.MaxLen() {
		return nil, false
	}
	rest, ok := strings.CutPrefix(key, b.prefix)
	if !ok {
		return nil, false
	}
	return splitParts(rest)
}

// SplitSlotKey returns the hash tag and the parts key was built from: the
// inverse of [KeyBuilder.SlotKey]. It reports false for a key that SlotKey of
// b does not return: one without the prefix, a hashed key, a [KeyBuilder.Key]
// key, or one with a malformed or needless escape.
func (b KeyBuilder) SplitSlotKey(key string) (hashTag string, parts []string, ok bool) {
	if len(key) > b.MaxLen() {
		return "", nil, false
	}
	rest, ok := strings.CutPrefix(key, b.prefix)
	if !ok {
		return "", nil, false
	}
	rest, ok = strings.CutPrefix(rest, ":{")
	if !ok {
		return "", nil, false
	}
	tag, rest, ok := strings.Cut(rest, "}")
	if !ok || len(tag) > b.slotTagMax() {
		return "", nil, false
	}
	if tag == "%" {
		tag = ""
	} else if tag, ok = unescape(tag); !ok || tag == "" {
		return "", nil, false
	}
	if parts, ok = splitParts(rest); !ok {
		return "", nil, false
	}
	return tag, parts, true
}

// slotTagMax is the longest encoded hash tag that a hashed SlotKey keeps.
func (b KeyBuilder) slotTagMax() int {
	return b.MaxLen() - len(b.prefix) - slotKeyExtra
}

// hashedKey returns the hashed form of Key(parts), whose unhashed length is
// n. The unhashed key is built on the stack when it fits in 1 KiB.
func (b KeyBuilder) hashedKey(n int, parts []string) string {
	var stack [1024]byte
	full := stack[:0]
	if n > len(stack) {
		full = make([]byte, 0, n)
	}
	full = appendParts(append(full, b.prefix...), parts)
	sum := sha256.Sum256(full)

	key := make([]byte, 0, len(b.prefix)+hashedKeyExtra)
	key = append(append(key, b.prefix...), ":%H"...)
	key = hex.AppendEncode(key, sum[:])
	return ownedString(key)
}

// hashedSlotKey returns the hashed form of SlotKey(hashTag, parts), whose
// unhashed length is n and whose encoded tag is tagLen bytes long.
func (b KeyBuilder) hashedSlotKey(n int, hashTag string, tagLen int, parts []string) string {
	var stack [1024]byte
	full := stack[:0]
	if n > len(stack) {
		full = make([]byte, 0, n)
	}
	full = append(append(full, b.prefix...), ":{"...)
	full = appendTag(full, hashTag)
	encTag := full[len(full)-tagLen:]
	full = appendParts(append(full, '}'), parts)
	sum := sha256.Sum256(full)

	var key []byte
	if tagLen > b.slotTagMax() {
		tagSum := sha256.Sum256(encTag)
		key = make([]byte, 0, len(b.prefix)+slotKeyExtra+len("%H")+tagHashHex)
		key = append(append(key, b.prefix...), ":{%H"...)
		key = hex.AppendEncode(key, tagSum[:tagHashHex/2])
	} else {
		key = make([]byte, 0, len(b.prefix)+slotKeyExtra+tagLen)
		key = append(append(append(key, b.prefix...), ":{"...), encTag...)
	}
	key = append(key, "}:%H"...)
	key = hex.AppendEncode(key, sum[:])
	return ownedString(key)
}

// ownedString returns key as a string without copying it, as
// [strings.Builder.String] does. key must not be written to afterwards.
func ownedString(key []byte) string {
	return unsafe.String(unsafe.SliceData(key), len(key))
}

// appendParts appends ":" and the encoded part for each part to dst.
func appendParts(dst []byte, parts []string) []byte {
	for _, p := range parts {
		dst = append(dst, ':')
		dst = appendEscaped(dst, p)
	}
	return dst
}

// appendTag appends the encoded hash tag to dst: "%" for the empty tag.
func appendTag(dst []byte, tag string) []byte {
	if tag == "" {
		return append(dst, '%')
	}
	return appendEscaped(dst, tag)
}

// splitParts parses "" (no parts) or ":" + encoded part for each part.
func splitParts(s string) ([]string, bool) {
	if s == "" {
		return nil, true
	}
	if s[0] != ':' {
		return nil, false
	}
	s = s[1:]
	parts := make([]string, 0, strings.Count(s, ":")+1)
	for {
		seg, rest, more := strings.Cut(s, ":")
		p, ok := unescape(seg)
		if !ok {
			return nil, false
		}
		parts = append(parts, p)
		if !more {
			return parts, true
		}
		s = rest
	}
}

// mustEscape holds the bytes that Key percent-encodes.
var mustEscape = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	for _, c := range []byte{0x7f, '%', ':', '{', '}'} {
		t[c] = true
	}
	return t
}()

const upperHex = "0123456789ABCDEF"

// escapedLen returns the length of s once encoded.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if mustEscape[s[i]] {
			n += 2
		}
	}
	return n
}

// needsEscape reports whether a byte of s is written escaped.
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if mustEscape[s[i]] {
			return true
		}
	}
	return false
}

// appendEscaped appends s encoded to dst.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; mustEscape[c] {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xf])
			start = i + 1
		}
	}
	return append(dst, s[start:]...)
}

// unescape decodes one encoded part. It reports false for a byte that should
// have been encoded, a '%' not followed by two uppercase hex digits, or an
// escape of a byte that is written as is, so that a key that Split accepts is
// always the key Key returns for its parts.
func unescape(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		for j := 0; j < len(s); j++ {
			if mustEscape[s[j]] {
				return "", false
			}
		}
		return s, true
	}
	out := make([]byte, 0, len(s))
	for j := 0; j < len(s); j++ {
		c := s[j]
		if c != '%' {
			if mustEscape[c] {
				return "", false
			}
			out = append(out, c)
			continue
		}
		if j+2 >= len(s) {
			return "", false
		}
		hi, lo := unhex(s[j+1]), unhex(s[j+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		d := byte(hi<<4 | lo)
		if !mustEscape[d] {
			return "", false
		}
		out = append(out, d)
		j += 2
	}
	return string(out), true
}

// unhex returns the value of an uppercase hex digit, or -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
