package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// trackingChannel is where Redis sends the invalidations of a RESP2
// client that redirects them (to itself, here).
const trackingChannel = "__redis__:invalidate"

// Backoff between tracking connections that failed before confirming.
const (
	trackerBackoffMin = 50 * time.Millisecond
	trackerBackoffMax = time.Second
)

// trackNode is the tracking of one master.
type trackNode struct {
	addr      string
	cancel    context.CancelFunc
	confirmed chan struct{} // closed at the first confirmed subscription
	once      sync.Once
	done      chan struct{} // closed when the node's loop returned
}

func (n *trackNode) confirm() { n.once.Do(func() { close(n.confirmed) }) }

// topologyLoop keeps one trackNode per master until ctx ends: once for a
// single server, every RefreshInterval and on a kick for a Cluster.
func (t *Tracker) topologyLoop(ctx context.Context) {
	defer close(t.done)
	nodes := map[string]*trackNode{}
	defer func() {
		for _, n := range nodes {
			n.cancel()
		}
		for _, n := range nodes {
			<-n.done
		}
	}()
	_, cluster := t.client.(*goredis.ClusterClient)
	reloader := followFailover(t.client)
	first := true
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-t.kick:
			if !cluster {
				continue
			}
		case <-ctx.Done():
			return
		}
		masters, err := t.masters(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			t.opts.Logger.Warn("hoard: redis tracker: cannot list the masters", "prefix", t.opts.Prefix, "err", err)
			reloader.reload()
			timer.Reset(t.opts.RefreshInterval)
			continue
		}
		for addr, o := range masters {
			if nodes[addr] == nil {
				nctx, cancel := context.WithCancel(ctx)
				n := &trackNode{addr: addr, cancel: cancel, confirmed: make(chan struct{}), done: make(chan struct{})}
				nodes[addr] = n
				go t.runNode(nctx, n, o)
			}
		}
		for addr, n := range nodes {
			if _, ok := masters[addr]; !ok {
				n.cancel()
				<-n.done
				delete(nodes, addr)
			}
		}
		t.stats.nodes.Store(uint64(len(nodes)))
		if first {
			first = false
			waitFor := make([]*trackNode, 0, len(nodes))
			for _, n := range nodes {
				waitFor = append(waitFor, n)
			}
			go t.readyWhen(ctx, waitFor)
		}
		if cluster {
			timer.Reset(t.opts.RefreshInterval)
		}
	}
}

// readyWhen closes t.ready once each of nodes confirmed tracking (or was
// dropped, its master gone).
func (t *Tracker) readyWhen(ctx context.Context, nodes []*trackNode) {
	for _, n := range nodes {
		select {
		case <-n.confirmed:
		case <-n.done:
		case <-ctx.Done():
			return
		}
	}
	close(t.ready)
}

// masters returns the options of a client for each master, by address.
func (t *Tracker) masters(ctx context.Context) (map[string]*goredis.Options, error) {
	prefix := t.opts.Prefix
	switch c := t.client.(type) {
	case *goredis.Client:
		o := trackingOptions(c.Options(), "", prefix)
		return map[string]*goredis.Options{o.Addr: o}, nil
	case *goredis.ClusterClient:
		shards, err := c.ClusterShards(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("hoard: redis tracker: CLUSTER SHARDS (Redis 7 or later): %w", err)
		}
		node, err := c.MasterForKey(ctx, prefix)
		if err != nil {
			return nil, fmt.Errorf("hoard: redis tracker: a master's options: %w", err)
		}
		base := node.Options()
		out := map[string]*goredis.Options{}
		for _, sh := range shards {
			if len(sh.Slots) == 0 {
				continue // a master that serves no slot holds no key
			}
			for _, n := range sh.Nodes {
				if n.Role != "master" || n.Health == "fail" {
					continue
				}
				host := n.Endpoint
				if host == "" || host == "?" {
					host = n.IP
				}
				port := n.Port
				if port == 0 {
					port = n.TLSPort
				}
				addr := net.JoinHostPort(host, strconv.FormatInt(port, 10))
				out[addr] = trackingOptions(base, addr, prefix)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("hoard: redis tracker: unsupported client %T", t.client)
}

// trackingOptions derives, from a node's options, those of a client of
// one connection that turns tracking on as it connects: RESP2, redirected
// to itself, broadcast for prefix. addr, when set, replaces the address.
func trackingOptions(base *goredis.Options, addr, prefix string) *goredis.Options {
	o := *base
	if addr != "" {
		o.Addr = addr
	}
	o.Protocol = 2
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns = 1, 0, 0, 0
	o.PushNotificationProcessor = nil
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	o.ClientSideCacheConfig, o.ClientSideCache = nil, nil
	o.ClientSideCacheRefreshOnInvalidate, o.ClientSideCacheCoalesceMisses = false, false
	o.AutoPipelineOptions = nil
	userOnConnect := base.OnConnect
	o.OnConnect = func(ctx context.Context, cn *goredis.Conn) error {
		if userOnConnect != nil {
			if err := userOnConnect(ctx, cn); err != nil {
				return err
			}
		}
		id, err := cn.ClientID(ctx).Result()
		if err != nil {
			return fmt.Errorf("hoard: redis tracker: CLIENT ID: %w", err)
		}
		if err := cn.Do(ctx, "CLIENT", "TRACKING", "on", "REDIRECT", id, "BCAST", "PREFIX", prefix).Err(); err != nil {
			return fmt.Errorf("hoard: redis tracker: CLIENT TRACKING: %w", err)
		}
		return nil
	}
	return &o
}

// runNode tracks one master until ctx ends: a session after another. A
// confirmed session that ends flushes (from then on writes go unreported,
// until the next session's confirmation flushes again). Attempts that fail
// before confirming back off, and flush only when Redis answered with a
// refusal: a Redis that cannot be reached leaves the memory tiers serving.
func (t *Tracker) runNode(ctx context.Context, n *trackNode, o *goredis.Options) {
	defer close(n.done)
	reloader := followFailover(t.client)
	backoff := trackerBackoffMin
	level := slog.LevelWarn // the first failed attempt of a run; the next ones are debug
	for {
		confirmed, err := t.session(ctx, n, o)
		if ctx.Err() != nil {
			return
		}
		signal(t.kick)
		reloader.reload()
		if confirmed {
			t.stats.lost.Add(1)
			t.flush()
			t.opts.Logger.Warn("hoard: redis tracker: tracking connection lost; memory tiers flushed",
				"prefix", t.opts.Prefix, "addr", n.addr, "err", err)
			backoff, level = trackerBackoffMin, slog.LevelWarn
			continue
		}
		var reply goredis.Error
		if errors.As(err, &reply) {
			// Redis answers, and refuses (an ACL, a server without
			// tracking): others may be writing it while this tracker is
			// blind, as the bus flushes while its channel's node answers.
			t.flush()
		}
		t.opts.Logger.Log(ctx, level, "hoard: redis tracker: cannot track; trying again",
			"prefix", t.opts.Prefix, "addr", n.addr, "err", err, "backoff", backoff)
		level = slog.LevelDebug
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, trackerBackoffMax)
	}
}

// session makes one tracking connection to n and reads it until it fails
// or ctx ends. It reports whether the subscription was confirmed, and why
// it ended.
func (t *Tracker) session(ctx context.Context, n *trackNode, o *goredis.Options) (confirmed bool, _ error) {
	c := goredis.NewClient(o)
	defer func() { _ = c.Close() }()
	ps := c.Subscribe(ctx, trackingChannel)
	defer func() { _ = ps.Close() }()
	// A read waits for the socket, not for ctx: closing ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, t.opts.PingInterval)
		if err != nil {
			var ne net.Error
			if !pinged && errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
				pinged = true
				if err = ps.Ping(ctx); err == nil {
					continue
				}
			}
			return confirmed, err
		}
		pinged = false
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" && m.Channel == trackingChannel {
				// Writes made before the subscription took effect were not
				// reported: forget what they may have changed.
				confirmed = true
				t.stats.connects.Add(1)
				t.flush()
				n.confirm()
			}
		case *goredis.Message:
			switch {
			case m.Channel != trackingChannel:
			case m.PayloadSlice == nil:
				t.flush() // not a list of keys: whatever changed is unknown
			default:
				t.keys(m.PayloadSlice)
			}
		}
	}
}
