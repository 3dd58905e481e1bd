package hoardredis

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hoard-cache/hoard"
)

// busTargetBytes is the size past which the publisher starts a new message,
// so a burst of long keys does not make one message of megabytes (Redis
// disconnects a subscriber whose output buffer grows too large).
const busTargetBytes = 64 << 10

// publishReq is one Publish call waiting for the publisher.
type publishReq struct {
	events []hoard.Invalidation
	done   chan error // capacity 1: the publisher's answer
}

// Publish sends events to every other instance on the bus and returns once
// Redis has accepted the message that carries them (it has then handed it
// to every subscriber connected), or with the error that prevented it: a
// Publish that returns nil was not dropped. Events published together
// arrive together, in order. Publish waits for room in the queue and for
// the publisher; when ctx ends first it returns an error wrapping
// ctx.Err(), and the events may still be sent. An event of an unknown kind,
// or an InvalidateAll with a Value, is refused with an error wrapping
// hoard.ErrInvalidOption; a Value over 64 KiB with hoard.ErrTooLarge.
func (b *Bus) Publish(ctx context.Context, events ...hoard.Invalidation) error {
	if len(events) == 0 {
		return nil
	}
	if err := checkBusEvents(events); err != nil {
		return err
	}
	select {
	case <-b.closing:
		return b.errClosed()
	default:
	}
	if err := ctx.Err(); err != nil {
		return b.errCtx(err)
	}
	// The publisher reads events after Publish may have returned (ctx
	// ended): it gets its own copy.
	r := &publishReq{events: slices.Clone(events), done: make(chan error, 1)}
	select {
	case b.reqs <- r:
	case <-b.closing:
		return b.errClosed()
	case <-ctx.Done():
		return b.errCtx(ctx.Err())
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return b.errCtx(ctx.Err())
	case <-b.pubDone:
		select {
		case err := <-r.done:
			return err
		default:
			return b.errClosed() // queued after the publisher's last look
		}
	}
}

func (b *Bus) errClosed() error {
	return fmt.Errorf("%w: redis bus %q", hoard.ErrClosed, b.opts.Channel)
}

func (b *Bus) errCtx(err error) error {
	return fmt.Errorf("hoard: redis bus %q: publish: %w", b.opts.Channel, err)
}

// publisher is the state of the publish loop, owned by its goroutine.
type publisher struct {
	b      *Bus
	seq    uint64    // number of the last message sent (or tried)
	prevAt time.Time // when it was sent
	buf    []byte    // the message being sent
	batch  []*publishReq
	events []hoard.Invalidation // the events of the message being built
	last   []int                // per request of batch: the message of its last event
}

// publishLoop sends what Publish queues, batching what accumulated, until
// Close: then it sends what is queued and returns, or returns when ctx
// ends.
func (b *Bus) publishLoop(ctx context.Context) {
	defer close(b.pubDone)
	p := &publisher{b: b}
	for {
		var first *publishReq
		select {
		case first = <-b.reqs:
		case <-ctx.Done():
			return
		case <-b.closing:
			select {
			case first = <-b.reqs:
			default:
				return
			}
		}
		p.batch = append(p.batch[:0], first)
		p.gather(ctx, len(first.events))
		p.send(ctx)
		clear(p.batch)
	}
}

// gather adds to p.batch the requests queued meanwhile, up to MaxBatch
// events, waiting BatchWindow for more when it is set.
func (p *publisher) gather(ctx context.Context, n int) {
	o := &p.b.opts
	for n < o.MaxBatch {
		select {
		case r := <-p.b.reqs:
			p.batch = append(p.batch, r)
			n += len(r.events)
			continue
		default:
		}
		break
	}
	if o.BatchWindow <= 0 || n >= o.MaxBatch {
		return
	}
	timer := time.NewTimer(o.BatchWindow)
	defer timer.Stop()
	for n < o.MaxBatch {
		select {
		case r := <-p.b.reqs:
			p.batch = append(p.batch, r)
			n += len(r.events)
		case <-timer.C:
			return
		case <-p.b.closing:
			return
		case <-ctx.Done():
			return
		}
	}
}

// send publishes the events of p.batch, in messages of at most MaxBatch
// events and about busTargetBytes, and answers each request: nil when
// every message holding its events was accepted, else the first error.
// After an error it sends nothing more of the batch.
func (p *publisher) send(ctx context.Context) {
	p.events = p.events[:0]
	p.last = p.last[:0]
	sent := 0 // messages accepted
	var err error
	size := 0
	flush := func() bool {
		if err = p.publish(ctx, p.events); err != nil {
			return false
		}
		sent++
		clear(p.events)
		p.events, size = p.events[:0], 0
		return true
	}
outer:
	for _, r := range p.batch {
		for _, ev := range r.events {
			if len(p.events) == p.b.opts.MaxBatch || len(p.events) > 0 && size+busEventSize(ev) > busTargetBytes {
				if !flush() {
					break outer
				}
			}
			p.events = append(p.events, ev)
			size += busEventSize(ev)
		}
		p.last = append(p.last, sent) // the message now being built
	}
	if err == nil && len(p.events) > 0 {
		flush()
	}
	for i, r := range p.batch {
		if err == nil || i < len(p.last) && p.last[i] < sent {
			r.done <- nil
		} else {
			r.done <- err
		}
	}
}

// publish sends one message. Its sequence number is used up even when
// PUBLISH fails: the message may have reached some subscribers, and the
// others flush when they see the next number.
func (p *publisher) publish(ctx context.Context, events []hoard.Invalidation) error {
	b := p.b
	p.seq++
	now := b.opts.Clock.Now()
	h := busHeader{sender: b.opts.InstanceID, seq: p.seq}
	if p.seq > 1 {
		h.prevUS = microseconds(now.Sub(p.prevAt))
	}
	p.prevAt = now
	p.buf = appendBusMessage(p.buf[:0], &h, events)
	var err error
	if b.sharded {
		err = b.client.SPublish(ctx, b.opts.Channel, p.buf).Err()
	} else {
		err = b.client.Publish(ctx, b.opts.Channel, p.buf).Err()
	}
	if cap(p.buf) > 4*busTargetBytes {
		p.buf = nil // do not keep a rare huge message's buffer
	}
	if err != nil {
		b.stats.publishErrors.Add(1)
		err = wrapErr("publish", b.opts.Channel, err)
		b.opts.Logger.Warn("hoard: redis bus: publish failed", "channel", b.opts.Channel, "seq", h.seq, "events", len(events), "err", err)
		return err
	}
	b.stats.batches.Add(1)
	b.stats.published.Add(uint64(len(events)))
	return nil
}
