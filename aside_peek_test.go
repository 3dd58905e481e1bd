package hoard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// Peek tells what a Get would serve without loading, and follows tag
// invalidations, namespace bumps and expiry as Get does.
func TestPeek(t *testing.T) {
	f := newFleet(t, 1, hoard.AsideOptions[string]{TTL: time.Minute, Namespace: "ns", Jitter: -1})
	m := f.instances[0]
	ctx := context.Background()
	if _, err := m.aside.Peek(ctx, "1"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Peek before any load: %v; want ErrNotFound", err)
	}
	src := &counting{tags: []string{"t"}}
	src.value.Store("v1")
	if _, err := m.aside.Get(ctx, "1", src); err != nil {
		t.Fatal(err)
	}
	if e, err := m.aside.Peek(ctx, "1"); err != nil || e.Value != "v1" || e.Tags[0] != "t" {
		t.Fatalf("Peek after a load = %+v, %v", e, err)
	}
	if err := m.inv.InvalidateTags(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.aside.Peek(ctx, "1"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Peek after the tag invalidation: %v; want ErrNotFound", err)
	}
	if _, err := m.aside.Get(ctx, "1", src); err != nil {
		t.Fatal(err)
	}
	if _, err := m.inv.BumpNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.aside.Peek(ctx, "1"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Peek after the namespace bump: %v; want ErrNotFound", err)
	}
	if _, err := m.aside.Get(ctx, "1", src); err != nil {
		t.Fatal(err)
	}
	f.advance(2 * time.Minute)
	if _, err := m.aside.Peek(ctx, "1"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Peek past the TTL: %v; want ErrNotFound", err)
	}
	if n := src.calls.Load(); n != 3 {
		t.Fatalf("%d loads; Peek must load nothing (want 3)", n)
	}
}
