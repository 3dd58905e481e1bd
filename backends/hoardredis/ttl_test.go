package hoardredis_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// Entries kept for about math.MaxInt64 (a FailSafe or TTL of that size)
// are cached, with a Redis TTL of at most hoardredis.MaxTTL, on every write
// path: KeepUntil plus ExpiredGrace must not overflow into a negative TTL,
// which Redis refuses (ERR invalid expire time) and go-redis's SET turns
// into no TTL at all.
func TestHugeTTLStillCaches(t *testing.T) {
	onServers(t, func(t *testing.T, client goredis.UniversalClient, prefix string) {
		ctx := context.Background()
		c, err := hoardredis.New[int](client, nil)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		for name, e := range map[string]hoard.Entry[int]{
			"fail-safe of MaxInt64": {Value: 1, ExpiresAt: now.Add(time.Hour), StaleUntil: now.Add(math.MaxInt64)},
			"TTL of MaxInt64":       {Value: 1, ExpiresAt: now.Add(math.MaxInt64)},
			"year 9999":             {Value: 1, ExpiresAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)},
		} {
			t.Run(name, func(t *testing.T) {
				key := prefix + strings.ReplaceAll(name, " ", "-")
				writes := map[string]func(k string) error{
					"Set": func(k string) error { return c.Set(ctx, k, e) },
					"SetMany": func(k string) error {
						return c.SetMany(ctx, map[string]hoard.Entry[int]{k: e, k + ":2": e})
					},
					"CompareAndSet": func(k string) error {
						_, tok, _ := c.GetWithToken(ctx, k)
						return c.CompareAndSet(ctx, k, tok, e)
					},
					"CompareAndSetMany": func(k string) error {
						_, toks, _, _ := getManyWithTokens(ctx, c, []string{k})
						return c.CompareAndSetMany(ctx, []hoard.TokenWrite[int]{{Key: k, Token: toks[0], Entry: e}})
					},
				}
				for op, write := range writes {
					k := key + ":" + op
					if err := write(k); err != nil {
						t.Errorf("%s: %v", op, err)
						continue
					}
					if got, err := c.Get(ctx, k); err != nil || got.Value != 1 {
						t.Errorf("%s, then Get = %v, %v; want the entry", op, got.Value, err)
					}
					ttl, err := client.PTTL(ctx, k).Result()
					if err != nil {
						t.Fatal(err)
					}
					if ttl <= hoardredis.MaxTTL-time.Hour || ttl > hoardredis.MaxTTL {
						t.Errorf("%s: Redis TTL %v; want MaxTTL %v", op, ttl, hoardredis.MaxTTL)
					}
				}
			})
		}
	})
}

// ExpiredGrace is added to every entry's TTL; with the largest grace
// allowed, the sum is still capped at MaxTTL.
func TestLargeExpiredGraceCapped(t *testing.T) {
	onServers(t, func(t *testing.T, client goredis.UniversalClient, prefix string) {
		ctx := context.Background()
		c, err := hoardredis.New[int](client, &hoardredis.Options{ExpiredGrace: hoardredis.MaxTTL})
		if err != nil {
			t.Fatal(err)
		}
		key := prefix + "k"
		_, tok, _ := c.GetWithToken(ctx, key)
		if err := c.CompareAndSet(ctx, key, tok, hoard.Entry[int]{Value: 1, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if ttl := client.PTTL(ctx, key).Val(); ttl <= hoardredis.MaxTTL-time.Hour || ttl > hoardredis.MaxTTL {
			t.Errorf("Redis TTL %v; want MaxTTL %v", ttl, hoardredis.MaxTTL)
		}
	})
}

// Durations Redis could not take, or that would overflow, are refused at
// New with a clear error.
func TestNewRejectsAbsurdDurations(t *testing.T) {
	_, client := redistest.Miniredis(t) // New makes no call to Redis
	{
		for name, o := range map[string]hoardredis.Options{
			"TombstoneTTL over MaxTTL": {TombstoneTTL: hoardredis.MaxTTL + time.Millisecond},
			"TombstoneTTL of MaxInt64": {TombstoneTTL: math.MaxInt64},
			"ExpiredGrace over MaxTTL": {ExpiredGrace: hoardredis.MaxTTL + 1},
			"ExpiredGrace of MaxInt64": {ExpiredGrace: math.MaxInt64},
			"ExpiredGrace of MinInt64": {ExpiredGrace: math.MinInt64},
			"TombstoneTTL of MinInt64": {TombstoneTTL: math.MinInt64},
		} {
			_, err := hoardredis.New[int](client, &o)
			if !errors.Is(err, hoard.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "hoard:") {
				t.Errorf("%s: %v; want a hoard: ErrInvalidOption", name, err)
			}
		}
		if _, err := hoardredis.New[int](client, &hoardredis.Options{TombstoneTTL: hoardredis.MaxTTL, ExpiredGrace: hoardredis.MaxTTL}); err != nil {
			t.Errorf("New with both at MaxTTL: %v", err)
		}
	}
}
