package reliability_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/hoard-cache/hoard"
)

// soakFor is how long TestSoak runs its load: short in CI, as long as
// wanted by hand (go test -run TestSoak -soak 10m).
var soakFor = flag.Duration("soak", 30*time.Second, "how long TestSoak runs its mixed load with faults")

// Every test ends with no goroutine of hoard, go-redis or toxiproxy left
// behind, whatever the faults did.
func TestMain(m *testing.M) {
	goredis.SetLogger(silent{}) // the faults make go-redis complain on purpose
	goleak.VerifyTestMain(m, leakOptions...)
}

// leakOptions ignore goroutines of toxiproxy's own: a toxic added or
// removed while its connection closes can leave its stub, and the link
// reading into it, blocked on a send no one will receive (the race in
// toxiproxy's link.go AddToxic). They are the proxy's, never hoard's.
var leakOptions = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"),
	goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).read"),
	goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).write"),
}

// silent is a go-redis logger that drops what it is given.
type silent struct{}

func (silent) Printf(context.Context, string, ...any) {}

// quiet is the buses' logger: the faults make them warn on purpose.
var quiet = slog.New(slog.DiscardHandler)

// newClient returns a client of addr (often a proxy) configured the way a
// service facing an unreliable network should be: calls bounded by their
// ctx (ContextTimeoutEnabled), so a hung connection never outlives the
// caller's deadline; the socket timeouts stay long on purpose, so that it
// is the ctx, not them, that the tests see bounding the calls.
func newClient(t testing.TB, addr, name string) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{
		Addr:                  addr,
		ClientName:            name,
		DialTimeout:           time.Second,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		ContextTimeoutEnabled: true,
		PoolSize:              16,
		PoolTimeout:           5 * time.Second,
		MaxRetries:            2,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// errSourceDown is what the source answers while it is made to fail.
var errSourceDown = errors.New("source down (injected)")

// memStore is an authoritative in-memory store: a hoard.Store whose rows
// carry versions (a write older than the row is ignored, as the contract
// says), which can be made to fail on demand, and which counts its loads.
type memStore[V any] struct {
	mu   sync.Mutex
	rows map[string]memRow[V] // guarded by mu

	fail  atomic.Bool  // Load fails with errSourceDown while set
	loads atomic.Int64 // Load calls
	hook  func(ctx context.Context, id string, v V)
}

type memRow[V any] struct {
	v       V
	version uint64
	deleted bool
}

func newMemStore[V any]() *memStore[V] { return &memStore[V]{rows: make(map[string]memRow[V])} }

var _ hoard.Store[int] = (*memStore[int])(nil)

// Load returns the row of id. It honours ctx, as a database does.
func (s *memStore[V]) Load(ctx context.Context, id string) (V, error) {
	s.loads.Add(1)
	var zero V
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if s.fail.Load() {
		return zero, errSourceDown
	}
	s.mu.Lock()
	r, ok := s.rows[id]
	hook := s.hook
	s.mu.Unlock()
	if !ok || r.deleted {
		return zero, hoard.ErrNotFound
	}
	if hook != nil {
		hook(ctx, id, r.v)
	}
	return r.v, nil
}

// Save stores v as id's row at version unless the row is newer.
func (s *memStore[V]) Save(ctx context.Context, id string, v V, version uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.rows[id]; ok && r.version >= version {
		return nil
	}
	s.rows[id] = memRow[V]{v: v, version: version}
	return nil
}

// Delete removes id's row at version unless the row is newer.
func (s *memStore[V]) Delete(ctx context.Context, id string, version uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.rows[id]; ok && r.version >= version {
		return nil
	}
	s.rows[id] = memRow[V]{version: version, deleted: true}
	return nil
}

// Put sets id's row directly (the test acting as another writer of the
// database), at a version above any it had.
func (s *memStore[V]) Put(id string, v V) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows[id] = memRow[V]{v: v, version: s.rows[id].version + 1}
}

// Row returns id's row: value, version, present.
func (s *memStore[V]) Row(id string) (V, uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rows[id]
	return r.v, r.version, ok && !r.deleted
}

// hoardSentinels are the errors every hoard error wraps (or a ctx error).
var hoardSentinels = []error{
	hoard.ErrNotFound, hoard.ErrTooLarge, hoard.ErrConflict, hoard.ErrCorrupt, hoard.ErrUnavailable,
	hoard.ErrBackend, hoard.ErrInvalidOption, hoard.ErrServedStale, hoard.ErrLockHeld, hoard.ErrLockNotHeld,
	hoard.ErrLockTimeout, hoard.ErrStoreFailed, hoard.ErrCacheFailed, hoard.ErrClosed,
}

// clearHoardError reports whether err is one a caller can act on: it says
// "hoard:" and matches one of hoard's sentinels or a ctx error with
// errors.Is.
func clearHoardError(err error) bool {
	if err == nil || !strings.Contains(err.Error(), "hoard:") {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	for _, s := range hoardSentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// tally counts outcomes by name, safe for concurrent use.
type tally struct {
	mu sync.Mutex
	n  map[string]int64
}

func (c *tally) add(name string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[string]int64)
	}
	c.n[name] += n
}

func (c *tally) get(name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

func (c *tally) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, k := range sortedKeys(c.n) {
		fmt.Fprintf(&b, "%s=%d ", k, c.n[k])
	}
	return strings.TrimSpace(b.String())
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// goroutines returns the stacks of every goroutine, for a test that hangs.
func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// awaitGoroutinesGone waits, up to d, until no goroutine runs fn: one that
// ends by itself, later than goleak waits (go-redis redials a dead node
// once a second until its pool is closed).
func awaitGoroutinesGone(fn string, d time.Duration) {
	for deadline := time.Now().Add(d); strings.Contains(goroutines(), fn) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
}
