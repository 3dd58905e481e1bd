package memory

import (
	"context"
	"sync"
	"unsafe"

	"github.com/hoard-cache/hoard"
)

// stackKeyLen is the longest key (with the NUL of a key not the owner's,
// see keySpace) a lookup writes on its stack; a longer one is written in a
// buffer from longKeys.
const stackKeyLen = 256

// longKeys are the buffers of keys longer than stackKeyLen.
var longKeys = sync.Pool{New: func() any { return new([]byte) }}

// GetID is Get(ctx, key.String()) without the string and without the
// copy (see [hoard.IDKeyGetter]); it returns the stored entry, which is
// never changed after Set. The first GetID, if it comes before any write,
// makes key's Aside the cache's owner, whose keys are stored without their
// prefix (see keySpace): the owner's hit then looks its id up as it is,
// without writing a key. Other keys are written on GetID's stack. A hit
// allocates nothing.
func (c *Cache[V]) GetID(_ context.Context, key hoard.IDKey) (*hoard.Entry[V], error) {
	o := c.keys.forReads()
	if o == nil {
		o = c.keys.claim(key.Keys.Prefix())
	}
	if o.head != "" && key.Version == "" && key.Keys.Prefix() == o.prefix && key.Verbatim() {
		return c.getStored(key.ID)
	}
	if key.MaxLen() >= stackKeyLen {
		return c.getLongID(o, key)
	}
	var buf [stackKeyLen]byte
	return c.getStored(o.lookupID(key, buf[:0]))
}

// getLongID is GetID for a key that may not fit on the stack.
func (c *Cache[V]) getLongID(o *keyOwner, key hoard.IDKey) (*hoard.Entry[V], error) {
	buf := longKeys.Get().(*[]byte)
	defer longKeys.Put(buf)
	if n := key.MaxLen() + 1; cap(*buf) < n {
		*buf = make([]byte, 0, n)
	}
	return c.getStored(o.lookupID(key, (*buf)[:0]))
}

// lookupID writes key's stored form (see keySpace) in buf, which has room
// for it and the NUL before it, and returns it, aliasing buf.
func (o *keyOwner) lookupID(key hoard.IDKey, buf []byte) string {
	b := key.AppendTo(append(buf, 0))
	full := unsafe.String(&b[1], len(b)-1)
	switch {
	case o.head == "":
		return full
	case o.owns(full):
		return full[len(o.head):]
	}
	return unsafe.String(&b[0], len(b))
}

// getStored looks up the stored key s, which otter does not keep.
func (c *Cache[V]) getStored(s string) (*hoard.Entry[V], error) {
	if e, ok := c.entries.GetIfPresent(s); ok {
		return e, nil
	}
	return nil, hoard.ErrNotFound
}
