package hoardredis_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// Every name a Service writes in Redis starts with "app:": entries, the tag
// clock, namespace counters, locks, the write-behind stream and the bus
// channel. On a server of the test's own, so every key it holds is ours.
func TestServiceRedisNamesUnderApp(t *testing.T) {
	mr, client := redistest.Miniredis(t)
	ctx := context.Background()
	svc, err := hoardredis.NewService(ctx, client, "shop", nil)
	must(t, err)
	defer func() { must(t, svc.Close(ctx)) }()
	users, err := hoardredis.NewAside(svc, "users", &hoard.AsideOptions[string]{
		TTL: time.Minute, Namespace: "people", TagsOf: func(id, _ string) []string { return []string{"user:" + id} },
	})
	must(t, err)
	var locks []string
	_, err = users.Get(ctx, "42", hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
		locks = mr.Keys()
		return "ada", nil
	}))
	must(t, err)
	must(t, svc.Invalidator().InvalidateTags(ctx, "user:7"))
	_, err = svc.Invalidator().BumpNamespace(ctx, "people")
	must(t, err)
	queue, err := hoardredis.NewWriteBehindQueue[string](svc, "users", nil)
	must(t, err)
	must(t, queue.Enqueue(ctx, hoard.Write[string]{ID: "42", Value: "ada", Version: 1}, false))

	if !slices.ContainsFunc(locks, func(k string) bool { return strings.HasPrefix(k, "shop:lock:shop:users:") }) {
		t.Errorf("no lock shop:lock:shop:users:… while loading; keys then: %v", locks)
	}
	keys := mr.Keys()
	for _, want := range []string{"shop:users:", "shop:{shop:tags}:epoch", "shop:{shop:tags}:tag:user:7", "shop:ns:people", "shop:wb:{users}"} {
		if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, want) }) {
			t.Errorf("no key %s… in %v", want, keys)
		}
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "shop:") {
			t.Errorf("key %q is outside shop:", k)
		}
		if strings.HasPrefix(k, "shop:probe:") {
			t.Errorf("the start-up check left %q", k)
		}
	}
	if ch := mr.PubSubChannels(""); !slices.Equal(ch, []string{"shop:bus"}) || svc.Bus().Channel() != "shop:bus" {
		t.Errorf("pub/sub channels %v, bus channel %q; want shop:bus", ch, svc.Bus().Channel())
	}
}

// Names that could not be one segment of a Redis name, or that the
// service keeps, are refused with ErrInvalidOption; so are a policy whose
// Name or Keys disagree with the service's, a second cache of one name,
// and a cache made after Close (ErrClosed).
func TestServiceRefusesBadNames(t *testing.T) {
	_, client := redistest.Miniredis(t)
	ctx := context.Background()
	for _, app := range []string{"", "shop:eu", "a{b}", "shop*", "shop eu", "é", strings.Repeat("a", 65)} {
		if _, err := hoardredis.NewService(ctx, client, app, nil); !errors.Is(err, hoard.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "hoard:") {
			t.Errorf("NewService(%q): %v; want ErrInvalidOption", app, err)
		}
	}
	if _, err := hoardredis.NewService(ctx, nil, "shop", nil); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("NewService with a nil client: %v", err)
	}
	if _, err := hoardredis.NewService(ctx, client, "shop", &hoardredis.ServiceOptions{MemoryMaxEntries: -1}); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("NewService with MemoryMaxEntries -1: %v", err)
	}
	svc, err := hoardredis.NewService(ctx, client, "shop-prod.eu_1", nil)
	must(t, err)
	other, err := hoard.NewKeyBuilder("users", nil)
	must(t, err)
	for name, policy := range map[string]*hoard.AsideOptions[int]{
		"lock":     nil,
		"ns":       nil,
		"a:b":      nil,
		"":         nil,
		"named":    {Name: "other"},
		"keyed":    {Keys: other},
		"negative": {TTL: -time.Second},
	} {
		if _, err := hoardredis.NewAside(svc, name, policy); !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("NewAside(%q, %+v): %v; want ErrInvalidOption", name, policy, err)
		}
	}
	keys, err := hoard.NewKeyBuilder("shop-prod.eu_1:users", &hoard.KeyOptions{MaxLen: 200})
	must(t, err)
	_, err = hoardredis.NewAside(svc, "users", &hoard.AsideOptions[int]{Name: "users", Keys: keys})
	must(t, err)
	if _, err := hoardredis.NewAside[string](svc, "users", nil); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("a second cache users: %v; want ErrInvalidOption", err)
	}
	_, err = hoardredis.NewWriteBehindQueue[int](svc, "users", nil) // a queue may share a cache's name
	must(t, err)
	if _, err := hoardredis.NewWriteBehindQueue[int](svc, "users", nil); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("a second queue users: %v; want ErrInvalidOption", err)
	}
	if _, err := hoardredis.NewWriteBehindQueue[int](svc, "jobs", &hoardredis.StreamQueueOptions{KeyPrefix: "hoard:wb:"}); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("a queue with a KeyPrefix of its own: %v; want ErrInvalidOption", err)
	}
	if got := len(svc.Metrics()); got != 1 {
		t.Errorf("%d metrics for one cache", got)
	}
	must(t, svc.Close(ctx))
	if _, err := hoardredis.NewAside[int](svc, "late", nil); !errors.Is(err, hoard.ErrClosed) {
		t.Errorf("NewAside after Close: %v; want ErrClosed", err)
	}
	must(t, svc.Close(ctx)) // again: nothing left but the bus, closed
}

// With NoLocker a cache takes no lock in Redis (without it, the service's
// Locker takes one: TestServiceRedisNamesUnderApp).
func TestServiceNoLocker(t *testing.T) {
	mr, client := redistest.Miniredis(t)
	ctx := context.Background()
	svc, err := hoardredis.NewService(ctx, client, "shop", &hoardredis.ServiceOptions{MemoryMaxEntries: 100})
	must(t, err)
	defer func() { must(t, svc.Close(ctx)) }()
	a, err := hoardredis.NewAside(svc, "unlocked", &hoard.AsideOptions[string]{Stampede: &hoard.Stampede{Locker: hoardredis.NoLocker}})
	must(t, err)
	var lockKeys atomic.Int64
	_, err = a.Get(ctx, "1", hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
		for _, k := range mr.Keys() {
			if strings.HasPrefix(k, "shop:lock:") {
				lockKeys.Add(1)
			}
		}
		return "v", nil
	}))
	must(t, err)
	if lockKeys.Load() != 0 {
		t.Fatal("a cache with NoLocker took a lock in Redis")
	}
	// NoLocker used directly grants every lock.
	lock, err := hoardredis.NoLocker.TryLock(ctx, "k", time.Second)
	must(t, err)
	must(t, lock.Refresh(ctx, time.Second))
	must(t, lock.Release(ctx))
}
