package hoardredis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// startFails runs NewService for app on client and checks that it fails
// within limit with a hoard: error wrapping sentinel and naming every one
// of words.
func startFails(t *testing.T, client goredis.UniversalClient, app string, opts *hoardredis.ServiceOptions, limit time.Duration, sentinel error, words ...string) {
	t.Helper()
	start := time.Now()
	svc, err := hoardredis.NewService(context.Background(), client, app, opts)
	took := time.Since(start)
	if err == nil {
		_ = svc.Close(context.Background())
		t.Fatalf("NewService succeeded; want an error wrapping %v", sentinel)
	}
	if !errors.Is(err, sentinel) || !strings.HasPrefix(err.Error(), "hoard: ") {
		t.Fatalf("NewService: %v; want a hoard: error wrapping %v", err, sentinel)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("NewService: %v; want it to name %q", err, w)
		}
	}
	if took > limit {
		t.Fatalf("NewService took %v to fail; want at most %v", took, limit)
	}
	t.Logf("NewService failed in %v: %v", took.Round(time.Millisecond), err)
}

// An address where nothing listens fails at the PING: at once with a
// client that does not retry, within StartTimeout with go-redis's
// retries.
func TestServiceUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := l.Addr().String()
	must(t, l.Close())
	t.Run("no retries", func(t *testing.T) {
		client := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
		defer client.Close()
		startFails(t, client, "shop", nil, time.Second, hoard.ErrUnavailable, `redis service "shop"`, "PING", "connection refused")
	})
	t.Run("go-redis defaults", func(t *testing.T) {
		client := goredis.NewClient(&goredis.Options{Addr: addr})
		defer client.Close()
		startFails(t, client, "shop", &hoardredis.ServiceOptions{StartTimeout: time.Second}, 2*time.Second, hoard.ErrUnavailable, `redis service "shop"`, "PING")
	})
}

// A server that accepts connections and never answers fails the PING when
// StartTimeout runs out (with ContextTimeoutEnabled, which lets go-redis
// give up at the ctx's deadline).
func TestServiceSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	defer func() {
		_ = l.Close()
		wg.Wait()
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	client := goredis.NewClient(&goredis.Options{Addr: l.Addr().String(), ContextTimeoutEnabled: true})
	defer client.Close()
	startFails(t, client, "shop", &hoardredis.ServiceOptions{StartTimeout: 200 * time.Millisecond}, 2*time.Second,
		hoard.ErrUnavailable, "PING", "not done within StartTimeout 200ms")
}

// A wrong password fails at the PING with Redis's WRONGPASS.
func TestServiceWrongPassword(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		mr.RequireUserAuth("app", "right")
		client := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), Username: "app", Password: "wrong"})
		defer client.Close()
		startFails(t, client, "shop", nil, 2*time.Second, hoard.ErrBackend, "PING", "WRONGPASS")
	})
	t.Run("redis", func(t *testing.T) {
		admin := redistest.Real(t)
		user := aclUser(t, admin, "~*", "&*", "+@all")
		client := goredis.NewClient(&goredis.Options{Addr: admin.Options().Addr, Username: user, Password: "wrong", MaxRetries: -1})
		defer client.Close()
		startFails(t, client, "shop", nil, 2*time.Second, hoard.ErrBackend, "PING", "WRONGPASS")
	})
}

// A Redis user whose ACL forbids the application's keys fails at the
// write of the probe key (NOPERM), one that may not subscribe to the bus's
// channel at the bus's subscription; one limited to ~app:* and &app:* (and
// no @dangerous command) runs the whole service.
func TestServiceACL(t *testing.T) {
	admin := redistest.Real(t)
	app := appName(t, admin, "real", "shop")
	quiet := slog.New(slog.DiscardHandler)
	connect := func(user string) *goredis.Client {
		c := goredis.NewClient(&goredis.Options{Addr: admin.Options().Addr, Username: user, Password: aclPassword, MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	t.Run("keys forbidden", func(t *testing.T) {
		client := connect(aclUser(t, admin, "~other:*", "&*", "+@all"))
		startFails(t, client, app, nil, 5*time.Second, hoard.ErrBackend, "NOPERM", app+":probe:", "may this Redis user use the keys "+app+":*")
	})
	t.Run("channel forbidden", func(t *testing.T) {
		client := connect(aclUser(t, admin, "~"+app+":*", "resetchannels", "+@all"))
		startFails(t, client, app, &hoardredis.ServiceOptions{StartTimeout: 300 * time.Millisecond, Logger: quiet}, 5*time.Second,
			hoard.ErrUnavailable, "subscription of the bus", app+":bus")
	})
	t.Run("limited to the application", func(t *testing.T) {
		client := connect(aclUser(t, admin, "~"+app+":*", "&"+app+":*", "+@all", "-@dangerous"))
		ctx := context.Background()
		svc, err := hoardredis.NewService(ctx, client, app, nil)
		must(t, err)
		defer func() { must(t, svc.Close(ctx)) }()
		users, err := hoardredis.NewAside(svc, "users", &hoard.AsideOptions[string]{
			TTL: time.Minute, Namespace: "people", TagsOf: func(id, _ string) []string { return []string{"user:" + id} },
		})
		must(t, err)
		load := hoard.LoaderFunc[string](func(context.Context, string) (string, error) { return "ada", nil })
		for range 2 {
			_, err := users.Get(ctx, "42", load)
			must(t, err)
		}
		must(t, svc.Invalidator().InvalidateTags(ctx, "user:42"))
		_, err = svc.Invalidator().BumpNamespace(ctx, "people")
		must(t, err)
		must(t, users.Delete(ctx, "42"))
		if n := users.Metrics().Snapshot().Total(hoard.EventBackendError); n != 0 {
			t.Fatalf("%d backend errors for a user limited to the application's names", n)
		}
	})
}

// aclPassword is the password of the users aclUser makes.
const aclPassword = "hoard-test-password"

// aclUser adds a user with a name unique to the run, aclPassword and the
// ACL rules to the real server, deleted when the test ends, and returns
// its name.
func aclUser(t *testing.T, admin *goredis.Client, rules ...string) string {
	t.Helper()
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	name := "hoard-test-" + hex.EncodeToString(r[:])
	args := []any{"ACL", "SETUSER", name, "reset", "on", ">" + aclPassword}
	for _, r := range rules {
		args = append(args, r)
	}
	ctx := context.Background()
	if err := admin.Do(ctx, args...).Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() {
		if err := admin.Do(context.Background(), "ACL", "DELUSER", name).Err(); err != nil {
			t.Errorf("ACL DELUSER %s: %v", name, err)
		}
	})
	return name
}
