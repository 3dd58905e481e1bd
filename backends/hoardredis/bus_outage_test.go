package hoardredis_test

import (
	"bytes"
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// subRefuser dials TCP and, while refusing, closes any connection that
// sends a SUBSCRIBE: the bus cannot subscribe, while the same client's
// other commands reach Redis, as when the pub/sub connection alone is cut
// (a proxy in between, a Cluster node that left the channel's slot).
type subRefuser struct {
	mu       sync.Mutex
	refusing bool       // guarded by mu
	subs     []net.Conn // guarded by mu: connections that subscribed
	refused  int        // guarded by mu: SUBSCRIBEs refused
}

func (r *subRefuser) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &subConn{Conn: c, r: r}, nil
}

// cut closes the subscriptions and refuses new ones until heal.
func (r *subRefuser) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refusing = true
	for _, c := range r.subs {
		_ = c.Close()
	}
	r.subs = nil
}

func (r *subRefuser) refusals() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

func (r *subRefuser) heal() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refusing = false
}

type subConn struct {
	net.Conn
	r *subRefuser
}

func (c *subConn) Write(p []byte) (int, error) {
	if bytes.Contains(bytes.ToLower(p), []byte("subscribe")) {
		c.r.mu.Lock()
		refusing := c.r.refusing
		if refusing {
			c.r.refused++
		} else {
			c.r.subs = append(c.r.subs, c.Conn)
		}
		c.r.mu.Unlock()
		if refusing {
			_ = c.Conn.Close()
			return 0, net.ErrClosed
		}
	}
	return c.Conn.Write(p)
}

// A subscription that cannot be made again while Redis answers the bus's
// other commands: the bus flushes once it has been down for MaxStaleness,
// and again every MaxStaleness while it stays down, so a memory tier
// never keeps what it missed for longer; then the new subscription
// flushes too, and delivers.
func TestBusFlushesWhileSubscriptionDown(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	ch := busTestChannel(t)
	ac := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	refuser := &subRefuser{}
	bc := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), Dialer: refuser.dial})
	t.Cleanup(func() { _, _ = ac.Close(), bc.Close() })
	a := newTestBus(t, ac, hoardredis.BusOptions{Channel: ch, InstanceID: "a"})
	const bound = 100 * time.Millisecond
	b := newTestBus(t, bc, hoardredis.BusOptions{Channel: ch, InstanceID: "b", MaxStaleness: bound})
	rb := newBusRecorder()
	b.Subscribe(rb.handle)
	busPublish(t, a, busKey("before"))
	rb.waitLen(t, 1)

	refuser.cut()
	cutAt := time.Now()
	rb.waitFor(t, "a flush while the subscription is down", func(got []hoard.Invalidation) bool {
		return slices.Contains(got, busFlush)
	})
	if d := time.Since(cutAt); d < bound {
		t.Errorf("flushed %v after the cut, before MaxStaleness %v", d, bound)
	}
	busPublish(t, a, busKey("lost")) // b cannot hear it
	busEventually(t, "a second flush while the subscription stays down", func() bool { return b.Stats().OutageFlushes >= 2 })
	if st := b.Stats(); st.Reconnects != 0 {
		t.Fatalf("b subscribed again while refused: %+v", st)
	}

	refuser.heal()
	busEventually(t, "b to subscribe again", func() bool { return b.Stats().Reconnects == 1 })
	busPublish(t, a, busKey("after"))
	got := slices.Compact(rb.waitValue(t, "after"))
	if want := []hoard.Invalidation{busKey("before"), busFlush, busKey("after")}; !slices.Equal(got, want) {
		t.Fatalf("b received %v (repeated flushes merged), want %v", got, want)
	}
	t.Logf("b's stats %+v", b.Stats())
}

// While Redis cannot be reached at all, no instance can publish through
// it, and the bus keeps the memory tiers it serves: it asks whether the
// channel's node answers every MaxStaleness, and flushes only when it
// does, or when it subscribes again.
func TestBusKeepsMemoryWhileRedisUnreachable(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	ch := busTestChannel(t)
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })
	b := newTestBus(t, client, hoardredis.BusOptions{Channel: ch, InstanceID: "b", MaxStaleness: 20 * time.Millisecond})
	rb := newBusRecorder()
	b.Subscribe(rb.handle)

	mr.Close()
	busEventually(t, "three probes of the unreachable node", func() bool { return b.OutageProbesForTest() >= 3 })
	if st, got := b.Stats(), rb.got(); st.OutageFlushes != 0 || len(got) != 0 {
		t.Fatalf("with Redis unreachable the bus flushed: %+v, delivered %v", st, got)
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	rb.waitFor(t, "a flush once Redis is back", func(got []hoard.Invalidation) bool { return slices.Contains(got, busFlush) })
	busEventually(t, "b to subscribe again", func() bool { return b.Stats().Reconnects == 1 })
}

// A SUBSCRIBE that fails once its connection is made (the connection
// reset as it is sent) is a failed subscription, tried again: go-redis's
// PubSub would otherwise reconnect without subscribing, and the bus would
// hear nothing from then on, its pings answered.
func TestBusResubscribesAfterRefusedSubscribe(t *testing.T) {
	mr, _ := redistest.Miniredis(t)
	ch := busTestChannel(t)
	ac := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	refuser := &subRefuser{}
	bc := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), Dialer: refuser.dial})
	t.Cleanup(func() { _, _ = ac.Close(), bc.Close() })
	a := newTestBus(t, ac, hoardredis.BusOptions{Channel: ch, InstanceID: "a"})
	// No outage flushes, and no kick of the subscriber with them.
	b := newTestBus(t, bc, hoardredis.BusOptions{Channel: ch, InstanceID: "b", MaxStaleness: -1})
	rb := newBusRecorder()
	b.Subscribe(rb.handle)
	refuser.cut()
	busEventually(t, "a refused SUBSCRIBE", func() bool { return refuser.refusals() >= 1 })
	refuser.heal()
	busEventually(t, "b to subscribe again", func() bool { return b.Stats().Reconnects == 1 })
	busPublish(t, a, busKey("after"))
	if got := rb.waitValue(t, "after"); !slices.Equal(got, []hoard.Invalidation{busFlush, busKey("after")}) {
		t.Fatalf("b received %v", got)
	}
}

// MaxStaleness below 10ms is refused; negative turns the outage flushes
// off.
func TestBusMaxStalenessOption(t *testing.T) {
	_, client := redistest.Miniredis(t)
	if _, err := hoardredis.NewBus(client, &hoardredis.BusOptions{MaxStaleness: time.Millisecond}); err == nil {
		t.Fatal("MaxStaleness 1ms accepted")
	}
	mr, _ := redistest.Miniredis(t)
	refuser := &subRefuser{}
	bc := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), Dialer: refuser.dial})
	t.Cleanup(func() { _ = bc.Close() })
	b := newTestBus(t, bc, hoardredis.BusOptions{Channel: busTestChannel(t), MaxStaleness: -1})
	refuser.cut()
	// Eight tries back off for 1.27s in all: longer than the default
	// MaxStaleness.
	busEventually(t, "b to try subscribing 8 times", func() bool { return refuser.refusals() >= 8 })
	if st := b.Stats(); st.OutageFlushes != 0 || st.Flushes != 0 || b.OutageProbesForTest() != 0 {
		t.Fatalf("MaxStaleness -1 flushed or probed: %+v, %d probes", st, b.OutageProbesForTest())
	}
}
