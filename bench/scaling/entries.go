package scaling

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// The series of the entries measurement.
const (
	EHoard = "hoard: hit, memory tier"
	EOtter = "otter GetIfPresent"
)

// EntriesPoint is the measurement at one count of entries held.
type EntriesPoint struct {
	Entries int
	NS      map[string]Sample
	// PerEntry is the live heap per entry held, key and value included.
	PerEntry map[string]float64
	// Skipped says why the level was not measured (machine memory).
	Skipped string
}

// hitStream is how many random reads each hit benchmark cycles through.
const hitStream = 1 << 16

// entries measures a hit and the heap per entry at every level, each
// level only when the machine's available memory holds twice what the
// level needs by the level below's figures.
func entries(ctx context.Context, levels []int, rounds int, benchtime time.Duration, progress func(string)) ([]EntriesPoint, error) {
	perEntry := 1000.0 // bytes, until a level has measured it
	var out []EntriesPoint
	for _, n := range levels {
		p := EntriesPoint{Entries: n, NS: map[string]Sample{}, PerEntry: map[string]float64{}}
		need := perEntry * float64(n) * 1.3
		if avail := memAvailable(); avail > 0 && need*2 > float64(avail) {
			p.Skipped = fmt.Sprintf("not measured: it needs about %.1f GiB (%.0f B per entry, as measured below it, +30%%), "+
				"and the machine had %.1f GiB available: twice the need is asked, for the collector and the other work on the machine",
				need/(1<<30), perEntry, float64(avail)/(1<<30))
			out = append(out, p)
			continue
		}
		progress(fmt.Sprintf("scaling: %d entries", n))
		if err := entriesAt(ctx, &p, rounds, benchtime); err != nil {
			return nil, err
		}
		perEntry = max(p.PerEntry[EHoard], p.PerEntry[EOtter])
		out = append(out, p)
	}
	return out, nil
}

func entriesAt(ctx context.Context, p *EntriesPoint, rounds int, benchtime time.Duration) error {
	n := p.Entries
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "e" + strconv.Itoa(i)
	}
	r := rand.New(rand.NewPCG(uint64(n), 15))
	stream := make([]int32, hitStream)
	for i := range stream {
		stream[i] = int32(r.IntN(n))
	}
	never := hoard.LoaderFunc[Product](func(context.Context, string) (Product, error) { return Product{}, errMissed })

	// hoard, filled through the Aside
	var a *hoard.Aside[Product]
	var mem *memory.Cache[Product]
	perEntry, err := liveHeap(func() error {
		var err error
		if mem, err = memory.New(&memory.Options[Product]{MaxEntries: n + n/4}); err != nil {
			return err
		}
		if a, err = hoard.NewAside(&hoard.AsideOptions[Product]{Name: "scale-entries", Memory: mem, TTL: time.Hour}); err != nil {
			return err
		}
		for lo := 0; lo < n; lo += 1000 {
			if _, err := a.GetMany(ctx, ids[lo:min(lo+1000, n)], loadProducts); err != nil {
				return err
			}
		}
		mem.CleanUp()
		return nil
	}, n)
	if err != nil {
		return err
	}
	p.PerEntry[EHoard] = perEntry
	if held := mem.Len(); held < n*99/100 {
		return fmt.Errorf("%d entries: the memory tier holds %d", n, held)
	}
	samples, err := measure(rounds, benchtime, bench{EHoard, func(b *testing.B) error {
		i := 0
		return loop(b, func() error {
			_, err := a.Get(ctx, ids[stream[i&(hitStream-1)]], never)
			i++
			return err
		})
	}})
	if err != nil {
		return err
	}
	p.NS[EHoard] = samples[0]
	_ = mem.Close()
	a, mem = nil, nil

	// otter, filled with Set
	var oc *otter.Cache[string, Product]
	if p.PerEntry[EOtter], err = liveHeap(func() error {
		oc = otter.Must(&otter.Options[string, Product]{MaximumSize: n + n/4, ExpiryCalculator: otter.ExpiryWriting[string, Product](time.Hour)})
		for _, id := range ids {
			// A key of its own, as hoard's are, counted in the heap.
			oc.Set(strings.Clone(id), makeProduct(id))
		}
		oc.CleanUp()
		return nil
	}, n); err != nil {
		return err
	}
	samples, err = measure(rounds, benchtime, bench{EOtter, func(b *testing.B) error {
		i := 0
		return loop(b, func() error {
			_, ok := oc.GetIfPresent(ids[stream[i&(hitStream-1)]])
			i++
			if !ok {
				return errMissed
			}
			return nil
		})
	}})
	if err != nil {
		return err
	}
	p.NS[EOtter] = samples[0]
	oc.StopAllGoroutines()
	oc = nil
	runtime.GC()
	return nil
}

// liveHeap runs fill and returns the live heap it added, per entry.
func liveHeap(fill func() error, n int) (float64, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := fill(); err != nil {
		return 0, err
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n), nil
}

// memAvailable is MemAvailable of /proc/meminfo in bytes, 0 when unknown.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
