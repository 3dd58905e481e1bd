package hoardredis_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// TestTrackerOnEveryClusterMaster: on a Redis Cluster the tracker tracks
// every master, so writes by a plain client to keys of every master's
// slots are all reported.
func TestTrackerOnEveryClusterMaster(t *testing.T) {
	client := redistest.Cluster(t)
	prefix := uniquePrefix(t) // no hash tag: the keys spread over the masters
	start := time.Now()
	tr := newTracker(t, client, &hoardredis.TrackerOptions{Prefix: prefix})
	t.Logf("ready in %v", time.Since(start))
	ch := trackerEvents(t, tr)
	other := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: client.Options().Addrs})
	defer other.Close()
	ctx := context.Background()

	masters := map[string]bool{}
	var keys []string
	for i := 0; len(masters) < int(tr.Stats().Nodes) || i < 30; i++ {
		key := prefix + "k" + strconv.Itoa(i)
		node, err := other.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		masters[node.Options().Addr] = true
		keys = append(keys, key)
	}
	t.Cleanup(func() {
		for _, k := range keys {
			if err := client.Del(context.Background(), k).Err(); err != nil {
				t.Error(err)
			}
		}
	})
	if st := tr.Stats(); st.Nodes < 3 || len(masters) != int(st.Nodes) {
		t.Fatalf("tracking %d masters, keys on %d: want every master (3 or more)", st.Nodes, len(masters))
	}
	for _, k := range keys {
		if err := other.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, ch, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: k})
	}
}
