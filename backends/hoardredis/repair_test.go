package hoardredis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// newItem is the value type after a deploy changed it; before, the same
// keys held strings.
type newItem struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// An entry whose header reads but whose payload no longer decodes (a deploy
// changed the value type) is ErrCorrupt with a token: cache-aside can then
// compare-and-set a fresh value over it instead of loading on every Get
// until the old entry's TTL ends.
func TestUndecodablePayloadHasToken(t *testing.T) {
	onServers(t, func(t *testing.T, client goredis.UniversalClient, prefix string) {
		ctx := context.Background()
		key := prefix + "a"
		c := typeChanged(t, client, key)

		_, tok, err := c.GetWithToken(ctx, key)
		if !errors.Is(err, hoard.ErrCorrupt) {
			t.Fatalf("GetWithToken: %v; want ErrCorrupt", err)
		}
		if !strings.HasPrefix(err.Error(), "hoard:") || !strings.Contains(err.Error(), key) {
			t.Errorf("GetWithToken: %q; want a hoard: error naming the key", err)
		}
		if tok == 0 {
			t.Fatal("GetWithToken of an entry whose header reads gave no token")
		}
		fresh := hoard.Entry[newItem]{Value: newItem{ID: 1, Name: "one"}, ExpiresAt: time.Now().Add(time.Hour)}
		if err := c.CompareAndSet(ctx, key, tok, fresh); err != nil {
			t.Fatalf("CompareAndSet over the undecodable entry: %v", err)
		}
		if e, err := c.Get(ctx, key); err != nil || e.Value != fresh.Value {
			t.Fatalf("Get after the repair = %+v, %v; want %+v", e.Value, err, fresh.Value)
		}
	})
}

// GetManyWithTokens is GetWithToken for many keys: an undecodable entry is
// reported in err and left out of the map, but its token is read.
func TestUndecodablePayloadHasTokenInBatch(t *testing.T) {
	onServers(t, func(t *testing.T, client goredis.UniversalClient, prefix string) {
		ctx := context.Background()
		keys := []string{prefix + "good", prefix + "old", prefix + "absent"}
		c := typeChanged(t, client, keys[1])
		fresh := hoard.Entry[newItem]{Value: newItem{ID: 1, Name: "one"}, ExpiresAt: time.Now().Add(time.Hour)}
		if err := c.Set(ctx, keys[0], fresh); err != nil {
			t.Fatal(err)
		}

		found, toks, ok, err := getManyWithTokens(ctx, c, keys)
		if !errors.Is(err, hoard.ErrCorrupt) || !strings.Contains(err.Error(), keys[1]) {
			t.Fatalf("GetManyWithTokens err = %v; want ErrCorrupt naming %q", err, keys[1])
		}
		if _, in := found[keys[1]]; in || len(found) != 1 {
			t.Fatalf("GetManyWithTokens found %v; want only %q", found, keys[0])
		}
		for i := range keys {
			if !ok[i] || toks[i] == 0 {
				t.Fatalf("GetManyWithTokens: key %q has token %d, ok %v; want a token", keys[i], toks[i], ok[i])
			}
		}
		fresh.Value = newItem{ID: 2, Name: "two"}
		if err := c.CompareAndSetMany(ctx, []hoard.TokenWrite[newItem]{{Key: keys[1], Token: toks[1], Entry: fresh}}); err != nil {
			t.Fatalf("CompareAndSetMany over the undecodable entry: %v", err)
		}
		if e, err := c.Get(ctx, keys[1]); err != nil || e.Value != fresh.Value {
			t.Fatalf("Get after the batch repair = %+v, %v; want %+v", e.Value, err, fresh.Value)
		}
	})
}

// typeChanged writes a string entry under key, as the code before a deploy
// did, and returns a cache of the type after it.
func typeChanged(t *testing.T, client goredis.UniversalClient, key string) *hoardredis.Cache[newItem] {
	t.Helper()
	old, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := hoard.Entry[string]{Value: "written before the deploy", ExpiresAt: time.Now().Add(time.Hour)}
	if err := old.Set(context.Background(), key, e); err != nil {
		t.Fatal(err)
	}
	c, err := hoardredis.New[newItem](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Bytes whose envelope header does not read carry no token: there is no
// generation to compare, so nothing may be set over them by compare-and-set.
func TestMalformedHeaderHasNoToken(t *testing.T) {
	onServers(t, func(t *testing.T, client goredis.UniversalClient, prefix string) {
		ctx := context.Background()
		c, err := hoardredis.New[newItem](client, nil)
		if err != nil {
			t.Fatal(err)
		}
		key := prefix + "plain"
		if err := client.Set(ctx, key, "not an envelope", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		_, tok, err := c.GetWithToken(ctx, key)
		if !errors.Is(err, hoard.ErrCorrupt) || tok != 0 {
			t.Fatalf("GetWithToken = token %d, %v; want no token and ErrCorrupt", tok, err)
		}
		if !strings.HasPrefix(err.Error(), "hoard:") {
			t.Errorf("GetWithToken: %q; want a hoard: error", err)
		}
		_, toks, ok, err := getManyWithTokens(ctx, c, []string{key})
		if !errors.Is(err, hoard.ErrCorrupt) || ok[0] || toks[0] != 0 {
			t.Fatalf("GetManyWithTokens = token %d, ok %v, %v; want no token and ErrCorrupt", toks[0], ok[0], err)
		}
	})
}

// getManyWithTokens collects what GetManyWithTokens hands over, copying
// each entry (valid only during its call).
func getManyWithTokens[V any](ctx context.Context, c *hoardredis.Cache[V], keys []string) (map[string]hoard.Entry[V], []hoard.Token, []bool, error) {
	found := map[string]hoard.Entry[V]{}
	toks, ok := make([]hoard.Token, len(keys)), make([]bool, len(keys))
	err := c.GetManyWithTokens(ctx, keys, func(i int, e *hoard.Entry[V], tok hoard.Token, tokOK bool) {
		if e != nil {
			found[keys[i]] = *e
		}
		toks[i], ok[i] = tok, tokOK
	})
	return found, toks, ok, err
}
