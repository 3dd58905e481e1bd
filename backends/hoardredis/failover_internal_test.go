package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// movingCluster is a "cluster" of one slot range served by one miniredis
// at a time: the ClusterClient learns who serves it from ClusterSlots,
// which it calls whenever it reloads its slot map, as it would ask
// CLUSTER SLOTS. Moving the range to another server and closing the first
// is a failover: the old master gone, its replica serving its slots.
type movingCluster struct {
	owner  atomic.Pointer[string]
	loads  atomic.Int64 // slot maps loaded
	client *goredis.ClusterClient
}

func newMovingCluster(t *testing.T, first *miniredis.Miniredis) *movingCluster {
	m := newMovingClusterNoCleanup(first)
	t.Cleanup(func() { _ = m.client.Close() })
	return m
}

// newMovingClusterNoCleanup is newMovingCluster whose client the caller
// closes.
func newMovingClusterNoCleanup(first *miniredis.Miniredis) *movingCluster {
	m := &movingCluster{}
	m.moveTo(first)
	m.client = goredis.NewClusterClient(&goredis.ClusterOptions{
		ClusterSlots: func(context.Context) ([]goredis.ClusterSlot, error) {
			m.loads.Add(1)
			return []goredis.ClusterSlot{{Start: 0, End: slotCount - 1, Nodes: []goredis.ClusterNode{{Addr: *m.owner.Load()}}}}, nil
		},
		ContextTimeoutEnabled: true,
	})
	return m
}

func (m *movingCluster) moveTo(s *miniredis.Miniredis) {
	addr := s.Addr()
	m.owner.Store(&addr)
}

// A master dies and another node serves its slots: the cache's writes
// reach the new one within seconds, not at go-redis's periodic reload of
// the slot map (60s), because the failed writes make the client reload it.
func TestClusterWritesFollowFailover(t *testing.T) {
	oldMaster, replica := miniredis.RunT(t), miniredis.RunT(t)
	mc := newMovingCluster(t, oldMaster)
	c, err := New[string](mc.client, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	set := func() error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return c.Set(ctx, "k", hoard.Entry[string]{Value: "v", ExpiresAt: time.Now().Add(time.Minute)})
	}
	if err := set(); err != nil {
		t.Fatal(err)
	}
	oldMaster.Close()
	mc.moveTo(replica)
	start := time.Now()
	failed := 0
	for err := set(); err != nil; err = set() {
		failed++
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("writes still fail %v after the failover (%d failed; slot maps loaded %d): %v", d, failed, mc.loads.Load(), err)
		}
	}
	if got, err := replica.Get("k"); err != nil || got == "" {
		t.Fatalf("the new master holds %q, %v", got, err)
	}
	t.Logf("writes reached the new master %v after the failover (%d failed first); slot maps loaded %d",
		time.Since(start).Round(time.Millisecond), failed, mc.loads.Load())
}

// The hook goes on a client once, however many caches, buses, lockers and
// queues use it, and one failing command asks for one reload at most.
func TestFollowFailoverOncePerClient(t *testing.T) {
	mr := miniredis.RunT(t)
	plain := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	defer plain.Close()
	if r := followFailover(plain); r != nil {
		t.Fatalf("a plain client got a reloader: %v", r)
	}
	var none *slotReloader
	none.reload() // a nil reloader does nothing

	mc := newMovingCluster(t, mr)
	r1 := followFailover(mc.client)
	if _, err := NewLocker(mc.client, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := New[int](mc.client, nil); err != nil {
		t.Fatal(err)
	}
	if r2 := followFailover(mc.client); r1 == nil || r1 != r2 {
		t.Fatalf("two reloaders for one client: %p, %p", r1, r2)
	}
	ctx := context.Background()
	mr.SetError("BUSY Redis is busy") // an error reply that says nothing of slots
	_ = mc.client.Get(ctx, "k").Err()
	mr.SetError("")
	if n := r1.reloads.Load(); n != 0 {
		t.Errorf("a BUSY reply asked for %d reloads", n)
	}
	mr.SetError("CLUSTERDOWN The cluster is down")
	_ = mc.client.Get(ctx, "k").Err()
	_ = mc.client.Get(ctx, "k").Err() // within reloadEvery (unless this machine stalls for as long)
	mr.SetError("")
	if n := r1.reloads.Load(); n < 1 || n > 2 {
		t.Errorf("two CLUSTERDOWN replies asked for %d reloads, want 1 (2 if %v passed between them)", n, reloadEvery)
	}
}

// The registry of reloaders holds its clients weakly: a client hoard was
// given, and that is gone, leaves no entry behind. (A client that has
// sent commands is kept by go-redis itself for a while after its Close,
// so the client here sends none.)
func TestFollowFailoverForgetsClientsGone(t *testing.T) {
	mr := miniredis.RunT(t)
	wp := func() weak.Pointer[goredis.ClusterClient] {
		mc := newMovingClusterNoCleanup(mr)
		defer mc.client.Close()
		if _, err := New[int](mc.client, nil); err != nil {
			t.Fatal(err)
		}
		return weak.Make(mc.client)
	}()
	if _, ok := reloaders.Load(wp); !ok {
		t.Fatal("New registered no reloader")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		if _, ok := reloaders.Load(wp); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the reloader of a client gone is still registered")
		}
	}
}

func TestMayBeStaleSlots(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{io.EOF, true},
		{fmt.Errorf("wrapped: %w", io.ErrUnexpectedEOF), true},
		{context.DeadlineExceeded, true},
		{replyError("CLUSTERDOWN Hash slot not served"), true},
		{replyError("MOVED 3999 127.0.0.1:6381"), true},
		{replyError("ASK 3999 127.0.0.1:6381"), true},
		{replyError("MASTERDOWN Link with MASTER is down"), true},
		{replyError("READONLY You can't write against a read only replica."), true},
		{replyError("NOPERM this user has no permissions"), false},
		{replyError("MOVEDX not a redirect"), false},
		{goredis.Nil, false},
		{context.Canceled, false},
		{goredis.ErrClosed, false},
		{goredis.ErrPoolTimeout, false},
		{errors.New("hoard: something else"), false},
	} {
		if got := mayBeStaleSlots(c.err); got != c.want {
			t.Errorf("mayBeStaleSlots(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// replyError is an error reply, as go-redis returns one (a goredis.Error).
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}
