package memory

import "unsafe"

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
