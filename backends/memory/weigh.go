package memory

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/hoard-cache/hoard"
)

// sizer is a value that knows its own size in bytes.
type sizer interface{ Size() int }

// defaultWeigher measures what it can without reflection: see Options.Weigher.
func defaultWeigher[V any](_ string, v V) int {
	switch x := any(v).(type) {
	case string:
		return len(x)
	case []byte:
		return len(x)
	case sizer:
		return x.Size()
	}
	return int(unsafe.Sizeof(v))
}

// entryOverhead is what an entry costs beyond its key, value and tags: the
// metadata fields and otter's node, roughly.
const entryOverhead = 128

// checkSize refuses a value, key or tag set over the maximum value size.
func (c *Cache[V]) checkSize(key string, e *hoard.Entry[V]) error {
	if size := c.size(key, e); size > c.maxValue {
		return fmt.Errorf("%w: memory: entry %q is %d bytes, more than MaxValueBytes %d",
			hoard.ErrTooLarge, key, size, c.maxValue)
	}
	return nil
}

// size is what an entry occupies as the weigher sees it.
func (c *Cache[V]) size(key string, e *hoard.Entry[V]) int { return c.sizeOf(len(key), key, e) }

// sizeOf is size for a key of keyLen bytes, given to the weigher as key.
func (c *Cache[V]) sizeOf(keyLen int, key string, e *hoard.Entry[V]) int {
	n := keyLen + c.weigher(key, e.Value)
	for _, t := range e.Tags {
		n += len(t)
	}
	return n
}

// storedWeight is the charge against MaxBytes of an entry stored under
// stored (see keySpace): that of its key as given to Set.
func (c *Cache[V]) storedWeight(stored string, e *hoard.Entry[V]) uint32 {
	o := c.keys.forWrites() // settled: an entry was stored
	key := stored           // the default weigher ignores it
	if c.keyedWeigher {
		key = o.fullKey(stored)
	}
	w := max(c.sizeOf(o.fullLen(stored), key, e)+entryOverhead, c.minWeight)
	return uint32(min(w, math.MaxUint32))
}
