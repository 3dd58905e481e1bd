package reliability_test

import (
	"context"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// Issue 19, item 2: the tracker on a Redis Cluster whose master fails.
// The test makes its own 6-node cluster (as TestClusterFailover), tracks
// the keys "trk:*" on every master, SIGKILLs the master of one key and
// waits for its replica's promotion: the tracker flushes when it loses
// the dead master's connection, tracks the promoted replica, and reports
// a plain client's later write of the key again.
func TestTrackerClusterFailover(t *testing.T) {
	t.Cleanup(func() { awaitGoroutinesGone("pool.(*ConnPool).tryDial", 5*time.Second) })
	c := startCluster(t)
	ctx := context.Background()
	client := goredis.NewClusterClient(&goredis.ClusterOptions{
		Addrs: c.addrs(), ContextTimeoutEnabled: true, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRedirects: 8,
	})
	t.Cleanup(func() { _ = client.Close() })
	tr, err := hoardredis.NewTracker(client, &hoardredis.TrackerOptions{
		Prefix: "trk:", PingInterval: 200 * time.Millisecond, RefreshInterval: 200 * time.Millisecond, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close(context.Background()) })
	events := make(chan hoard.Invalidation, 1<<16)
	t.Cleanup(tr.Subscribe(func(evs []hoard.Invalidation) {
		for _, ev := range evs {
			events <- ev
		}
	}))
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tr.Ready(rctx); err != nil {
		t.Fatal(err)
	}
	if n := tr.Stats().Nodes; n != 3 {
		t.Fatalf("tracking %d masters, want 3", n)
	}
	// A key on a master other than the node the views are read from.
	var victim clusterNode
	for _, n := range c.nodesView(t, c.nodes[0]) {
		if n.master && len(n.slots) > 0 && c.nodeOf(n.addr) != c.nodes[0] {
			victim = n
			break
		}
	}
	key := ""
	for i := 0; key == ""; i++ {
		k := "trk:k" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		node, err := client.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if node.Options().Addr == victim.addr {
			key = k
		}
	}
	write := func(what string) {
		eventually(t, 30*time.Second, what, func() bool {
			wctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			return client.Set(wctx, key, "changed by hand", 0).Err() == nil
		})
	}
	await := func(want hoard.Invalidation, within time.Duration) time.Duration {
		start := time.Now()
		timeout := time.After(within)
		for {
			select {
			case ev := <-events:
				if ev == want {
					return time.Since(start)
				}
			case <-timeout:
				t.Fatalf("no %v %q within %v: %+v", want.Kind, want.Value, within, tr.Stats())
			}
		}
	}
	write("a write before the failover")
	await(hoard.Invalidation{Kind: hoard.InvalidateKey, Value: key}, 10*time.Second)

	before := tr.Stats()
	killedAt := time.Now()
	c.nodeOf(victim.addr).Kill()
	flushedIn := await(hoard.Invalidation{Kind: hoard.InvalidateAll}, 10*time.Second)
	eventually(t, 30*time.Second, "a replica is promoted and tracked", func() bool {
		st := tr.Stats()
		return st.Nodes == 3 && st.Connects > before.Connects
	})
	trackedIn := time.Since(killedAt)
	write("a write after the failover")
	await(hoard.Invalidation{Kind: hoard.InvalidateKey, Value: key}, 10*time.Second)
	st := tr.Stats()
	if st.Lost <= before.Lost {
		t.Errorf("no tracking connection counted lost: %+v", st)
	}
	t.Logf("master %s killed: flush delivered %v after Kill returned, promoted replica tracked %v after the kill; later writes reported; stats %+v",
		victim.addr, flushedIn.Round(10*time.Microsecond), trackedIn.Round(time.Millisecond), st)
	if err := client.Del(ctx, key).Err(); err != nil {
		t.Log(err)
	}
}
