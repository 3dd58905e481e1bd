package httpcache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/httpcache"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// fixture is one backend's setup for a test: Aside options with a tier,
// an invalidator on the same backend, and the fake clock both read.
type fixture struct {
	clock *hoardtest.FakeClock
	aside hoard.AsideOptions[*httpcache.Response]
	inv   *hoard.Invalidator
}

// tagBackend is what an Invalidator needs: a counter and a tag clock.
type tagBackend interface {
	hoard.Counter
	hoard.TagClock
}

// eachBackend runs fn against the memory backend, miniredis, and the real
// Redis when HOARD_REDIS_ADDR is set.
func eachBackend(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		clock := hoardtest.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		mem, err := memory.New(&memory.Options[*httpcache.Response]{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mem.Close() })
		fn(t, newFixture(t, clock, mem, hoard.AsideOptions[*httpcache.Response]{Memory: mem}))
	})
	t.Run("miniredis", func(t *testing.T) {
		_, client := redistest.Miniredis(t)
		runRedis(t, client, fn)
	})
	if os.Getenv(redistest.EnvAddr) != "" {
		t.Run("redis", func(t *testing.T) {
			runRedis(t, redistest.Real(t), fn)
		})
	}
}

func runRedis(t *testing.T, client goredis.UniversalClient, fn func(t *testing.T, f *fixture)) {
	t.Helper()
	clock := hoardtest.NewFakeClock(time.Now())
	// A tag clock of the test's own: on a shared Redis the default one's
	// stamps ("product:42") would meet other runs' and stay for ever.
	tagName := uniqueName()
	shared, err := hoardredis.New[*httpcache.Response](client, &hoardredis.Options{Clock: clock, TagPrefix: tagName + ":{tags}"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, clock, shared, hoard.AsideOptions[*httpcache.Response]{Shared: shared})
	t.Cleanup(func() {
		redistest.DeleteUnder(t, client, f.aside.Name)
		redistest.DeleteUnder(t, client, tagName)
	})
	fn(t, f)
}

func newFixture(t *testing.T, clock *hoardtest.FakeClock, tags tagBackend, o hoard.AsideOptions[*httpcache.Response]) *fixture {
	t.Helper()
	inv, err := hoard.NewInvalidator(&hoard.InvalidatorOptions{Counter: tags, TagClock: tags, Clock: clock, NamespacePrefix: uniqueName() + ":ns:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inv.Close() })
	o.Name, o.Clock, o.Jitter = uniqueName(), clock, -1
	return &fixture{clock: clock, aside: o, inv: inv}
}

// uniqueName is a key prefix of its own, so tests on a shared Redis never
// meet.
func uniqueName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "httpcache-test-" + hex.EncodeToString(b[:])
}

// newCache builds the middleware and closes it when the test ends.
func newCache(t *testing.T, o httpcache.Options) *httpcache.Cache {
	t.Helper()
	c, err := httpcache.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return c
}

// result is a response as a test reads it.
type result struct {
	status int
	header http.Header
	body   string
}

// do sends a request through h and returns the response.
func do(t *testing.T, h http.Handler, r *http.Request) result {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return result{status: res.StatusCode, header: res.Header, body: string(body)}
}

// get is do with a new GET of target and the given header pairs.
func get(t *testing.T, h http.Handler, target string, header ...string) result {
	t.Helper()
	return do(t, h, request(http.MethodGet, target, header...))
}

func request(method, target string, header ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// counting wraps a handler and counts its calls.
type counting struct {
	n atomic.Int64
	h http.HandlerFunc
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h(w, r)
}

func count(h http.HandlerFunc) *counting { return &counting{h: h} }

// expect fails the test when a result field differs.
func (r result) expect(t *testing.T, status int, xcache string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d (body %q)", r.status, status, r.body)
	}
	if got := r.header.Get("X-Cache"); got != xcache {
		t.Errorf("X-Cache %q, want %q", got, xcache)
	}
}

func runtimeGosched() { time.Sleep(time.Millisecond) }

// sleepBriefly lets goroutines reach a flight; tests that use it assert
// an outcome that holds whichever way the race goes.
func sleepBriefly() { time.Sleep(20 * time.Millisecond) }
