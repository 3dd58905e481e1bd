package hoardredis

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// A bus whose subscription is down receives nothing, and the memory tiers
// it serves keep what other instances invalidate meanwhile. The flush that
// comes with the next subscription ends that, but the next subscription
// may be long in coming: a Cluster master that served the channel's slot
// died, and its replica took over where the bus does not look yet. So the
// outage watch flushes every MaxStaleness while the subscription stays
// down (see BusOptions.MaxStaleness), and tells the subscriber to try
// again at once when the channel's node answers.

// link is what the subscriber tells the outage watch.
type link struct {
	heard atomic.Int64  // time.Now().UnixNano() when the subscription last heard from Redis
	up    atomic.Bool   // a subscription is confirmed and has not failed since
	down  chan struct{} // capacity 1: a subscription that was up failed
	kick  chan struct{} // capacity 1: the channel's node answers; subscribe again now
}

func newLink() link {
	return link{down: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
}

// hear records that the subscription heard from Redis.
func (l *link) hear() { l.heard.Store(time.Now().UnixNano()) }

// lost records that the subscription failed, and wakes the watch if it was
// up.
func (l *link) lost() {
	if l.up.Swap(false) {
		signal(l.down)
	}
}

// signal wakes whoever waits on c (capacity 1), unless it is awake already.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// outageLoop watches each outage of the subscription until ctx ends.
func (b *Bus) outageLoop(ctx context.Context) {
	defer close(b.outDone)
	if b.opts.MaxStaleness < 0 {
		return
	}
	for {
		select {
		case <-b.link.down:
			b.watchOutage(ctx)
		case <-ctx.Done():
			return
		}
	}
}

// watchOutage flushes the memory tiers every MaxStaleness while the
// subscription stays down, counted from when it last heard from Redis,
// each time the channel's node answers, and then kicks the subscriber. It
// returns when the subscription is up again or ctx ends.
func (b *Bus) watchOutage(ctx context.Context) {
	bound := b.opts.MaxStaleness
	level := slog.LevelWarn // the first flush of the outage; the next ones are debug
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		if b.link.up.Load() {
			return
		}
		heard := time.Unix(0, b.link.heard.Load())
		if wait := time.Until(heard.Add(bound)); wait > 0 {
			timer.Reset(wait)
			continue
		}
		if b.channelAnswers(ctx) && !b.link.up.Load() {
			b.stats.outageFlushes.Add(1)
			b.opts.Logger.Log(ctx, level, "hoard: redis bus: subscription down for longer than MaxStaleness; flushing",
				"channel", b.opts.Channel, "down_for", time.Since(heard).Round(time.Millisecond), "max_staleness", bound)
			level = slog.LevelDebug
			b.inbox.push(true, nil)
			signal(b.link.kick)
		}
		timer.Reset(bound)
	}
}

// channelAnswers reports whether the node that serves the channel answers
// a command of the bus's client within MaxStaleness: EXISTS of the
// channel's name, which a Cluster sends to the channel's slot. An error
// reply (an ACL that forbids the key, say) is an answer too.
func (b *Bus) channelAnswers(ctx context.Context) bool {
	b.stats.probes.Add(1)
	ctx, cancel := context.WithTimeout(ctx, b.opts.MaxStaleness)
	defer cancel()
	err := b.client.Exists(ctx, b.opts.Channel).Err()
	var reply goredis.Error
	return err == nil || errors.As(err, &reply)
}
