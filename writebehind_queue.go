package hoard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// ErrQueueFull reports a write-behind queue at its bound: [WriteBehind.Put]
// with [FullError] returns it at once; with [FullBlock] it is joined with
// ctx's error when the wait for room ends.
var ErrQueueFull = errors.New("hoard: write-behind queue full")

// WriteQueue holds the writes of a [WriteBehind] between Put and the store.
// Two implement it: [MemoryQueue] (fast, lost with the process) and
// [github.com/hoard-cache/hoard/backends/hoardredis.StreamQueue]
// (a Redis Stream with a consumer group, durable).
//
// A write goes through three states: queued (enqueued, not yet taken),
// taken (handed to a worker by Take, not yet acknowledged) and
// acknowledged (Ack: the store has it; the queue forgets it). Queued and
// taken writes count towards the queue's bound. A taken write that is never
// acknowledged (its process died) is not lost: a durable queue hands it
// out again; the memory queue loses it with the process.
//
// Implementations are safe for concurrent use. A WriteBehind owns the
// queue it is given and closes it in [WriteBehind.Close].
type WriteQueue[V any] interface {
	// Enqueue adds w. When the queue holds its bound of unacknowledged
	// writes it waits for room until ctx ends if wait is true, and
	// returns an error wrapping [ErrQueueFull] (joined with ctx's error
	// when it waited) otherwise. A nil error means the queue has w: it
	// will be handed out until it is acknowledged.
	Enqueue(ctx context.Context, w Write[V], wait bool) error

	// Take waits until at least one write is ready, then returns up to
	// limit of them, oldest first. It returns ctx's error when ctx ends
	// before any is ready. Writes it returns are taken even if ctx has
	// ended meanwhile.
	Take(ctx context.Context, limit int) ([]QueuedWrite[V], error)

	// Ack acknowledges taken writes: the store committed them (or a
	// dead-letter handler took them). The queue forgets them and frees
	// their room.
	Ack(ctx context.Context, ws []QueuedWrite[V]) error

	// Mark returns the position of the newest write enqueued so far (by
	// any process sharing the queue), for WaitAcked. It is opaque.
	Mark(ctx context.Context) (string, error)

	// WaitAcked waits until every write enqueued at or before mark is
	// acknowledged, or ctx ends.
	WaitAcked(ctx context.Context, mark string) error

	// Stats returns the queue's depth and the age of its oldest write.
	Stats(ctx context.Context) (QueueStats, error)

	// Close stops the queue's own goroutines, if any, and makes further
	// calls fail with [ErrClosed]. Writes not yet acknowledged stay in a
	// durable queue and are lost with a memory one.
	Close(ctx context.Context) error
}

// QueuedWrite is a write handed out by [WriteQueue.Take].
type QueuedWrite[V any] struct {
	Write[V]

	// EnqueuedAt is when the write was enqueued, by the clock of the
	// machine that enqueued it.
	EnqueuedAt time.Time

	// Receipt identifies the write to the queue for Ack: a stream entry
	// ID, a sequence number. It is opaque.
	Receipt string

	// Err, when not nil, says the queue could not read the write back (a
	// stream entry that does not decode; it wraps [ErrCorrupt]). Write
	// holds what could be read. WriteBehind hands such a write to its
	// dead-letter handler and acknowledges it.
	Err error
}

// QueueStats is a snapshot of a [WriteQueue].
type QueueStats struct {
	// Depth is the number of writes enqueued and not yet acknowledged:
	// queued or taken.
	Depth int64
	// Oldest is when the oldest of them was enqueued; the zero time when
	// Depth is 0.
	Oldest time.Time
}

// Lag returns how long the oldest unacknowledged write has waited at now:
// the write-behind's lag behind its callers. 0 when the queue is empty.
func (s QueueStats) Lag(now time.Time) time.Duration {
	if s.Oldest.IsZero() {
		return 0
	}
	return max(now.Sub(s.Oldest), 0)
}

// defaultMemoryQueueLen bounds a [MemoryQueue] made with length 0.
const defaultMemoryQueueLen = 10_000

// MemoryQueue is a bounded [WriteQueue] in process memory. It is fast, and
// it is lost with the process: writes that were enqueued (Put returned)
// but not yet stored are gone if the process dies or [WriteBehind.Close]
// gives up. Use a [github.com/hoard-cache/hoard/backends/hoardredis.StreamQueue]
// when acknowledged writes must survive a crash.
type MemoryQueue[V any] struct {
	maxLen int

	mu      sync.Mutex     // guards the fields below
	queued  []memQueued[V] // enqueued, not taken; oldest first
	taken   []memTaken     // taken, in order of seq, acknowledged or not
	unacked int            // writes queued or taken and not acknowledged
	nextSeq uint64         // the seq of the next write enqueued; starts at 1
	closed  bool           // Close was called
	ready   chan struct{}  // closed and replaced when writes are queued (or Close)
	acked   chan struct{}  // closed and replaced when writes are acknowledged (or Close)
}

type memQueued[V any] struct {
	w   Write[V]
	seq uint64
	at  time.Time
}

// memTaken is a taken write: its seq, its enqueue time, and whether it has
// been acknowledged. Taken writes are kept in seq order until every write
// before them is acknowledged.
type memTaken struct {
	seq   uint64
	at    time.Time
	acked bool
}

var _ WriteQueue[int] = (*MemoryQueue[int])(nil)

// NewMemoryQueue returns a memory queue holding at most maxLen
// unacknowledged writes; 0 means 10_000.
func NewMemoryQueue[V any](maxLen int) (*MemoryQueue[V], error) {
	if maxLen < 0 {
		return nil, fmt.Errorf("%w: memory queue: length %d is negative", ErrInvalidOption, maxLen)
	}
	if maxLen == 0 {
		maxLen = defaultMemoryQueueLen
	}
	return &MemoryQueue[V]{maxLen: maxLen, nextSeq: 1, ready: make(chan struct{}), acked: make(chan struct{})}, nil
}

// Enqueue adds w; see [WriteQueue.Enqueue].
func (q *MemoryQueue[V]) Enqueue(ctx context.Context, w Write[V], wait bool) error {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return fmt.Errorf("%w: memory queue", ErrClosed)
		}
		if q.unacked < q.maxLen {
			q.queued = append(q.queued, memQueued[V]{w: w, seq: q.nextSeq, at: time.Now()})
			q.nextSeq++
			q.unacked++
			close(q.ready)
			q.ready = make(chan struct{})
			q.mu.Unlock()
			return nil
		}
		acked := q.acked
		q.mu.Unlock()
		if !wait {
			return fmt.Errorf("%w: %d writes not yet stored", ErrQueueFull, q.maxLen)
		}
		select {
		case <-acked:
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%w: %d writes not yet stored", ErrQueueFull, q.maxLen), context.Cause(ctx))
		}
	}
}

// Take returns up to limit queued writes; see [WriteQueue.Take].
func (q *MemoryQueue[V]) Take(ctx context.Context, limit int) ([]QueuedWrite[V], error) {
	limit = max(limit, 1)
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, fmt.Errorf("%w: memory queue", ErrClosed)
		}
		if n := min(limit, len(q.queued)); n > 0 {
			out := make([]QueuedWrite[V], n)
			for i, e := range q.queued[:n] {
				out[i] = QueuedWrite[V]{Write: e.w, EnqueuedAt: e.at, Receipt: strconv.FormatUint(e.seq, 10)}
				q.taken = append(q.taken, memTaken{seq: e.seq, at: e.at})
			}
			clear(q.queued[:n]) // let the values be collected
			q.queued = q.queued[n:]
			q.mu.Unlock()
			return out, nil
		}
		ready := q.ready
		q.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// Ack acknowledges taken writes; see [WriteQueue.Ack]. Receipts it does not
// know (acknowledged already, or from another queue) are ignored.
func (q *MemoryQueue[V]) Ack(_ context.Context, ws []QueuedWrite[V]) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, w := range ws {
		seq, err := strconv.ParseUint(w.Receipt, 10, 64)
		if err != nil {
			continue
		}
		i, found := slices.BinarySearchFunc(q.taken, seq, func(t memTaken, seq uint64) int {
			switch {
			case t.seq < seq:
				return -1
			case t.seq > seq:
				return 1
			}
			return 0
		})
		if found && !q.taken[i].acked {
			q.taken[i].acked = true
			n++
		}
	}
	// Forget the acknowledged writes at the front: the first one left is
	// the oldest taken write not yet acknowledged.
	front := 0
	for front < len(q.taken) && q.taken[front].acked {
		front++
	}
	q.taken = q.taken[front:]
	if n > 0 {
		q.unacked -= n
	}
	if n > 0 && !q.closed {
		close(q.acked)
		q.acked = make(chan struct{})
	}
	return nil
}

// oldestUnacked returns the seq and enqueue time of the oldest write not
// yet acknowledged, or ok false when there is none. q.mu must be held.
func (q *MemoryQueue[V]) oldestUnacked() (seq uint64, at time.Time, ok bool) {
	for _, t := range q.taken {
		if !t.acked {
			return t.seq, t.at, true
		}
	}
	if len(q.queued) > 0 {
		return q.queued[0].seq, q.queued[0].at, true
	}
	return 0, time.Time{}, false
}

// Mark returns the position of the newest write enqueued so far.
func (q *MemoryQueue[V]) Mark(context.Context) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return strconv.FormatUint(q.nextSeq-1, 10), nil
}

// WaitAcked waits until every write up to mark is acknowledged; see
// [WriteQueue.WaitAcked].
func (q *MemoryQueue[V]) WaitAcked(ctx context.Context, mark string) error {
	m, err := strconv.ParseUint(mark, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: memory queue: mark %q is not one of mine", ErrInvalidOption, mark)
	}
	for {
		q.mu.Lock()
		seq, _, ok := q.oldestUnacked()
		if !ok || seq > m {
			q.mu.Unlock()
			return nil
		}
		if q.closed {
			q.mu.Unlock()
			return fmt.Errorf("%w: memory queue: writes up to %d not stored", ErrClosed, m)
		}
		acked := q.acked
		q.mu.Unlock()
		select {
		case <-acked:
		case <-ctx.Done():
			return fmt.Errorf("hoard: memory queue: waiting for writes up to %d: %w", m, context.Cause(ctx))
		}
	}
}

// Stats returns the depth and the oldest write's enqueue time.
func (q *MemoryQueue[V]) Stats(context.Context) (QueueStats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := QueueStats{Depth: int64(q.unacked)}
	if _, at, ok := q.oldestUnacked(); ok {
		s.Oldest = at
	}
	return s, nil
}

// Close makes every call fail with [ErrClosed], waking the blocked ones.
// Writes still in the queue are lost; Stats still counts them.
func (q *MemoryQueue[V]) Close(context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ready)
		close(q.acked)
	}
	return nil
}
