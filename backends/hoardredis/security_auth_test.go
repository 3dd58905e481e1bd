package hoardredis_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// wrongPasswordClient starts a server that needs a password and returns a
// client that gives another.
func wrongPasswordClient(t *testing.T) *goredis.Client {
	t.Helper()
	s := startServer(t, []string{"--requirepass", aclAdminPassword}, false, pingAs("", aclAdminPassword, nil))
	client := goredis.NewClient(&goredis.Options{Addr: s.addr, Password: "not-the-password", MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// With a wrong password every call fails with an error that says so
// (WRONGPASS), wrapped as a hoard: error: never a miss.
func TestSecurityWrongPasswordIsClearError(t *testing.T) {
	client := wrongPasswordClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := hoardredis.New[string](client, nil)
	if err != nil {
		if !strings.Contains(err.Error(), "WRONGPASS") {
			t.Fatalf("New: %v; want an error naming WRONGPASS", err)
		}
		return
	}
	_, err = c.Get(ctx, "k")
	if err == nil || errors.Is(err, hoard.ErrNotFound) || !strings.HasPrefix(err.Error(), "hoard:") || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("Get with a wrong password: %v; want a hoard: error naming WRONGPASS, not a miss", err)
	}
	if err := c.Set(ctx, "k", hoard.Entry[string]{Value: "v"}); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("Set with a wrong password: %v", err)
	}
	t.Logf("wrong password, first Get: %v", err)
}

// A wrong password is a clear error when the cache starts, not a cache
// silently bypassed: behind an Aside, a failing tier is read past (only a
// metric counts it). New makes no call to Redis (it takes no ctx); Ping is
// the start-up check.
func TestSecurityWrongPasswordFailsAtStart(t *testing.T) {
	client := wrongPasswordClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ping(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "hoard:") || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("Ping with a wrong password: %v; want a hoard: error naming WRONGPASS", err)
	}
}

// What a wrong password does behind an Aside when nobody calls Ping: every Get calls the
// loader and succeeds, and only the backend-error metric shows the cache
// is bypassed.
func TestSecurityWrongPasswordBehindAside(t *testing.T) {
	client := wrongPasswordClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := hoardredis.New[string](client, nil)
	must(t, err)
	a, err := hoard.NewAside(&hoard.AsideOptions[string]{Name: "auth", Shared: c, TTL: time.Minute})
	must(t, err)
	defer a.Close(ctx)
	var loads atomic.Int64
	for range 3 {
		v, err := a.Get(ctx, "id", hoard.LoaderFunc[string](func(context.Context, string) (string, error) {
			loads.Add(1)
			return "v", nil
		}))
		if err != nil || v != "v" {
			t.Fatalf("Aside.Get = %q, %v", v, err)
		}
	}
	errs := a.Metrics().Snapshot().Total(hoard.EventBackendError)
	if loads.Load() != 3 || errs == 0 {
		t.Fatalf("%d loads, %d backend errors counted for 3 Gets with a wrong password", loads.Load(), errs)
	}
	t.Logf("wrong password behind an Aside: 3 Gets, %d loads, %d backend errors counted, no error returned", loads.Load(), errs)
}
