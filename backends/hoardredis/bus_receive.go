package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Backoff between subscription attempts after the first retry, which is
// immediate; see retryCap for the longest wait.
const (
	busMinBackoff = 10 * time.Millisecond
	busMaxBackoff = 2 * time.Second
)

// retryCap is the longest wait between two subscription attempts:
// busMaxBackoff, or a quarter of MaxStaleness when that is shorter. While
// the subscription is down this instance hears no invalidation, and once
// Redis answers again the other instances write and publish again: each
// attempt that waits out a long backoff then is time in which this
// instance's memory tiers serve what they changed. Attempts against a
// server that refuses connections are cheap; the outage watch also kicks
// the subscriber as soon as its probe is answered, but it probes only
// every MaxStaleness.
func (b *Bus) retryCap() time.Duration {
	if s := b.opts.MaxStaleness; s > 0 {
		return min(busMaxBackoff, max(s/4, busMinBackoff))
	}
	return busMaxBackoff
}

// receiver is the state of the subscriber, owned by its goroutine.
type receiver struct {
	b *Bus
	// senders holds the last sequence number of each sender heard during
	// the current subscription.
	senders map[string]sender
	// since is when the current subscription was confirmed: a sender's
	// message sent after it reaches us unless the subscription breaks.
	since     time.Time
	lastSweep time.Time
	// lost is set when the subscription broke: the next confirmation
	// flushes.
	lost      bool
	confirmed bool // a subscription was confirmed once (ready is closed)
}

type sender struct {
	seq   uint64
	heard time.Time
}

// subscribeLoop keeps the bus subscribed until ctx ends: each round makes
// a PubSub and reads it until it fails, which a confirmation of the next
// one answers with a flush.
//
// Why a new PubSub each time: go-redis's PubSub reconnects and subscribes
// again on its own, and reports the failure that made it do so as a
// Receive error; the bus could keep using it, and does watch for a second
// confirmation on one PubSub (a reconnect go-redis did without reporting
// an error). But a Cluster node that loses the channel's slot ends the
// subscription with an SUNSUBSCRIBE instead, and only a new PubSub finds
// the new owner. Making a new one for every failure is one path for all.
func (b *Bus) subscribeLoop(ctx context.Context) {
	defer close(b.subDone)
	r := &receiver{b: b, senders: make(map[string]sender)}
	var backoff time.Duration
	for {
		ps := b.openPubSub(ctx)
		if ps == nil {
			return
		}
		confirmed := false
		err := b.subscribe(ctx, ps)
		if err == nil {
			confirmed, err = r.session(ctx, ps)
		}
		b.link.lost()
		b.reloader.reload() // on a Cluster the channel's slot may have moved
		b.psMu.Lock()
		if b.ps == ps {
			b.ps = nil
		}
		b.psMu.Unlock()
		_ = ps.Close()
		if ctx.Err() != nil {
			return
		}
		if confirmed {
			backoff = 0
		}
		// Warn once per outage; the retries that fail after it are debug.
		level := slog.LevelDebug
		if !r.lost {
			level = slog.LevelWarn
		}
		r.lost = true
		b.opts.Logger.Log(ctx, level, "hoard: redis bus: subscription lost; subscribing again (the memory tier will be flushed)",
			"channel", b.opts.Channel, "retry_in", backoff, "err", err)
		if backoff > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-b.link.kick: // the channel's node answers: try now
				t.Stop()
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		backoff = min(max(2*backoff, busMinBackoff), b.retryCap())
	}
}

// openPubSub returns a new PubSub, not subscribed yet, or nil once Close
// has begun.
func (b *Bus) openPubSub(ctx context.Context) *goredis.PubSub {
	b.psMu.Lock()
	defer b.psMu.Unlock()
	if b.psClosed || ctx.Err() != nil {
		return nil
	}
	if b.sharded {
		b.ps = b.client.SSubscribe(ctx)
	} else {
		b.ps = b.client.Subscribe(ctx)
	}
	return b.ps
}

// subscribe sends ps's SUBSCRIBE (SSUBSCRIBE on a Cluster); the
// confirmation comes through Receive. Not the client's Subscribe(ctx,
// channel), which drops the error: a PubSub whose first SUBSCRIBE fails
// after its connection was made reconnects without subscribing (go-redis
// v9.23), and a session on it would hear nothing while its pings are
// answered.
func (b *Bus) subscribe(ctx context.Context, ps *goredis.PubSub) error {
	if b.sharded {
		return ps.SSubscribe(ctx, b.opts.Channel)
	}
	return ps.Subscribe(ctx, b.opts.Channel)
}

// session reads ps until it fails, and returns the failure and whether the
// subscription was confirmed meanwhile.
func (r *receiver) session(ctx context.Context, ps *goredis.PubSub) (confirmed bool, err error) {
	b := r.b
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, b.opts.PingInterval)
		if err != nil {
			if ctx.Err() != nil {
				return confirmed, ctx.Err()
			}
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
				if !confirmed {
					// A subscription is confirmed at once, or not at all.
					return false, fmt.Errorf("the subscription was not confirmed in %v", b.opts.PingInterval)
				}
				// Quiet for PingInterval: ask Redis whether the
				// connection still works; no answer for as long again
				// means it does not.
				if pinged {
					return confirmed, fmt.Errorf("no answer to a ping in %v", b.opts.PingInterval)
				}
				if err := ps.Ping(ctx); err != nil {
					return confirmed, err
				}
				pinged = true
				continue
			}
			return confirmed, err
		}
		b.link.hear()
		pinged = false
		switch m := msg.(type) {
		case *goredis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				if confirmed {
					// go-redis reconnected and subscribed again without
					// telling: whatever was published meanwhile is lost.
					r.lost = true
				}
				confirmed = true
				r.subscribed()
			default:
				// The server ended the subscription: a Cluster shard
				// that no longer owns the channel's slot does so.
				return confirmed, fmt.Errorf("redis ended the subscription (%s %s)", m.Kind, m.Channel)
			}
		case *goredis.Message:
			r.message(m.Payload)
		}
	}
}

// subscribed starts a confirmed subscription: from now on every message
// arrives. It flushes when one before was lost (or a first attempt
// failed): what was published meanwhile is not coming.
func (r *receiver) subscribed() {
	b := r.b
	r.since = b.opts.Clock.Now()
	b.link.up.Store(true)
	// The flush below covers whatever the senders sent before now: start
	// their accounts afresh rather than flush again at their next number.
	clear(r.senders)
	if r.lost {
		r.lost = false
		b.stats.reconnects.Add(1)
		b.opts.Logger.Info("hoard: redis bus: subscribed again; flushing", "channel", b.opts.Channel)
		b.inbox.push(true, nil)
	}
	if !r.confirmed {
		r.confirmed = true
		close(b.ready)
	}
}

// message handles one received message.
func (r *receiver) message(payload string) {
	b := r.b
	h, rest, err := decodeBusHeader(payload)
	if err != nil {
		r.malformed(err, "")
		return
	}
	if h.sender == b.opts.InstanceID {
		return // our own
	}
	events, evErr := decodeBusEvents(rest)
	gap := r.track(&h)
	if evErr != nil {
		r.malformed(evErr, h.sender)
		return
	}
	b.stats.received.Add(uint64(len(events)))
	if gap {
		b.stats.gaps.Add(1)
		b.opts.Logger.Warn("hoard: redis bus: messages lost (sequence gap); flushing",
			"channel", b.opts.Channel, "sender", h.sender, "seq", h.seq)
	}
	b.inbox.push(gap, events)
}

// malformed flushes for a message that does not decode: it may have been
// an invalidation (from a newer version of hoard, say).
func (r *receiver) malformed(err error, from string) {
	b := r.b
	b.stats.malformed.Add(1)
	b.opts.Logger.Warn("hoard: redis bus: malformed message; flushing", "channel", b.opts.Channel, "sender", from, "err", err)
	b.inbox.push(true, nil)
}

// track records h's sequence number and reports whether messages of its
// sender were missed:
//
//   - from a known sender, any number but the next one (a repeat is a
//     sender restarted with a fixed InstanceID, or a replay: flush too);
//   - from an unknown sender, a number above 1 whose previous message
//     (h.prevUS ago) was sent after this subscription was confirmed: it
//     should have arrived, or was heard and forgotten. Sent before, it is
//     a sender that was already talking when this bus subscribed.
func (r *receiver) track(h *busHeader) bool {
	b := r.b
	now := b.opts.Clock.Now()
	r.sweep(now)
	gap := false
	if s, ok := r.senders[h.sender]; ok {
		gap = h.seq != s.seq+1
		r.senders[h.sender] = sender{seq: h.seq, heard: now}
		return gap
	}
	if h.seq > 1 {
		prevAt := time.Time{} // so long ago that it does not fit a Duration
		if h.prevUS <= uint64(1<<63-1)/uint64(time.Microsecond) {
			prevAt = now.Add(-time.Duration(h.prevUS) * time.Microsecond)
		}
		gap = !prevAt.Before(r.since)
	}
	if len(r.senders) >= b.opts.MaxSenders {
		r.forgetStalest()
	}
	r.senders[strings.Clone(h.sender)] = sender{seq: h.seq, heard: now}
	return gap
}

// sweep forgets the senders not heard from for SenderTTL, looking at most
// every SenderTTL/4.
func (r *receiver) sweep(now time.Time) {
	ttl := r.b.opts.SenderTTL
	if now.Sub(r.lastSweep) < ttl/4 {
		return
	}
	r.lastSweep = now
	for id, s := range r.senders {
		if now.Sub(s.heard) > ttl {
			delete(r.senders, id)
		}
	}
}

func (r *receiver) forgetStalest() {
	var stalest string
	var at time.Time
	for id, s := range r.senders {
		if stalest == "" || s.heard.Before(at) {
			stalest, at = id, s.heard
		}
	}
	delete(r.senders, stalest)
}
