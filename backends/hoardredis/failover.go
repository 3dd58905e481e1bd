package hoardredis

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	goredis "github.com/redis/go-redis/v9"
)

// Following a Cluster failover.
//
// go-redis's ClusterClient (v9.23) routes a slot to the master its slot
// map names, and reloads the map after a MOVED or ASK, or every
// ClusterStateReloadInterval (60s by default). A master that dies answers
// no MOVED: until the periodic reload, every command for its slots is
// sent to the dead address and fails, long after its replica took over
// (go-redis issue #3979). The bus's sharded subscription is made on that
// address too. So hoard asks the client to reload its map when a command
// fails in a way that says the map may be wrong: a connection that cannot
// be made or broke, a timeout, or a CLUSTERDOWN, MOVED, ASK, MASTERDOWN or
// READONLY reply. Before the promotion the reload finds the same map; the
// failures go on, and so do the reloads, so the first one after the
// promotion finds the new master.

// reloadEvery is the least time between two reloads one client is asked
// for. go-redis runs each reload in the background and coalesces those
// asked for while one runs.
const reloadEvery = 250 * time.Millisecond

// slotReloader asks one ClusterClient to reload its slot map, at most
// every reloadEvery. It is the client's hook (goredis.Hook), installed
// once per client by followFailover. It holds the client weakly: the
// registry of reloaders must not keep a client alive.
type slotReloader struct {
	client  weak.Pointer[goredis.ClusterClient]
	last    atomic.Int64  // time.Now().UnixNano() of the last reload asked
	reloads atomic.Uint64 // reloads asked
}

// reloaders holds the slotReloader of each ClusterClient hoard was given,
// so the hook is added once however many caches, buses, lockers and queues
// share a client. An entry goes with its client (runtime.AddCleanup).
var reloaders sync.Map // weak.Pointer[goredis.ClusterClient] → *slotReloader

// followFailover installs, once per client, the hook that makes a
// *goredis.ClusterClient reload its slot map after a failure that may
// come from a failover (see above), and returns the client's reloader.
// For any other client it returns nil, whose methods do nothing. The hook
// stays on the client for its life, and serves its other commands too.
func followFailover(client goredis.UniversalClient) *slotReloader {
	cc, ok := client.(*goredis.ClusterClient)
	if !ok || cc == nil {
		return nil
	}
	wp := weak.Make(cc)
	if r, ok := reloaders.Load(wp); ok {
		return r.(*slotReloader)
	}
	r := &slotReloader{client: wp}
	if prev, loaded := reloaders.LoadOrStore(wp, r); loaded {
		return prev.(*slotReloader)
	}
	cc.AddHook(r)
	runtime.AddCleanup(cc, func(wp weak.Pointer[goredis.ClusterClient]) { reloaders.Delete(wp) }, wp)
	return r
}

// reload asks the client to reload its slot map, unless it was asked less
// than reloadEvery ago.
func (r *slotReloader) reload() {
	if r == nil {
		return
	}
	now, last := time.Now().UnixNano(), r.last.Load()
	if d := now - last; d >= 0 && d < int64(reloadEvery) {
		return // a wall clock set back lets one through
	}
	if !r.last.CompareAndSwap(last, now) {
		return // another caller asked just now
	}
	if c := r.client.Value(); c != nil {
		r.reloads.Add(1)
		c.ReloadState(context.Background()) // in the background: it does not wait
	}
}

// DialHook leaves dials alone: a ClusterClient's own dial hook is not
// called; its nodes dial.
func (r *slotReloader) DialHook(next goredis.DialHook) goredis.DialHook { return next }

// ProcessHook asks for a reload after a command failed as a failover makes
// commands fail.
func (r *slotReloader) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && mayBeStaleSlots(err) {
			r.reload()
		}
		return err
	}
}

// ProcessPipelineHook is ProcessHook for pipelines and transactions:
// one failed command of the pipeline is enough.
func (r *slotReloader) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		if err == nil {
			return nil
		}
		if mayBeStaleSlots(err) {
			r.reload()
			return err
		}
		for _, cmd := range cmds {
			if e := cmd.Err(); e != nil && mayBeStaleSlots(e) {
				r.reload()
				break
			}
		}
		return err
	}
}

// staleSlotReplies are the error replies that say the slot is not served
// where the client sent it, or not at all yet: a failover is under way or
// just over.
var staleSlotReplies = []string{"CLUSTERDOWN", "MOVED", "ASK", "MASTERDOWN", "READONLY"}

// mayBeStaleSlots reports whether a command's error may mean that the
// client's slot map is out of date: a connection error (as isConnErr, but
// not a pool exhausted here or a client closed), a deadline that passed
// (a dead node behind a network that drops packets shows as one), or one
// of staleSlotReplies.
func mayBeStaleSlots(err error) bool {
	switch {
	case errors.Is(err, goredis.Nil), errors.Is(err, context.Canceled), errors.Is(err, goredis.ErrClosed),
		errors.Is(err, goredis.ErrPoolTimeout), errors.Is(err, goredis.ErrPoolExhausted):
		return false
	case errors.Is(err, context.DeadlineExceeded), isConnErr(err):
		return true
	}
	var reply goredis.Error
	if !errors.As(err, &reply) {
		return false
	}
	msg := reply.Error()
	for _, p := range staleSlotReplies {
		if strings.HasPrefix(msg, p+" ") || msg == p {
			return true
		}
	}
	return false
}
