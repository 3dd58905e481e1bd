// Package redistest gives tests their Redis servers: an in-process miniredis
// always, and the real servers that the HOARD_* variables point at (CI sets
// them; scripts/redis-cluster.sh starts a local cluster). A test that needs a
// real server skips, saying which variable to set, when it is unset.
package redistest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
)

// The variables that point tests at real servers.
const (
	EnvAddr         = "HOARD_REDIS_ADDR"          // host:port of a Redis 7 server
	EnvClusterAddrs = "HOARD_REDIS_CLUSTER_ADDRS" // comma-separated seed nodes of a Redis Cluster
)

// Miniredis starts an in-process Redis for the test and returns it with a
// client; both are closed when the test ends.
func Miniredis(t testing.TB) (*miniredis.Miniredis, *goredis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	return mr, client
}

// Real returns a client of the Redis server at $HOARD_REDIS_ADDR, or skips
// the test when the variable is unset. It fails the test when the variable
// is set but the server does not answer.
func Real(t testing.TB) *goredis.Client {
	t.Helper()
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		t.Skipf("real Redis: %s is unset (CI sets it; the miniredis tests still ran)", EnvAddr)
	}
	client := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { _ = client.Close() })
	ping(t, client, addr)
	return client
}

// Cluster returns a client of the Redis Cluster at $HOARD_REDIS_CLUSTER_ADDRS,
// or skips the test when the variable is unset.
func Cluster(t testing.TB) *goredis.ClusterClient {
	t.Helper()
	addrs := os.Getenv(EnvClusterAddrs)
	if addrs == "" {
		t.Skipf("real Redis Cluster: %s is unset (scripts/redis-cluster.sh start; CI sets it)", EnvClusterAddrs)
	}
	client := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	t.Cleanup(func() { _ = client.Close() })
	ping(t, client, addrs)
	return client
}

func ping(t testing.TB, c goredis.UniversalClient, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s does not answer: %v", addr, err)
	}
}
