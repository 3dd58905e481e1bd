package memory

import (
	"strings"
	"sync/atomic"
	"unsafe"
)

// The keys of an Aside's memory tier all start with its prefix and ':'
// ("products:"), and writing that key on every hit (the prefix, the ':',
// the id, in a buffer) cost a hit about a third of otter's own work
// (issue 15). So a cache stores the keys of one Aside, its owner, without
// that head, and the owner's hit looks its id up as it is. The owner is
// the first caller of GetID, if it comes before any write; a cache written
// to first has no owner, and stores every key as it is. An owned cache
// stores
//
//   - key[len(head):] for a key that starts with the owner's head, unless
//     that rest starts with a NUL byte;
//   - "\x00" + key for every other key.
//
// So the two forms never meet: a stripped key never starts with NUL, a key
// stored in full always does. (A key the owner builds never holds a NUL:
// KeyBuilder escapes control bytes.) Keys are mapped back (fullKey) where
// the cache lists them: DeletePrefix, DeleteMatching, the Weigher.

// keySpace is how a cache stores its keys: see above.
type keySpace struct {
	// owner is nil until the first GetID or write; then it never changes.
	owner atomic.Pointer[keyOwner]
}

// keyOwner is the Aside whose keys a cache stores without their head; a
// keyOwner with an empty head is none (the cache stores keys as they are).
type keyOwner struct {
	prefix string // the owner's KeyBuilder prefix
	head   string // prefix + ":"; "" for no owner
}

// unowned is the keyOwner of a cache written to before any GetID.
var unowned = &keyOwner{}

// forReads returns the key space's owner for a read, or nil while nothing
// was written (the cache is then empty).
func (ks *keySpace) forReads() *keyOwner { return ks.owner.Load() }

// forWrites returns the owner for a write: a write before any GetID
// settles that the cache has none.
func (ks *keySpace) forWrites() *keyOwner {
	if o := ks.owner.Load(); o != nil {
		return o
	}
	ks.owner.CompareAndSwap(nil, unowned)
	return ks.owner.Load()
}

// claim makes the Aside of KeyBuilder prefix the owner if the cache has
// no owner settled yet, and returns the owner.
func (ks *keySpace) claim(prefix string) *keyOwner {
	if o := ks.owner.Load(); o != nil {
		return o
	}
	ks.owner.CompareAndSwap(nil, &keyOwner{prefix: prefix, head: prefix + ":"})
	return ks.owner.Load()
}

// owns reports whether key is stored stripped of the owner's head.
func (o *keyOwner) owns(key string) bool {
	return o.head != "" && strings.HasPrefix(key, o.head) && (len(key) == len(o.head) || key[len(o.head)] != 0)
}

// stored is the form key is stored in. For a key not the owner's it
// allocates: use lookupKey for reads.
func (o *keyOwner) stored(key string) string {
	switch {
	case o.head == "":
		return key
	case o.owns(key):
		return key[len(o.head):]
	}
	return "\x00" + key
}

// lookupKey is stored(key) written in buf when it must be written; the
// string returned may alias buf, for a lookup only.
func (o *keyOwner) lookupKey(key string, buf *[stackKeyLen]byte) string {
	if o.head == "" {
		return key
	}
	if o.owns(key) {
		return key[len(o.head):]
	}
	if 1+len(key) > len(buf) {
		return "\x00" + key
	}
	buf[0] = 0
	n := 1 + copy(buf[1:], key)
	return unsafe.String(&buf[0], n)
}

// fullKey is the key a stored key stands for.
func (o *keyOwner) fullKey(stored string) string {
	switch {
	case o.head == "":
		return stored
	case stored != "" && stored[0] == 0:
		return stored[1:]
	}
	return o.head + stored
}

// fullLen is len(fullKey(stored)), without writing the key.
func (o *keyOwner) fullLen(stored string) int {
	switch {
	case o.head == "":
		return len(stored)
	case stored != "" && stored[0] == 0:
		return len(stored) - 1
	}
	return len(o.head) + len(stored)
}

// fullHasPrefix is strings.HasPrefix(fullKey(stored), prefix), without
// writing the key.
func (o *keyOwner) fullHasPrefix(stored, prefix string) bool {
	switch {
	case o.head == "":
		return strings.HasPrefix(stored, prefix)
	case stored != "" && stored[0] == 0:
		return strings.HasPrefix(stored[1:], prefix)
	case len(prefix) <= len(o.head):
		return strings.HasPrefix(o.head, prefix)
	}
	return strings.HasPrefix(prefix, o.head) && strings.HasPrefix(stored, prefix[len(o.head):])
}
