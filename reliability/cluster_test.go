package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// Scenario 3: Redis Cluster failover. The test makes its own 6-node
// cluster (3 masters, 3 replicas; scripts/redis-cluster.sh's layout, on
// free ports), runs reads and write-throughs from two instances, SIGKILLs
// a master, and waits for its replica to be promoted; the load goes on.
// It then moves a slot by hand (MIGRATING/IMPORTING + MIGRATE) and reads
// and writes its key while the move is half done, so the client follows
// ASK as well as MOVED. After quiescence every key reads back, on every
// instance, the value the store holds.

// cluster is a Redis Cluster of servers this test started.
type cluster struct {
	nodes []*redisServer
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli is not on PATH: it makes the test's own cluster (apt-get install redis-tools)")
	}
	c := &cluster{}
	args := []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "1000", "--cluster-port", "{port2}",
		// A replica may take over whatever the age of its data: on a
		// machine this busy its last exchange with the master can look old.
		"--cluster-replica-validity-factor", "0"}
	for range 6 {
		c.nodes = append(c.nodes, startRedis(t, args...))
	}
	create := []string{"--cluster", "create"}
	for _, n := range c.nodes {
		create = append(create, n.Addr())
	}
	create = append(create, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	if out, err := exec.CommandContext(ctx, cli, create...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	created := time.Since(start)
	c.waitHealthy(t, 6, 30*time.Second)
	t.Logf("cluster created in %v, healthy after %v", created.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return c
}

// waitHealthy waits until every live node sees cluster_state:ok with all
// slots served and known nodes.
func (c *cluster) waitHealthy(t *testing.T, known int, d time.Duration) {
	t.Helper()
	eventually(t, d, "the cluster is healthy", func() bool {
		for _, n := range c.live() {
			info, err := nodeCmd(n, "CLUSTER", "INFO")
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") ||
				!strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", known)) {
				return false
			}
		}
		return true
	})
}

func (c *cluster) live() []*redisServer {
	var out []*redisServer
	for _, n := range c.nodes {
		n.mu.Lock()
		if n.cmd != nil {
			out = append(out, n)
		}
		n.mu.Unlock()
	}
	return out
}

func (c *cluster) addrs() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.Addr())
	}
	return out
}

// nodeCmd runs one command on one node over a short-lived client.
func nodeCmd(n *redisServer, args ...any) (string, error) {
	cl := goredis.NewClient(&goredis.Options{Addr: n.Addr(), DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return cl.Do(ctx, args...).Text()
}

// nodeOf returns the server whose address is addr.
func (c *cluster) nodeOf(addr string) *redisServer {
	for _, n := range c.nodes {
		if n.Addr() == addr || strings.HasPrefix(addr, n.Addr()+"@") {
			return n
		}
	}
	return nil
}

// clusterNode is a line of CLUSTER NODES.
type clusterNode struct {
	id, addr string
	master   bool
	failed   bool
	slots    []string
}

func (c *cluster) nodesView(t *testing.T, via *redisServer) []clusterNode {
	t.Helper()
	out, err := nodeCmd(via, "CLUSTER", "NODES")
	if err != nil {
		t.Fatalf("CLUSTER NODES: %v", err)
	}
	var nodes []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		nodes = append(nodes, clusterNode{
			id: f[0], addr: addr, master: strings.Contains(f[2], "master"),
			failed: strings.Contains(f[2], "fail"), slots: f[8:],
		})
	}
	return nodes
}

func TestClusterFailover(t *testing.T) {
	// Registered first, so it runs last, once the clients are closed.
	t.Cleanup(func() { awaitGoroutinesGone("pool.(*ConnPool).tryDial", 5*time.Second) })
	c := startCluster(t)
	ctx := context.Background()
	src := newMemStore[string]()
	channel := fmt.Sprintf("failover-%d", time.Now().UnixNano())
	type inst struct {
		client *goredis.ClusterClient
		aside  *hoard.Aside[string]
		wt     *hoard.WriteThrough[string]
	}
	insts := make([]*inst, 2)
	for i := range insts {
		client := goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: c.addrs(), ContextTimeoutEnabled: true, DialTimeout: 500 * time.Millisecond,
			ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, MaxRedirects: 8,
		})
		t.Cleanup(func() { _ = client.Close() })
		shared, err := hoardredis.New[string](client, nil)
		if err != nil {
			t.Fatal(err)
		}
		bus, err := hoardredis.NewBus(client, &hoardredis.BusOptions{Channel: channel, PingInterval: 200 * time.Millisecond, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bus.Close(context.Background()) })
		mem, err := memory.New[string](nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mem.Close() })
		a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: channel, Memory: mem, Shared: shared, Bus: bus,
			TTL: 2 * time.Second, MemoryTTL: time.Second, NegativeTTL: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close(context.Background()) })
		wt, err := hoard.NewWriteThrough(&hoard.WriteThroughOptions[string]{Aside: a, Store: src, InvalidateBackoff: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		insts[i] = &inst{client, a, wt}
	}
	const keys = 48
	ids := make([]string, keys)
	for k := range ids {
		ids[k] = fmt.Sprintf("k%02d", k)
	}
	var out tally
	var seqMu sync.Mutex
	seq := make([]int, keys)
	put := func(in *inst, k int) {
		seqMu.Lock()
		seq[k]++
		v := fmt.Sprintf("%s@%d", ids[k], seq[k])
		seqMu.Unlock()
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		switch err := in.wt.Put(wctx, ids[k], v); {
		case err == nil:
			out.add("writes", 1)
		case clearHoardError(err):
			out.add("writes failed (clear error)", 1)
		default:
			t.Errorf("Put(%s): %v", ids[k], err)
		}
	}
	get := func(in *inst, k int) {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		switch v, err := in.aside.Get(rctx, ids[k], src); {
		case err == nil && strings.HasPrefix(v, ids[k]+"@"):
			out.add("reads", 1)
		case err == nil:
			t.Errorf("Get(%s) = %q", ids[k], v)
		case clearHoardError(err):
			out.add("reads failed (clear error)", 1)
		default:
			t.Errorf("Get(%s): %v", ids[k], err)
		}
	}
	for k := range ids {
		put(insts[k%2], k)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, in := range insts {
		wg.Go(func() { // writer of keys k ≡ i (mod 2)
			for {
				select {
				case <-stop:
					return
				default:
				}
				put(in, i+2*rand.IntN(keys/2))
				time.Sleep(5 * time.Millisecond)
			}
		})
		for range 2 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					get(in, rand.IntN(keys))
				}
			})
		}
	}
	eventually(t, 30*time.Second, "the load is under way", func() bool {
		return out.get("reads") >= keys && out.get("writes") > keys
	})

	// Kill a master; its replica takes over.
	var victim clusterNode
	for _, n := range c.nodesView(t, c.nodes[0]) {
		if n.master && len(n.slots) > 0 && c.nodeOf(n.addr) != c.nodes[0] {
			victim = n
			break
		}
	}
	killedAt := time.Now()
	c.nodeOf(victim.addr).Kill()
	promoted := func() bool {
		for _, n := range c.nodesView(t, c.nodes[0]) {
			if n.master && !n.failed && len(n.slots) > 0 && strings.Join(n.slots, " ") == strings.Join(victim.slots, " ") && n.id != victim.id {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(30 * time.Second); !promoted(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			s, _ := nodeCmd(c.nodes[0], "CLUSTER", "NODES")
			var logs strings.Builder
			for _, n := range c.live() {
				b, _ := os.ReadFile(filepath.Join(n.dir, "redis.log"))
				for _, l := range strings.Split(string(b), "\n") {
					if strings.Contains(l, "ailover") || strings.Contains(l, "lection") || strings.Contains(l, "vote") {
						fmt.Fprintf(&logs, "%s: %s\n", n.Addr(), l)
					}
				}
			}
			t.Fatalf("no replica was promoted within 30s of killing master %s (%s):\n%s\n%s", victim.addr, victim.id, s, logs.String())
		}
	}
	failover := time.Since(killedAt)
	c.waitHealthy(t, 6, 30*time.Second)
	// The load goes on after the failover. Not at once everywhere: the
	// clients learn of the new master only from a MOVED or their periodic
	// reload of the slots (go-redis's ClusterStateReloadInterval), and
	// until then a read of the old master's keys spends its whole 2s
	// deadline redialing it; with the four readers in such reads, a busy
	// machine can go a second or more without a read succeeding. Reads
	// of the other keys succeed meanwhile: wait for one.
	readsAtFailover, waitFrom := out.get("reads"), time.Now()
	deadline := waitFrom.Add(30 * time.Second)
	for out.get("reads") == readsAtFailover && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if out.get("reads") == readsAtFailover {
		t.Errorf("no read succeeded within 30s after the failover: %v", &out)
	}
	resumed := time.Since(waitFrom)

	// ASK: move the slot of a key from its master to another, half way.
	k := 0
	asked := migrateHalfway(t, c, insts[0].client, insts[0].aside.Key(ids[k]), func() {
		put(insts[k%2], k)
		get(insts[0], k)
		get(insts[1], k)
	})
	close(stop)
	waitOrDump(t, &wg, 30*time.Second)

	// Quiescence: every key, on both instances, reads the store's value.
	time.Sleep(2*time.Second + 100*time.Millisecond) // the TTL: a write whose cache update failed lags at most this
	stale := 0
	for k, id := range ids {
		want, _, _ := src.Row(id)
		for i, in := range insts {
			if v, err := in.aside.Get(ctx, id, src); err != nil || v != want {
				stale++
				t.Errorf("after quiescence instance %d serves %s = %q, %v; the store has %q (last seq %d)", i, id, v, err, want, seq[k])
			}
		}
	}
	t.Logf("failover in %v, a read succeeded %v after the cluster was healthy again; slot migrated with ASK followed: %v; %v; stale reads after quiescence: %d",
		failover.Round(time.Millisecond), resumed.Round(time.Millisecond), asked, &out, stale)
}

// migrateHalfway moves key's slot to another master: IMPORTING on the
// target, MIGRATING on the source, MIGRATE of the slot's keys; then, with
// the slot still half moved (the source answers ASK for the moved keys),
// runs during(); then assigns the slot to the target. It reports whether
// the source answered ASK for the key.
func migrateHalfway(t *testing.T, c *cluster, client *goredis.ClusterClient, key string, during func()) bool {
	t.Helper()
	ctx := context.Background()
	slot := int(client.ClusterKeySlot(ctx, key).Val())
	view := c.nodesView(t, c.live()[0])
	var src, dst clusterNode
	for _, n := range view {
		if !n.master || n.failed || len(n.slots) == 0 {
			continue
		}
		if ownsSlot(n.slots, slot) {
			src = n
		} else if dst.id == "" {
			dst = n
		}
	}
	if src.id == "" || dst.id == "" {
		t.Fatalf("no source or target master for slot %d in %+v", slot, view)
	}
	srcNode, dstNode := c.nodeOf(src.addr), c.nodeOf(dst.addr)
	must := func(n *redisServer, args ...any) string {
		t.Helper()
		s, err := nodeCmd(n, args...)
		if err != nil && !errors.Is(err, goredis.Nil) {
			t.Fatalf("%v on %s: %v", args, n.Addr(), err)
		}
		return s
	}
	must(dstNode, "CLUSTER", "SETSLOT", slot, "IMPORTING", src.id)
	must(srcNode, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst.id)
	cl := goredis.NewClient(&goredis.Options{Addr: srcNode.Addr()})
	defer cl.Close()
	keys := cl.ClusterGetKeysInSlot(ctx, slot, 1000).Val()
	if len(keys) > 0 {
		host, port, _ := strings.Cut(dstNode.Addr(), ":")
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		must(srcNode, args...)
	}
	// The source now answers ASK for the key.
	_, err := cl.Get(ctx, key).Result()
	asked := err != nil && strings.HasPrefix(err.Error(), "ASK ")
	during()
	for _, n := range c.live() {
		if _, err := nodeCmd(n, "CLUSTER", "SETSLOT", slot, "NODE", dst.id); err != nil && !strings.Contains(err.Error(), "only with masters") {
			t.Logf("SETSLOT NODE on %s: %v", n.Addr(), err)
		}
	}
	c.waitHealthy(t, 6, 30*time.Second)
	if !asked {
		t.Errorf("the source of slot %d did not answer ASK for %q while MIGRATING", slot, key)
	}
	return asked
}

func ownsSlot(ranges []string, slot int) bool {
	for _, r := range ranges {
		if strings.HasPrefix(r, "[") {
			continue // a slot being moved
		}
		lo, hi, found := strings.Cut(r, "-")
		var a, b int
		fmt.Sscan(lo, &a)
		b = a
		if found {
			fmt.Sscan(hi, &b)
		}
		if slot >= a && slot <= b {
			return true
		}
	}
	return false
}
