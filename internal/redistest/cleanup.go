package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DeleteUnder deletes every key that starts with prefix, on each master of
// a Cluster: a test's clean-up of a shared server under a prefix of its
// own (never a FLUSHALL). The prefix must hold no glob character, as the
// random ones tests make do not.
func DeleteUnder(t testing.TB, client goredis.UniversalClient, prefix string) {
	t.Helper()
	if prefix == "" || strings.ContainsAny(prefix, `*?[]\`) {
		t.Fatalf("redistest: DeleteUnder(%q): want a prefix with no glob character", prefix)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deleteOn := func(ctx context.Context, c *goredis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	switch c := client.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, deleteOn)
	case *goredis.Client:
		err = deleteOn(ctx, c)
	default:
		t.Fatalf("redistest: DeleteUnder: a %T is neither a Client nor a ClusterClient", client)
	}
	if err != nil {
		t.Errorf("redistest: deleting the keys under %q: %v", prefix, err)
	}
}
