package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// backing is what a test's instances share, as the processes of one
// service share a database and a Redis: PostgreSQL at HOARD_POSTGRES_URL
// or an in-memory SQLite, the Redis at HOARD_REDIS_ADDR or a miniredis.
// Names are unique per test, and dropped at its end.
type backing struct {
	repo      *repo
	redisAddr string
	prefix    string
}

func newBacking(t *testing.T) *backing {
	t.Helper()
	ctx := context.Background()
	id := randomHex(t)
	b := &backing{prefix: "hoard-example-test-" + id}

	table := "hoard_example_test_" + id
	db, d, _, err := openDB(os.Getenv("HOARD_POSTGRES_URL"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d == postgresDialect {
			if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+table); err != nil {
				t.Errorf("drop %s: %v", table, err)
			}
		}
		_ = db.Close()
	})
	if b.repo, err = newRepo(ctx, db, d, table); err != nil {
		t.Fatal(err)
	}

	b.redisAddr = os.Getenv("HOARD_REDIS_ADDR")
	if b.redisAddr == "" {
		mr, stop, err := startMiniredis()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		b.redisAddr = mr.Addr()
	} else {
		t.Cleanup(func() { b.deleteRedisKeys(t) })
	}
	return b
}

// deleteRedisKeys removes what the test left in a real Redis: every name
// the Service derived from the prefix (keys, tag stamps, namespace
// counters, locks).
func (b *backing) deleteRedisKeys(t *testing.T) {
	ctx := context.Background()
	client := goredis.NewClient(&goredis.Options{Addr: b.redisAddr})
	defer client.Close()
	for _, pattern := range []string{b.prefix + ":*"} {
		iter := client.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean up %s: %v", pattern, err)
		}
	}
}

// instance starts one instance of the service on b: its own Redis client,
// caches and registry, served by an httptest server. Each option changes
// the instance's config.
func (b *backing) instance(t *testing.T, name string, options ...func(*serviceConfig)) (*service, *httptest.Server) {
	t.Helper()
	ctx := context.Background()
	client := goredis.NewClient(&goredis.Options{Addr: b.redisAddr})
	t.Cleanup(func() { _ = client.Close() })
	cfg := serviceConfig{
		repo: b.repo, redis: client, prefix: b.prefix, instanceID: name,
		log: slog.New(slog.DiscardHandler),
	}
	for _, o := range options {
		o(&cfg)
	}
	svc, err := newService(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(ctx); err != nil {
			t.Errorf("close %s: %v", name, err)
		}
	})
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return svc, srv
}

func randomHex(t *testing.T) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// do sends a request and returns the status and body.
func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	res := fetch(t, method, url, body)
	return res.status, res.body
}

// response is an answer as a test reads it.
type response struct {
	status int
	header http.Header
	body   string
}

// fetch sends a request with the header pairs given and returns the
// answer.
func fetch(t *testing.T, method, url, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	// One host name for every instance, as behind a load balancer: the
	// host is part of a page's key.
	req.Host = "shop.test"
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// get is do for a GET that must answer want.
func get(t *testing.T, url string, want int) string {
	t.Helper()
	code, body := do(t, http.MethodGet, url, "")
	if code != want {
		t.Fatalf("GET %s: %d %s; want %d", url, code, body, want)
	}
	return body
}

// metric scrapes /metrics of srv and returns the value of series (the
// exposition line's name and labels), or 0 when it is absent.
func metric(t *testing.T, srv *httptest.Server, series string) float64 {
	t.Helper()
	body := get(t, srv.URL+"/metrics", http.StatusOK)
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("series %s: %q: %v", series, line, err)
			}
			return v
		}
	}
	return 0
}

// eventually polls cond until it holds or 5s have passed: the time for an
// invalidation to cross the bus to another instance.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 5s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pollUntil polls cond until it holds, failing the test after within.
func pollUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cachedEverywhere GETs each path on each instance until one pass finds
// every page in the page cache: the memory tiers and the page caches of
// all instances hold what the outside change will make stale.
func cachedEverywhere(t *testing.T, instances []string, paths ...string) {
	t.Helper()
	pollUntil(t, 10*time.Second, "every page cached on every instance", func() bool {
		all := true
		for _, srv := range instances {
			for _, p := range paths {
				res := fetch(t, http.MethodGet, srv+p, "")
				if res.status != http.StatusOK {
					t.Fatalf("GET %s: %d %s", srv+p, res.status, res.body)
				}
				all = all && res.header.Get("X-Cache") == "HIT"
			}
		}
		return all
	})
}

// converge polls every instance with serves until each does, failing the
// test after within, and returns how long after since the last one did.
func converge(t *testing.T, instances []string, within time.Duration, since time.Time, what string, serves func(srv string) bool) time.Duration {
	t.Helper()
	pending := slices.Clone(instances)
	var last time.Duration
	deadline := time.Now().Add(within)
	for {
		pending = slices.DeleteFunc(pending, func(srv string) bool {
			if !serves(srv) {
				return false
			}
			last = time.Since(since)
			t.Logf("%s: %s after %v", srv, what, last)
			return true
		})
		if len(pending) == 0 {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s on %d of %d instances; still not on %v", within, what, len(instances)-len(pending), len(instances), pending)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
