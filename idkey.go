package hoard

import "context"

// IDKey is the storage key an [Aside] gives an id, not yet written:
// Keys.Key(ID), or Keys.Key(Version, ID) under a namespace version. A tier
// that implements [IDKeyGetter] is given an IDKey rather than the key's
// string and writes the key where it likes: the memory tier writes it on
// its own stack, so a hit allocates nothing and shares no buffer between
// goroutines.
type IDKey struct {
	Keys    *KeyBuilder
	Version string // the namespace version's key part; "" for none
	ID      string
}

// AppendTo appends the key to dst and returns the extended slice. It
// writes at most MaxLen bytes.
func (k IDKey) AppendTo(dst []byte) []byte { return k.Keys.appendIDKey(dst, k.Version, k.ID) }

// String returns the key.
func (k IDKey) String() string {
	if k.Version == "" {
		return k.Keys.Key(k.ID)
	}
	return k.Keys.Key(k.Version, k.ID)
}

// MaxLen is an upper bound of the bytes AppendTo writes, found without
// writing them: a caller can tell from it whether the key fits a buffer.
func (k IDKey) MaxLen() int {
	// Every byte of a part is written as at most three (an escape), and a
	// key over the builder's MaxLen is hashed down to at most MaxLen.
	n := len(k.Keys.prefix) + 1 + 3*len(k.ID)
	if k.Version != "" {
		n += 1 + 3*len(k.Version)
	}
	return min(n, k.Keys.MaxLen())
}

// Verbatim reports whether the key is the builder's prefix, ':', then
// Version and ':' when Version is set, then ID, as they are: no byte of
// theirs needs escaping and the key is not hashed down for its length.
// An IDKeyGetter can then find the key's parts in it without writing it.
func (k IDKey) Verbatim() bool {
	n := len(k.Keys.prefix) + 1 + len(k.ID)
	if k.Version != "" {
		n += 1 + len(k.Version)
		if needsEscape(k.Version) {
			return false
		}
	}
	return (n <= k.Keys.maxLen || k.Keys.maxLen == 0 && n <= defaultKeyMaxLen) && !needsEscape(k.ID)
}

// IDKeyGetter is a [Cache] that looks an [IDKey] up without being given
// the key's string: it writes the key itself, where it likes. Cache-aside
// reads its memory tier through it when the tier has it: the memory
// backend stores the keys of the Aside that reads it by id first without
// their prefix, and others on its stack, so a hit allocates nothing,
// copies no entry and takes no buffer from a pool. [NewAside] calls GetID
// once, with an empty ID, so that its tier meets it before any write.
type IDKeyGetter[V any] interface {
	// GetID is Get(ctx, key.String()) without the string and without
	// copying the entry: the entry it returns is the cache's own, which
	// the cache never changes, and the caller must not change either.
	GetID(ctx context.Context, key IDKey) (*Entry[V], error)
}
