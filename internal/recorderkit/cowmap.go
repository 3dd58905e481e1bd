// Package recorderkit holds what the metrics adapter modules
// (metrics/prometheus, metrics/otel) share: the keys of their bound series,
// a copy-on-write map to find them on the hot path, the default latency
// buckets and their validation, and label cleaning.
package recorderkit

import (
	"sync"
	"sync/atomic"
)

// Map is a copy-on-write map for the adapters' hot path: a read is an
// atomic load and a map lookup, with no lock and no allocation; a write
// copies the map. It suits maps written once per key and read on every
// event, such as bound metric series. The zero value is an empty map.
type Map[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V] // never mutated once stored
	mu sync.Mutex              // serialises Put
}

// Get returns the value for k, if any.
func (b *Map[K, V]) Get(k K) (V, bool) {
	if m := b.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// Put stores v for k unless a value is there already, and returns the value
// stored: racing puts of one key keep the first.
func (b *Map[K, V]) Put(k K, v V) V {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.m.Load()
	if old != nil {
		if cur, ok := (*old)[k]; ok {
			return cur
		}
	}
	var m map[K]V
	if old == nil {
		m = make(map[K]V, 1)
	} else {
		m = make(map[K]V, len(*old)+1)
		for k, v := range *old {
			m[k] = v
		}
	}
	m[k] = v
	b.m.Store(&m)
	return v
}
