package hoardtest

import (
	"strconv"
	"time"
)

// Item is the value type the conformance suite stores. It has fields of
// several kinds so a codec's round trip is exercised.
type Item struct {
	ID      int               `json:"id" msgpack:"id"`
	Name    string            `json:"name" msgpack:"name"`
	Data    []byte            `json:"data,omitempty" msgpack:"data,omitempty"`
	Price   float64           `json:"price" msgpack:"price"`
	Labels  map[string]string `json:"labels,omitempty" msgpack:"labels,omitempty"`
	Updated time.Time         `json:"updated" msgpack:"updated"`
}

// Size is the Item's size in bytes as the memory backend's default weigher
// measures it, so the suite's oversize test means the same on every backend.
func (it Item) Size() int {
	n := 64 + len(it.Name) + len(it.Data)
	for k, v := range it.Labels {
		n += len(k) + len(v)
	}
	return n
}

// RealisticItem returns a realistic cached value for benchmarks: a record
// of some 200 bytes with a string, a 128-byte slice, a small map and a
// time; about 300 bytes as JSON. Equal i give equal items.
func RealisticItem(i int) Item {
	data := make([]byte, 128)
	for j := range data {
		data[j] = byte(i + j)
	}
	return Item{
		ID:      i,
		Name:    "product-" + strconv.Itoa(i) + "-name",
		Data:    data,
		Price:   float64(i) / 100,
		Labels:  map[string]string{"category": "books", "region": "eu"},
		Updated: time.Unix(1_700_000_000+int64(i), 0).UTC(),
	}
}
