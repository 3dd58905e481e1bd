package hoardredis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/hoardtest"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// busWait bounds every wait of these tests: generous, for a loaded CI
// machine; a passing test waits far less.
const busWait = 15 * time.Second

// busServer is a Redis the bus tests run on, with a way to make clients
// of it, each through its own dialer, as separate instances would be.
type busServer struct {
	name      string
	newClient func(t *testing.T, d *busGateDialer) goredis.UniversalClient
	// kill breaks the pub/sub connection of the client dialed by d.
	kill func(t *testing.T, d *busGateDialer)
}

// busServers returns miniredis, and the real Redis and Cluster when their
// variables are set.
func busServers(t *testing.T) []busServer {
	mr, _ := redistest.Miniredis(t)
	servers := []busServer{{
		name: "miniredis",
		newClient: func(t *testing.T, d *busGateDialer) goredis.UniversalClient {
			c := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), Dialer: d.dial})
			t.Cleanup(func() { _ = c.Close() })
			return c
		},
		// miniredis has no CLIENT KILL: close the connections on the
		// client's side, as a network failure would.
		kill: func(t *testing.T, d *busGateDialer) { d.closeAll() },
	}}
	if addr := os.Getenv(redistest.EnvAddr); addr != "" {
		admin := redistest.Real(t)
		servers = append(servers, busServer{
			name: "redis",
			newClient: func(t *testing.T, d *busGateDialer) goredis.UniversalClient {
				c := goredis.NewClient(&goredis.Options{Addr: addr, Dialer: d.dial})
				t.Cleanup(func() { _ = c.Close() })
				return c
			},
			kill: func(t *testing.T, d *busGateDialer) { busKillPubSub(t, []goredis.UniversalClient{admin}, d) },
		})
	}
	if addrs := os.Getenv(redistest.EnvClusterAddrs); addrs != "" {
		admin := redistest.Cluster(t)
		servers = append(servers, busServer{
			name: "cluster",
			newClient: func(t *testing.T, d *busGateDialer) goredis.UniversalClient {
				c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: strings.Split(addrs, ","), Dialer: d.dial})
				t.Cleanup(func() { _ = c.Close() })
				return c
			},
			kill: func(t *testing.T, d *busGateDialer) {
				var nodes []goredis.UniversalClient
				var mu sync.Mutex
				err := admin.ForEachShard(context.Background(), func(_ context.Context, c *goredis.Client) error {
					mu.Lock()
					nodes = append(nodes, c)
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				busKillPubSub(t, nodes, d)
			},
		})
	}
	return servers
}

// busKillPubSub kills, with CLIENT KILL TYPE pubsub ADDR, the pub/sub
// connections that d dialed, on whichever of nodes has them.
func busKillPubSub(t *testing.T, nodes []goredis.UniversalClient, d *busGateDialer) {
	t.Helper()
	ctx := context.Background()
	killed := int64(0)
	for _, addr := range d.localAddrs() {
		for _, n := range nodes {
			k, err := n.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub", "ADDR", addr).Int64()
			if err != nil {
				t.Fatalf("CLIENT KILL TYPE pubsub ADDR %s: %v", addr, err)
			}
			killed += k
		}
	}
	if killed == 0 {
		t.Fatal("CLIENT KILL TYPE pubsub found no pub/sub connection of the bus")
	}
	t.Logf("CLIENT KILL TYPE pubsub: killed %d connection(s)", killed)
}

// busGateDialer dials TCP, keeps the connections, and can hold new dials.
// It counts the pongs its connections read: the answers to the pings of a
// quiet subscription.
type busGateDialer struct {
	mu      sync.Mutex
	conns   []net.Conn    // guarded by mu
	held    chan struct{} // guarded by mu: when not nil, dials wait until it is closed
	dialing chan struct{} // signalled when a dial waits
	pongs   atomic.Int64
}

func newBusGateDialer() *busGateDialer { return &busGateDialer{dialing: make(chan struct{}, 1)} }

func (d *busGateDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	held := d.held
	d.mu.Unlock()
	if held != nil {
		select {
		case d.dialing <- struct{}{}:
		default:
		}
		select {
		case <-held:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c = &busPongConn{Conn: c, pongs: &d.pongs}
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.mu.Unlock()
	return c, nil
}

// busPongConn counts the pongs read from its connection: RESP3's +PONG
// and RESP2's pong message alike.
type busPongConn struct {
	net.Conn
	pongs *atomic.Int64
	mu    sync.Mutex
	tail  []byte // guarded by mu: the end of the last read, for a pong cut in two
}

func (c *busPongConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		buf := bytes.ToLower(append(c.tail, p[:n]...))
		c.pongs.Add(int64(bytes.Count(buf, []byte("pong"))))
		c.tail = append(c.tail[:0], buf[max(0, len(buf)-3):]...) // too short to hold a whole pong
		c.mu.Unlock()
	}
	return n, err
}

func (d *busGateDialer) hold() {
	d.mu.Lock()
	d.held = make(chan struct{})
	d.mu.Unlock()
}

func (d *busGateDialer) release() {
	d.mu.Lock()
	close(d.held)
	d.held = nil
	d.mu.Unlock()
}

func (d *busGateDialer) localAddrs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var addrs []string
	for _, c := range d.conns {
		addrs = append(addrs, c.LocalAddr().String())
	}
	return addrs
}

func (d *busGateDialer) closeAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.Close()
	}
	d.conns = nil
}

// busTestLogger logs to t until the test ends.
func busTestLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(busTestWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type busTestWriter struct{ t *testing.T }

func (w busTestWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// busTestChannel is a channel of this test alone, so that runs sharing a
// real Redis do not hear each other.
func busTestChannel(t *testing.T) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "hoard:test:bus:" + t.Name() + ":" + hex.EncodeToString(b[:])
}

// newTestBus returns a bus on client, ready, and closes it when the test
// ends.
func newTestBus(t *testing.T, client goredis.UniversalClient, opts hoardredis.BusOptions) *hoardredis.Bus {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = busTestLogger(t)
	}
	b, err := hoardredis.NewBus(client, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), busWait)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), busWait)
	defer cancel()
	if err := b.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

// busRecorder keeps what a handler is given.
type busRecorder struct {
	mu     sync.Mutex
	events []hoard.Invalidation // guarded by mu
	calls  int                  // guarded by mu
	wake   chan struct{}
}

func newBusRecorder() *busRecorder { return &busRecorder{wake: make(chan struct{}, 1)} }

func (r *busRecorder) handle(events []hoard.Invalidation) {
	r.mu.Lock()
	r.events = append(r.events, events...)
	r.calls++
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *busRecorder) got() []hoard.Invalidation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// waitFor waits until the events received satisfy done, and returns them.
func (r *busRecorder) waitFor(t *testing.T, what string, done func([]hoard.Invalidation) bool) []hoard.Invalidation {
	t.Helper()
	deadline := time.NewTimer(busWait)
	defer deadline.Stop()
	for {
		if got := r.got(); done(got) {
			return got
		}
		select {
		case <-r.wake:
		case <-deadline.C:
			t.Fatalf("waited %v for %s; received %v", busWait, what, r.got())
		}
	}
}

// waitLen waits for n events.
func (r *busRecorder) waitLen(t *testing.T, n int) []hoard.Invalidation {
	t.Helper()
	return r.waitFor(t, fmt.Sprintf("%d events", n), func(got []hoard.Invalidation) bool { return len(got) >= n })
}

// waitValue waits for an event of value v.
func (r *busRecorder) waitValue(t *testing.T, v string) []hoard.Invalidation {
	t.Helper()
	return r.waitFor(t, "event "+v, func(got []hoard.Invalidation) bool {
		return slices.ContainsFunc(got, func(ev hoard.Invalidation) bool { return ev.Value == v })
	})
}

// eventually polls cond until it holds: for a state no channel tells of
// (a counter of another goroutine).
func busEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(busWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", busWait, what)
		}
		time.Sleep(time.Millisecond)
	}
}

var busFlush = hoard.Invalidation{Kind: hoard.InvalidateAll}

func busKey(v string) hoard.Invalidation {
	return hoard.Invalidation{Kind: hoard.InvalidateKey, Value: v}
}

func busPublish(t *testing.T, b *hoardredis.Bus, events ...hoard.Invalidation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), busWait)
	defer cancel()
	if err := b.Publish(ctx, events...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// busCheckNoSilentLoss checks that delivered tells of every event of
// published (distinct values, in the order published): each one arrives,
// in order, or an InvalidateAll arrives after the events delivered before
// it and before any delivered after it.
func busCheckNoSilentLoss(t *testing.T, published, delivered []hoard.Invalidation) {
	t.Helper()
	pos := make(map[string]int, len(published))
	for i, ev := range published {
		pos[ev.Value] = i
	}
	last, flushed := -1, false
	for _, ev := range delivered {
		if ev.Kind == hoard.InvalidateAll {
			flushed = true
			continue
		}
		i, ok := pos[ev.Value]
		switch {
		case !ok:
			t.Fatalf("delivered %v, never published", ev)
		case i <= last:
			t.Fatalf("delivered %v again or out of order", ev)
		case i > last+1 && !flushed:
			t.Fatalf("events %d..%d lost with no InvalidateAll before %v; delivered %v", last+1, i-1, ev, delivered)
		}
		last, flushed = i, false
	}
	if last < len(published)-1 && !flushed {
		t.Fatalf("events %d.. lost with no InvalidateAll after; delivered %v", last+1, delivered)
	}
}

func TestBusThreeInstances(t *testing.T) {
	for _, srv := range busServers(t) {
		t.Run(srv.name, func(t *testing.T) {
			ch := busTestChannel(t)
			a := newTestBus(t, srv.newClient(t, newBusGateDialer()), hoardredis.BusOptions{Channel: ch, InstanceID: "a"})
			b := newTestBus(t, srv.newClient(t, newBusGateDialer()), hoardredis.BusOptions{Channel: ch, InstanceID: "b"})
			c := newTestBus(t, srv.newClient(t, newBusGateDialer()), hoardredis.BusOptions{Channel: ch})
			ra, rb, rc := newBusRecorder(), newBusRecorder(), newBusRecorder()
			a.Subscribe(ra.handle)
			b.Subscribe(rb.handle)
			c.Subscribe(rc.handle)

			want := []hoard.Invalidation{
				busKey("product:42"),
				{Kind: hoard.InvalidatePrefix, Value: "product:"},
				{Kind: hoard.InvalidateTag, Value: "category:7"},
				{Kind: hoard.InvalidateNamespace, Value: "products"},
				busFlush,
				busKey("k1"), busKey("k2"), // one Publish of two events
			}
			for _, ev := range want[:5] {
				busPublish(t, a, ev)
			}
			busPublish(t, a, want[5:]...)
			for name, r := range map[string]*busRecorder{"b": rb, "c": rc} {
				if got := r.waitLen(t, len(want)); !slices.Equal(got, want) {
					t.Errorf("%s received %v, want %v", name, got, want)
				}
			}
			// b's event reaches a after a's own on the same connection:
			// once a has it, a has read (and ignored) all of its own.
			busPublish(t, b, busKey("from-b"))
			if got := ra.waitLen(t, 1); !slices.Equal(got, []hoard.Invalidation{busKey("from-b")}) {
				t.Errorf("a received %v, want only b's event", got)
			}
			rc.waitValue(t, "from-b")
			st := a.Stats()
			if st.Batches != 6 || st.Published != 7 || st.Received != 1 || st.Flushes != 0 {
				t.Errorf("a's stats %+v", st)
			}
			if st := c.Stats(); st.Received != 8 || st.Gaps != 0 || st.Flushes != 0 || st.Reconnects != 0 {
				t.Errorf("c's stats %+v", st)
			}
		})
	}
}

func TestBusLostMessagesOnReconnect(t *testing.T) {
	for _, srv := range busServers(t) {
		t.Run(srv.name, func(t *testing.T) {
			ch := busTestChannel(t)
			// A fake clock, so that "lost" is plainly sent before b
			// subscribes again (see below).
			clock := hoardtest.NewFakeClock(time.Now())
			a := newTestBus(t, srv.newClient(t, newBusGateDialer()), hoardredis.BusOptions{Channel: ch, InstanceID: "a", Clock: clock})
			dialer := newBusGateDialer()
			b := newTestBus(t, srv.newClient(t, dialer), hoardredis.BusOptions{Channel: ch, InstanceID: "b", Clock: clock})
			rb := newBusRecorder()
			b.Subscribe(rb.handle)

			busPublish(t, a, busKey("before"))
			rb.waitLen(t, 1)

			// Break b's subscription and keep it from coming back while a
			// publishes: that event is lost to b.
			dialer.hold()
			srv.kill(t, dialer)
			select {
			case <-dialer.dialing:
			case <-time.After(busWait):
				t.Fatal("b did not try to reconnect")
			}
			busPublish(t, a, busKey("lost"))
			// b's new subscription is younger than "lost" by a second,
			// not by the few microseconds of a release on a real clock:
			// "after" says how long before it "lost" was sent, and with
			// its own delivery delay that could make "lost" look sent
			// after the subscription (a gap: a second flush, the safe
			// side of the doubt, which TestBusStalledConnection allows).
			clock.Advance(time.Second)
			dialer.release()

			got := rb.waitLen(t, 2)
			if got[1] != busFlush {
				t.Fatalf("after the reconnect b received %v, want an InvalidateAll first", got)
			}
			busPublish(t, a, busKey("after"))
			got = rb.waitValue(t, "after")
			if want := []hoard.Invalidation{busKey("before"), busFlush, busKey("after")}; !slices.Equal(got, want) {
				t.Fatalf("b received %v, want %v", got, want)
			}
			if st := b.Stats(); st.Reconnects != 1 || st.Flushes != 1 || st.Gaps != 0 {
				t.Errorf("b's stats %+v", st)
			}
		})
	}
}

func TestBusPublishWhileRedisDown(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	newClient := func() *goredis.Client {
		c := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	// A fake clock, so that "b subscribed again after a's failed message"
	// does not hang on how fast this machine is.
	clock := hoardtest.NewFakeClock(time.Now())
	ch := busTestChannel(t)
	a := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch, InstanceID: "a", Clock: clock})
	b := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch, InstanceID: "b", Clock: clock})
	rb := newBusRecorder()
	b.Subscribe(rb.handle)
	busPublish(t, a, busKey("before"))
	rb.waitLen(t, 1)

	mr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), busWait)
	defer cancel()
	if err := a.Publish(ctx, busKey("fails")); !errors.Is(err, hoard.ErrUnavailable) {
		t.Fatalf("Publish with Redis down: %v, want ErrUnavailable", err)
	}
	clock.Advance(time.Second)
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	rb.waitLen(t, 2) // the flush of the reconnect
	busPublish(t, a, busKey("after"))
	// a's failed message used up a sequence number, but b's subscription
	// is younger than it: the reconnect's flush covers it, no second one.
	if got, want := rb.waitValue(t, "after"), []hoard.Invalidation{busKey("before"), busFlush, busKey("after")}; !slices.Equal(got, want) {
		t.Fatalf("b received %v, want %v", got, want)
	}
	if st := a.Stats(); st.PublishErrors != 1 {
		t.Errorf("a's stats %+v", st)
	}
}

// busMiniredisOrReal returns a client maker for the real Redis when it is set,
// else for a miniredis.
func busMiniredisOrReal(t *testing.T) (raw goredis.UniversalClient, newClient func() goredis.UniversalClient) {
	if addr := os.Getenv(redistest.EnvAddr); addr != "" {
		raw = redistest.Real(t)
		return raw, func() goredis.UniversalClient {
			c := goredis.NewClient(&goredis.Options{Addr: addr})
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
	}
	mr, raw := redistest.Miniredis(t)
	return raw, func() goredis.UniversalClient {
		c := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
}

func TestBusSequenceGap(t *testing.T) {
	raw, newClient := busMiniredisOrReal(t)
	ch := busTestChannel(t)
	a := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch, InstanceID: "a"})
	b := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch, InstanceID: "b"})
	rb := newBusRecorder()
	b.Subscribe(rb.handle)
	forge := func(sender string, seq, prevUS uint64, ev hoard.Invalidation) {
		t.Helper()
		if err := raw.Publish(context.Background(), ch, hoardredis.BusMessageForTest(sender, seq, prevUS, ev)).Err(); err != nil {
			t.Fatal(err)
		}
	}

	busPublish(t, a, busKey("1"))  // a's seq 1
	forge("a", 3, 0, busKey("3"))  // seq 2 went missing
	forge("a", 4, 0, busKey("4"))  // the next one: no gap
	forge("a", 4, 0, busKey("4'")) // a repeat: a restart of a, or a replay
	forge("c", 1, 0, busKey("c1")) // a new sender
	forge("d", 7, 0, busKey("d7")) // unknown, but its previous message was just now
	forge("a", 5, 0, busKey("5"))
	want := []hoard.Invalidation{busKey("1"), busFlush, busKey("3"), busKey("4"), busFlush, busKey("4'"), busKey("c1"), busFlush, busKey("d7"), busKey("5")}
	if got := rb.waitValue(t, "5"); !slices.Equal(got, want) {
		t.Fatalf("b received %v, want %v", got, want)
	}
	if st := b.Stats(); st.Gaps != 3 || st.Flushes != 3 || st.Received != 7 {
		t.Errorf("b's stats %+v", st)
	}

	// A message that does not decode may have been an invalidation.
	if err := raw.Publish(context.Background(), ch, "not a bus message").Err(); err != nil {
		t.Fatal(err)
	}
	forge("a", 6, 0, busKey("6"))
	if got := rb.waitValue(t, "6"); !slices.Equal(got[len(want):], []hoard.Invalidation{busFlush, busKey("6")}) {
		t.Fatalf("after a malformed message b received %v", got[len(want):])
	}
	if st := b.Stats(); st.Malformed != 1 || st.Flushes != 4 {
		t.Errorf("b's stats %+v", st)
	}
}

func TestBusSenderBookkeeping(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	newClient := func() goredis.UniversalClient {
		c := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	clock := hoardtest.NewFakeClock(time.Now())
	ch := busTestChannel(t)
	a := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch, InstanceID: "a", Clock: clock})
	busPublish(t, a, busKey("unheard")) // before b exists

	// b joins later: a's seq 2 is not a gap, its seq 1 predates b.
	clock.Advance(time.Minute)
	b := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch, InstanceID: "b", Clock: clock, SenderTTL: time.Hour})
	rb := newBusRecorder()
	b.Subscribe(rb.handle)
	busPublish(t, a, busKey("2"))
	if got := rb.waitLen(t, 1); !slices.Equal(got, []hoard.Invalidation{busKey("2")}) {
		t.Fatalf("b received %v, want a's second event and no flush", got)
	}

	// Quiet for longer than SenderTTL, a is forgotten; when it speaks
	// again b cannot tell what it missed, and flushes.
	clock.Advance(2 * time.Hour)
	busPublish(t, a, busKey("3"))
	if got := rb.waitLen(t, 2); !slices.Equal(got[1:], []hoard.Invalidation{busFlush, busKey("3")}) {
		t.Fatalf("b received %v, want a flush before a's third event", got)
	}
}

func TestBusHandlerOverload(t *testing.T) {
	_, newClient := busMiniredisOrReal(t)
	ch := busTestChannel(t)
	a := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch, InstanceID: "a"})
	b := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch, InstanceID: "b", HandlerQueueSize: 4})
	entered, gate := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release) // before b's Close, which waits for the handler
	var once sync.Once
	rb := newBusRecorder()
	b.Subscribe(func(events []hoard.Invalidation) {
		once.Do(func() { close(entered); <-gate }) // the first call is slow
		rb.handle(events)
	})

	const n = 50
	var published []hoard.Invalidation
	for i := range n {
		ev := busKey(fmt.Sprint(i))
		published = append(published, ev)
		busPublish(t, a, ev)
		if i == 0 {
			// The handler holds the first message alone: the other 49
			// pile up behind it, more than HandlerQueueSize.
			select {
			case <-entered:
			case <-time.After(busWait):
				t.Fatal("the handler was not called with the first event")
			}
		}
	}
	busEventually(t, "b to read every message", func() bool { return b.Stats().Received == n })
	release()
	// The handler is quick again, but what piled up while it was slow
	// still waits for it: a message that arrives before the dispatcher
	// has taken that backlog can find the queue full, and is dropped for
	// a flush (as it should be). Wait until the backlog is taken; from
	// then on nothing is dropped.
	busEventually(t, "the handler to catch up", func() bool { return b.HandlerBacklogForTest() == 0 })
	published = append(published, busKey("end"))
	busPublish(t, a, busKey("end"))
	got := rb.waitValue(t, "end")
	busCheckNoSilentLoss(t, published, got)
	if !slices.Contains(got, busFlush) {
		t.Fatalf("b received %v, want an InvalidateAll for what it dropped", got)
	}
	if st := b.Stats(); st.Dropped == 0 || st.Flushes == 0 {
		t.Errorf("b's stats %+v", st)
	}
	t.Logf("delivered %d of %d events, with %d flush(es); %+v", len(got)-busCountFlushes(got), n+1, busCountFlushes(got), b.Stats())
}

func busCountFlushes(events []hoard.Invalidation) int {
	n := 0
	for _, ev := range events {
		if ev.Kind == hoard.InvalidateAll {
			n++
		}
	}
	return n
}

// busPublishGate is a go-redis hook that holds every PUBLISH until released
// (or its ctx ends).
type busPublishGate struct {
	release chan struct{}
	held    chan struct{} // signalled when a PUBLISH waits
}

func newBusPublishGate() *busPublishGate {
	return &busPublishGate{release: make(chan struct{}), held: make(chan struct{}, 1)}
}

func (g *busPublishGate) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (g *busPublishGate) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func (g *busPublishGate) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if name := cmd.Name(); name == "publish" || name == "spublish" {
			select {
			case g.held <- struct{}{}:
			default:
			}
			select {
			case <-g.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return next(ctx, cmd)
	}
}

// busHoldAndQueue publishes events[0] and holds it at the gate, then queues
// one Publish call per other event behind it, and releases the gate unless
// release is false. It returns busPublishAll's wait.
func busHoldAndQueue(t *testing.T, ctx context.Context, b *hoardredis.Bus, gate *busPublishGate, events []hoard.Invalidation, release ...bool) (wait func() []error) {
	t.Helper()
	first := busPublishAll(ctx, b, events[:1])
	select {
	case <-gate.held:
	case <-time.After(busWait):
		t.Fatal("the first PUBLISH did not reach the gate")
	}
	rest := busPublishAll(ctx, b, events[1:])
	busEventually(t, "the other Publish calls to queue", func() bool { return b.QueuedPublishesForTest() == len(events)-1 })
	if len(release) == 0 || release[0] {
		close(gate.release)
	}
	return func() []error { return append(first(), rest()...) }
}

// busPublishAll starts one Publish per event, each in its own goroutine, and
// returns a function that waits for their errors.
func busPublishAll(ctx context.Context, b *hoardredis.Bus, events []hoard.Invalidation) (wait func() []error) {
	errs := make([]error, len(events))
	var wg sync.WaitGroup
	for i, ev := range events {
		wg.Go(func() { errs[i] = b.Publish(ctx, ev) })
	}
	return func() []error { wg.Wait(); return errs }
}

func TestBusBatching(t *testing.T) {
	_, newClient := busMiniredisOrReal(t)
	ch := busTestChannel(t)
	ac := newClient()
	gate := newBusPublishGate()
	ac.AddHook(gate)
	a := newTestBus(t, ac, hoardredis.BusOptions{Channel: ch, InstanceID: "a", MaxBatch: 40})
	b := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch, InstanceID: "b"})
	rb := newBusRecorder()
	b.Subscribe(rb.handle)

	// While the first message is on the wire (held), the other 99 Publish
	// calls queue; then they go in messages of at most MaxBatch events.
	const n = 100
	var events []hoard.Invalidation
	for i := range n {
		events = append(events, busKey(fmt.Sprint(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), busWait)
	defer cancel()
	wait := busHoldAndQueue(t, ctx, a, gate, events)
	for _, err := range wait() {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := rb.waitLen(t, n)
	if !busSameValues(got, events) {
		t.Fatalf("b received %v, want the %d events", got, n)
	}
	if st := a.Stats(); st.Batches != 4 || st.Published != n { // 1 + 40 + 40 + 19
		t.Errorf("a's stats %+v, want 4 messages", st)
	}

	// One Publish of more than MaxBatch events: several messages, in order.
	busPublish(t, a, events[:90]...)
	got = rb.waitLen(t, n+90)
	if !slices.Equal(got[n:], events[:90]) {
		t.Fatalf("b received %v, want events 0..89 in order", got[n:])
	}
	if st := a.Stats(); st.Batches != 7 {
		t.Errorf("a's stats %+v, want 3 more messages", st)
	}
}

func busSameValues(a, b []hoard.Invalidation) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	cmp := func(x, y hoard.Invalidation) int { return strings.Compare(x.Value, y.Value) }
	slices.SortFunc(a, cmp)
	slices.SortFunc(b, cmp)
	return slices.Equal(a, b)
}

func TestBusCloseSendsPending(t *testing.T) {
	_, newClient := busMiniredisOrReal(t)
	ch := busTestChannel(t)
	ac := newClient()
	gate := newBusPublishGate()
	ac.AddHook(gate)
	a, err := hoardredis.NewBus(ac, &hoardredis.BusOptions{Channel: ch, InstanceID: "a", Logger: busTestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	b := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch, InstanceID: "b"})
	rb := newBusRecorder()
	b.Subscribe(rb.handle)

	events := []hoard.Invalidation{busKey("1"), busKey("2"), busKey("3"), busKey("4"), busKey("5")}
	ctx, cancel := context.WithTimeout(context.Background(), busWait)
	defer cancel()
	if err := a.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	wait := busHoldAndQueue(t, ctx, a, gate, events, false)
	closed := make(chan error, 1)
	go func() { closed <- a.Close(ctx) }()
	close(gate.release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, err := range wait() {
		if err != nil {
			t.Fatalf("a Publish queued before Close: %v", err)
		}
	}
	if got := rb.waitLen(t, len(events)); !busSameValues(got, events) {
		t.Fatalf("b received %v, want %v", got, events)
	}
	if err := a.Publish(ctx, busKey("late")); !errors.Is(err, hoard.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
	if err := a.Ready(ctx); err != nil {
		t.Fatalf("Ready after Close of a bus that was ready: %v", err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBusCloseTimeout(t *testing.T) {
	_, newClient := busMiniredisOrReal(t)
	ac := newClient()
	gate := newBusPublishGate() // never released
	ac.AddHook(gate)
	a, err := hoardredis.NewBus(ac, &hoardredis.BusOptions{Channel: busTestChannel(t), Logger: busTestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), busWait)
	defer cancel()
	wait := busHoldAndQueue(t, ctx, a, gate, []hoard.Invalidation{busKey("1"), busKey("2"), busKey("3")}, false)

	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	err = a.Close(short)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close past its ctx: %v", err)
	}
	// Nothing is dropped silently: every Publish that could not send says so.
	for _, err := range wait() {
		if !errors.Is(err, hoard.ErrClosed) && !errors.Is(err, context.Canceled) {
			t.Errorf("Publish cut off by Close: %v, want an error", err)
		}
	}
	if err := a.Close(ctx); err != nil {
		t.Fatalf("Close again, to wait: %v", err)
	}
}

func TestBusUnsubscribe(t *testing.T) {
	_, newClient := busMiniredisOrReal(t)
	ch := busTestChannel(t)
	a := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch})
	b := newTestBus(t, newClient(), hoardredis.BusOptions{Channel: ch})
	r1, r2 := newBusRecorder(), newBusRecorder()
	unsubscribe := b.Subscribe(r1.handle)
	b.Subscribe(r2.handle)
	b.Subscribe(nil)()

	busPublish(t, a, busKey("1"))
	r1.waitLen(t, 1)
	r2.waitLen(t, 1)
	unsubscribe()
	unsubscribe() // again: nothing
	busPublish(t, a, busKey("2"))
	r2.waitLen(t, 2)
	if got := r1.got(); !slices.Equal(got, []hoard.Invalidation{busKey("1")}) {
		t.Fatalf("unsubscribed handler received %v", got)
	}
}

func TestBusOptions(t *testing.T) {
	_, client := redistest.Miniredis(t)
	for name, opts := range map[string]hoardredis.BusOptions{
		"long InstanceID":     {InstanceID: strings.Repeat("i", 256)},
		"negative MaxBatch":   {MaxBatch: -1},
		"huge MaxBatch":       {MaxBatch: 1<<16 + 1},
		"negative window":     {BatchWindow: -time.Millisecond},
		"negative QueueSize":  {QueueSize: -1},
		"negative handlers":   {HandlerQueueSize: -1},
		"short PingInterval":  {PingInterval: time.Millisecond},
		"negative MaxSenders": {MaxSenders: -1},
		"negative SenderTTL":  {SenderTTL: -time.Second},
	} {
		if _, err := hoardredis.NewBus(client, &opts); !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("%s: error %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := hoardredis.NewBus(nil, nil); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("nil client: error %v, want ErrInvalidOption", err)
	}
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	if _, err := hoardredis.NewBus(ring, nil); !errors.Is(err, hoard.ErrInvalidOption) {
		t.Errorf("Ring: error %v, want ErrInvalidOption", err)
	}

	b, err := hoardredis.NewBus(client, nil) // the defaults
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	if b.Channel() != "hoard:invalidation" || len(b.InstanceID()) != 32 {
		t.Errorf("defaults: channel %q, instance id %q", b.Channel(), b.InstanceID())
	}
	ctx := context.Background()
	for _, ev := range []hoard.Invalidation{{Kind: 0}, {Kind: hoard.InvalidateAll, Value: "x"}} {
		if err := b.Publish(ctx, ev); !errors.Is(err, hoard.ErrInvalidOption) {
			t.Errorf("Publish(%+v): %v, want ErrInvalidOption", ev, err)
		}
	}
	if err := b.Publish(ctx, busKey(strings.Repeat("k", 64<<10+1))); !errors.Is(err, hoard.ErrTooLarge) {
		t.Errorf("Publish of a long key: %v, want ErrTooLarge", err)
	}
	if err := b.Publish(ctx); err != nil {
		t.Errorf("Publish of nothing: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Publish(cancelled, busKey("k")); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled ctx: %v", err)
	}
}

// busStallProxy forwards TCP connections to upstream and can stall them: it
// holds every byte while the connections stay open, as a link to a peer
// that vanished without closing (a half-open connection) does.
type busStallProxy struct {
	ln       net.Listener
	upstream string
	accepted chan struct{} // signalled for each connection accepted
	wg       sync.WaitGroup

	mu      sync.Mutex
	stalled chan struct{} // guarded by mu: while not nil, bytes wait until it is closed
	conns   []net.Conn    // guarded by mu
}

func newBusStallProxy(t *testing.T, upstream string) *busStallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &busStallProxy{ln: ln, upstream: upstream, accepted: make(chan struct{}, 16)}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		p.resume()
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *busStallProxy) addr() string { return p.ln.Addr().String() }

func (p *busStallProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(up, c) })
		p.wg.Go(func() { p.pipe(c, up) })
		select {
		case p.accepted <- struct{}{}:
		default:
		}
	}
}

func (p *busStallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			stalled := p.stalled
			p.mu.Unlock()
			if stalled != nil {
				<-stalled
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *busStallProxy) stall() {
	p.mu.Lock()
	p.stalled = make(chan struct{})
	p.mu.Unlock()
}

func (p *busStallProxy) resume() {
	p.mu.Lock()
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
	p.mu.Unlock()
}

// A connection that stops answering without closing is found by the pings
// of a quiet subscription, and replaced; the flush follows.
func TestBusStalledConnection(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	proxy := newBusStallProxy(t, mr.Addr())
	ch := busTestChannel(t)
	dialer := newBusGateDialer()
	ac := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	bc := goredis.NewClient(&goredis.Options{Addr: proxy.addr(), Dialer: dialer.dial})
	t.Cleanup(func() { _, _ = ac.Close(), bc.Close() })
	a := newTestBus(t, ac, hoardredis.BusOptions{Channel: ch, InstanceID: "a"})
	// A pong later than this counts as a dead connection: room for a
	// loaded machine, where a goroutine can wait tens of milliseconds
	// for a core.
	const ping = 200 * time.Millisecond
	b := newTestBus(t, bc, hoardredis.BusOptions{Channel: ch, InstanceID: "b", PingInterval: ping})
	rb := newBusRecorder()
	b.Subscribe(rb.handle)
	<-proxy.accepted

	// Quiet, but answering pings: the subscription stays.
	busEventually(t, "b to ping twice and hear the answers", func() bool { return dialer.pongs.Load() >= 2 })
	busPublish(t, a, busKey("before"))
	rb.waitLen(t, 1)
	if st := b.Stats(); st.Reconnects != 0 {
		t.Fatalf("a quiet connection was replaced: %+v", st)
	}

	proxy.stall()
	select {
	case <-proxy.accepted: // b gave up on the stalled connection and dials again
	case <-time.After(busWait):
		t.Fatal("b did not notice its connection stalled")
	}
	busPublish(t, a, busKey("lost")) // b's new SUBSCRIBE is held in the proxy
	proxy.resume()
	rb.waitLen(t, 2)
	busPublish(t, a, busKey("after"))
	// The flush of the new subscription may be followed by a second one:
	// "after" says how long before it "lost" was sent, and on a loaded
	// machine its own delivery delay can make "lost" look sent after the
	// subscription was confirmed (then it should have arrived: a gap). An
	// extra flush is the safe side of that doubt.
	got := slices.Compact(rb.waitValue(t, "after"))
	if want := []hoard.Invalidation{busKey("before"), busFlush, busKey("after")}; !slices.Equal(got, want) {
		t.Fatalf("b received %v (repeated flushes merged), want %v", got, want)
	}
}

// A quiet subscription pings Redis and keeps its connection while the
// answers come (RESP3 on a real Redis answers a PING in subscribed mode
// with a plain PONG, RESP2 and miniredis with a pong message).
func TestBusQuietSubscription(t *testing.T) {
	for _, srv := range busServers(t) {
		t.Run(srv.name, func(t *testing.T) {
			ch := busTestChannel(t)
			// A pong later than this counts as a dead connection: room
			// for a loaded machine, where a goroutine can wait tens of
			// milliseconds for a core.
			const ping = 200 * time.Millisecond
			a := newTestBus(t, srv.newClient(t, newBusGateDialer()), hoardredis.BusOptions{Channel: ch, InstanceID: "a"})
			dialer := newBusGateDialer()
			b := newTestBus(t, srv.newClient(t, dialer), hoardredis.BusOptions{Channel: ch, InstanceID: "b", PingInterval: ping})
			rb := newBusRecorder()
			b.Subscribe(rb.handle)
			// Quiet for two pings, each answered: what is tested here.
			busEventually(t, "b to ping twice and hear the answers", func() bool { return dialer.pongs.Load() >= 2 })
			busPublish(t, a, busKey("k"))
			if got := rb.waitLen(t, 1); !slices.Equal(got, []hoard.Invalidation{busKey("k")}) {
				t.Fatalf("b received %v", got)
			}
			if st := b.Stats(); st.Reconnects != 0 || st.Flushes != 0 {
				t.Fatalf("a quiet subscription was replaced: %+v", st)
			}
		})
	}
}
