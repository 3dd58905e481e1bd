package memory_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/memory"
)

// NewAside refuses what it cannot honour, and its Aside counts the memory
// tier's evictions in its own metrics.
func TestNewAside(t *testing.T) {
	ctx := context.Background()
	own, err := memory.New[int](nil)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	for name, policy := range map[string]*hoard.AsideOptions[int]{
		"":      nil,
		"named": {Name: "other"},
		"tier":  {Memory: own},
		"ttl":   {TTL: -time.Second},
	} {
		if _, err := memory.NewAside(name, policy, nil); !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("NewAside(%q, %+v): %v; want ErrInvalidOption", name, policy, err)
		}
	}
	if _, err := memory.NewAside[int]("bad", nil, &memory.Options[int]{MaxEntries: -1}); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("NewAside with MaxEntries -1: %v", err)
	}

	a, err := memory.NewAside[int]("small", nil, &memory.Options[int]{MaxEntries: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := a.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	load := hoard.LoaderFunc[int](func(_ context.Context, id string) (int, error) { return len(id), nil })
	for i := range 200 {
		if _, err := a.Get(ctx, string(rune('a'+i%26))+string(rune('a'+i/26)), load); err != nil {
			t.Fatal(err)
		}
	}
	a.Memory().CleanUp()
	if n := a.Memory().Len(); n > 10 {
		t.Fatalf("the memory tier holds %d entries, over its MaxEntries 10", n)
	}
	// otter tells of evictions on its executor, a goroutine of its own:
	// wait for the first to be counted.
	for deadline := time.Now().Add(10 * time.Second); a.Metrics().Snapshot().Count(hoard.EventEviction, hoard.TierMemory) == 0; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("no eviction counted in the Aside's metrics within 10s")
		}
	}
	if a.Metrics().Name() != "small" || a.Key("x") != "small:x" {
		t.Fatalf("metrics %q, key %q; want the name small", a.Metrics().Name(), a.Key("x"))
	}
}
