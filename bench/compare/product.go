package compare

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Product is the value every workload but the memory one caches: about
// 200 bytes as JSON, a little less as MsgPack.
type Product struct {
	ID          string   `json:"id" msgpack:"id"`
	Name        string   `json:"name" msgpack:"name"`
	PriceCents  int64    `json:"price_cents" msgpack:"price_cents"`
	Stock       int32    `json:"stock" msgpack:"stock"`
	Tags        []string `json:"tags" msgpack:"tags"`
	Description string   `json:"description" msgpack:"description"`
}

var description = strings.Repeat("a sturdy kettle for every kitchen; ", 3)[:100]

// makeProduct is the source's value of id.
func makeProduct(id string) Product {
	return Product{
		ID: id, Name: "product " + id, PriceCents: 1999, Stock: 42,
		Tags: []string{"kitchen", "kettle"}, Description: description,
	}
}

// interval is when one loader call ran.
type interval struct{ start, end time.Time }

// source is the source of truth: each load takes delay (or returns at once
// when delay is 0), counts itself and, when logging, records when it ran.
type source struct {
	delay time.Duration
	log   bool
	calls atomic.Int64
	keys  atomic.Int64 // ids loaded by loadMany

	mu   sync.Mutex
	runs []interval // guarded by mu
}

func newSource(delay time.Duration, log bool) *source { return &source{delay: delay, log: log} }

// load is the loader of every library.
func (s *source) load(ctx context.Context, id string) (Product, error) {
	s.calls.Add(1)
	start := time.Now()
	if s.delay > 0 {
		t := time.NewTimer(s.delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Product{}, ctx.Err()
		}
	}
	if s.log {
		s.mu.Lock()
		s.runs = append(s.runs, interval{start, time.Now()})
		s.mu.Unlock()
	}
	return makeProduct(id), nil
}

// loadMany is the batch loader of every library.
func (s *source) loadMany(ctx context.Context, ids []string) (map[string]Product, error) {
	s.calls.Add(1)
	s.keys.Add(int64(len(ids)))
	out := make(map[string]Product, len(ids))
	for _, id := range ids {
		out[id] = makeProduct(id)
	}
	return out, nil
}

// intervals returns the logged runs.
func (s *source) intervals() []interval {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]interval(nil), s.runs...)
}

// ids returns n ids "p-0" … and, for the peers, the same ids under prefix.
func ids(prefix string, n int) (ids, keys []string) {
	ids, keys = make([]string, n), make([]string, n)
	for i := range n {
		ids[i] = "p-" + strconv.Itoa(i)
		keys[i] = prefix + ids[i]
	}
	return ids, keys
}
