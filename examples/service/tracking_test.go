package main

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// TestTrackingEvictsWhatRedisClientsDelete: with -redis-tracking, keys
// deleted in Redis by another client (redis-cli, say) leave every
// instance's memory tier at once, the data caches' and the page caches',
// so a row changed behind the service's back is read again. (Without
// tracking the memory tiers would serve the old row until their
// MemoryTTL, 30s and 10s, past this test's deadline of 5s.)
func TestTrackingEvictsWhatRedisClientsDelete(t *testing.T) {
	if os.Getenv("HOARD_REDIS_ADDR") == "" {
		t.Skip("tracking needs a real Redis (miniredis has no CLIENT TRACKING): HOARD_REDIS_ADDR is unset")
	}
	b := newBacking(t)
	var instances []string
	for _, name := range []string{"a", "b"} {
		_, srv := b.instance(t, name, func(c *serviceConfig) { c.tracking = true })
		instances = append(instances, srv.URL)
	}
	cachedEverywhere(t, instances, "/products/1")

	// The row changes in the database, where nothing tells the caches...
	ctx := context.Background()
	if _, err := b.repo.db.ExecContext(ctx, b.repo.d.rebind(`UPDATE `+b.repo.table+` SET name = ? WHERE id = 1`), "Copper kettle"); err != nil {
		t.Fatal(err)
	}
	// ...and someone deletes the product's keys in Redis by hand.
	client := goredis.NewClient(&goredis.Options{Addr: b.redisAddr})
	defer client.Close()
	deleted := 0
	for _, pattern := range []string{b.prefix + ":product:*:1", b.prefix + ":page-product:*/products/1*"} {
		iter := client.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			if err := client.Del(ctx, iter.Val()).Err(); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if deleted < 2 {
		t.Fatalf("deleted %d keys; want the product's and its page's: the key layout changed", deleted)
	}
	deletedAt := time.Now()
	took := converge(t, instances, 5*time.Second, deletedAt, "the new row served", func(srv string) bool {
		return decodeJSON[Product](t, get(t, srv+"/products/1", http.StatusOK)).Name == "Copper kettle"
	})
	t.Logf("from the DEL to every instance serving the row: %v", took)
}
