package recorderkit

import (
	"math"
	"sync"
	"testing"
)

func TestMapFirstPutWins(t *testing.T) {
	var m Map[string, int]
	if _, ok := m.Get("a"); ok {
		t.Fatal("empty map has a")
	}
	if got := m.Put("a", 1); got != 1 {
		t.Fatalf("Put = %d", got)
	}
	if got := m.Put("a", 2); got != 1 {
		t.Fatalf("second Put = %d; want the first value kept", got)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { m.Put(string(rune('b'+i%20)), i) })
	}
	wg.Wait()
	for i := range 20 {
		if _, ok := m.Get(string(rune('b' + i))); !ok {
			t.Errorf("key %c lost", 'b'+i)
		}
	}
}

func BenchmarkMapGet(b *testing.B) {
	var m Map[int, int]
	for i := range 100 {
		m.Put(i, i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := m.Get(42); !ok {
			b.Fatal("missing")
		}
	}
}

func TestValidBuckets(t *testing.T) {
	if err := ValidBuckets(DefaultLoadBuckets(), false); err != nil {
		t.Fatalf("default buckets: %v", err)
	}
	inf := []float64{0.1, 1, math.Inf(1)}
	if ValidBuckets(inf, false) == nil || ValidBuckets(inf, true) != nil {
		t.Error("+Inf last must be refused without infLast and accepted with it")
	}
	for _, b := range [][]float64{nil, {1, 1}, {2, 1}, {math.NaN()}, {math.Inf(-1), 1}} {
		if ValidBuckets(b, true) == nil {
			t.Errorf("%v accepted", b)
		}
	}
	if Label("ok\xffname") != "ok\uFFFDname" {
		t.Error("Label did not clean invalid UTF-8")
	}
}
