package hoardredis_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// Counters (namespace versions, per-id write versions) expire CounterTTL
// after their last use, which every IncrBy and IncrAtLeast renews, so the
// ids written once do not keep a key each for ever; a counter that expired
// starts again above every value it handed out.
func TestCounterTTL(t *testing.T) {
	onServers(t, func(t *testing.T, client goredis.UniversalClient, prefix string) {
		ctx := context.Background()
		pttl := func(key string) time.Duration {
			t.Helper()
			d, err := client.PTTL(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		// IncrBy, IncrAtLeast taking the floor, IncrAtLeast adding one.
		uses := map[string]func(c *hoardredis.Cache[int], key string) (int64, error){
			"IncrBy": func(c *hoardredis.Cache[int], key string) (int64, error) { return c.IncrBy(ctx, key, 1) },
			"IncrAtLeast floor": func(c *hoardredis.Cache[int], key string) (int64, error) {
				return c.IncrAtLeast(ctx, key, time.Now().UnixMicro())
			},
			"IncrAtLeast plus one": func(c *hoardredis.Cache[int], key string) (int64, error) { return c.IncrAtLeast(ctx, key, 1) },
		}

		t.Run("default 30 days, renewed by each use", func(t *testing.T) {
			c, err := hoardredis.New[int](client, nil)
			if err != nil {
				t.Fatal(err)
			}
			for name, use := range uses {
				key := prefix + "default:" + name
				if _, err := use(c, key); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if d := pttl(key); d < 29*24*time.Hour || d > 30*24*time.Hour {
					t.Errorf("%s: the counter's TTL is %v; want about 30 days", name, d)
				}
				if err := client.PExpire(ctx, key, time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
				if _, err := use(c, key); err != nil {
					t.Fatalf("%s again: %v", name, err)
				}
				if d := pttl(key); d < 29*24*time.Hour {
					t.Errorf("%s: a use left the counter's TTL at %v; want it renewed to about 30 days", name, d)
				}
			}
			// A read of a namespace's version (IncrBy of 0) renews it too.
			key := prefix + "default:read"
			if _, err := c.IncrBy(ctx, key, 1); err != nil {
				t.Fatal(err)
			}
			if err := client.PExpire(ctx, key, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.IncrBy(ctx, key, 0); err != nil {
				t.Fatal(err)
			}
			if d := pttl(key); d < 29*24*time.Hour {
				t.Errorf("IncrBy(0) left the counter's TTL at %v; want it renewed", d)
			}
		})

		t.Run("set", func(t *testing.T) {
			c, err := hoardredis.New[int](client, &hoardredis.Options{CounterTTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			for name, use := range uses {
				key := prefix + "hour:" + name
				if _, err := use(c, key); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if d := pttl(key); d < 59*time.Minute || d > time.Hour {
					t.Errorf("%s: the counter's TTL is %v; want about an hour", name, d)
				}
			}
		})

		t.Run("negative: never", func(t *testing.T) {
			c, err := hoardredis.New[int](client, &hoardredis.Options{CounterTTL: -1})
			if err != nil {
				t.Fatal(err)
			}
			for name, use := range uses {
				key := prefix + "never:" + name
				if _, err := use(c, key); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if d := pttl(key); d != -1 {
					t.Errorf("%s: the counter's TTL is %v; want none (-1)", name, d)
				}
				if err := client.Del(ctx, key).Err(); err != nil { // no TTL: the test's own clean-up
					t.Fatal(err)
				}
			}
		})

		// As hoard uses them: IncrBy, and IncrAtLeast with the clock as the
		// floor (HybridVersioner).
		t.Run("an expired counter starts above", func(t *testing.T) {
			c, err := hoardredis.New[int](client, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"IncrBy", "IncrAtLeast floor"} {
				use := uses[name]
				key := prefix + "expired:" + name
				var last int64
				for range 3 {
					if last, err = use(c, key); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
				// What its TTL does, at once.
				if err := client.Del(ctx, key).Err(); err != nil {
					t.Fatal(err)
				}
				again, err := use(c, key)
				if err != nil {
					t.Fatalf("%s after expiry: %v", name, err)
				}
				if again <= last {
					t.Errorf("%s: the counter came back at %d, not above its last value %d", name, again, last)
				}
			}
		})
	})
}

// CounterTTL is checked like the other TTLs: Redis's resolution and MaxTTL.
func TestCounterTTLOption(t *testing.T) {
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer client.Close()
	for _, d := range []time.Duration{time.Microsecond, hoardredis.MaxTTL + time.Hour} {
		_, err := hoardredis.New[int](client, &hoardredis.Options{CounterTTL: d})
		if !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("CounterTTL %v: %v; want hoard.ErrInvalidOption", d, err)
		}
	}
}

// A Service's counters take ServiceOptions.CounterTTL: the namespace
// version its Invalidator reads, and the per-id version a write-through on
// one of its caches takes.
func TestServiceCounterTTL(t *testing.T) {
	ctx := context.Background()
	mr, client := redistest.Miniredis(t)
	svc, err := hoardredis.NewService(ctx, client, "ctr", &hoardredis.ServiceOptions{CounterTTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(ctx) })
	a, err := hoardredis.NewAside(svc, "people", &hoard.AsideOptions[string]{Namespace: "people"})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: a, Store: &oneRowStore{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.Put(ctx, "7", "ann"); err != nil {
		t.Fatal(err)
	}
	// Every counter on the server: the keys holding a decimal integer, but
	// the tag clock's own two (its epoch and start, kept for good).
	counters := 0
	for _, k := range mr.Keys() {
		v, err := mr.Get(k)
		if err != nil || v == "" || strings.Trim(v, "0123456789") != "" || strings.Contains(k, ":{ctr:tags}:") {
			continue
		}
		counters++
		if d := mr.TTL(k); d != 2*time.Hour {
			t.Errorf("counter %s has the TTL %v; want 2h", k, d)
		}
	}
	if counters < 2 {
		t.Errorf("%d counters on the server (keys %v); want the namespace's and the id's", counters, mr.Keys())
	}
}

// oneRowStore is a hoard.Store that keeps what it is given, for a
// write-through to write to.
type oneRowStore struct {
	mu   sync.Mutex
	rows map[string]string
}

func (s *oneRowStore) Load(_ context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.rows[id]
	if !ok {
		return "", hoard.ErrNotFound
	}
	return v, nil
}

func (s *oneRowStore) Save(_ context.Context, id, v string, _ uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rows == nil {
		s.rows = map[string]string{}
	}
	s.rows[id] = v
	return nil
}

func (s *oneRowStore) Delete(_ context.Context, id string, _ uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rows, id)
	return nil
}
