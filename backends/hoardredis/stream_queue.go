package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// The fields of a stream entry (see scripts/stream_enqueue.lua), and how
// many entries one script call or XCLAIM names at most.
const (
	streamFieldID, streamFieldV  = "i", "v"
	streamFieldDel, streamFieldT = "d", "t"
	streamFieldPayload           = "p"
	streamAckChunk               = 1000
)

// StreamQueue is a durable [hoard.WriteQueue] on a Redis Stream with a
// consumer group, shared by every process that uses the same Name. Give it
// to [hoard.WriteBehindOptions].Queue.
//
//   - Enqueue is one script: it checks the depth counter against MaxLen
//     and XADDs the write, so a write is in Redis once Put returns.
//   - Take reads new entries with XREADGROUP as this Consumer, and every
//     ClaimInterval first claims with XAUTOCLAIM the entries other
//     consumers took and left unacknowledged for ClaimIdle: the writes of
//     a dead process are stored by a live one.
//   - Ack runs after the store has committed: one script XACKs the
//     entries, lowers the depth counter by what XACK removed, and trims the
//     stream with XTRIM MINID below the oldest entry some group has not
//     acknowledged (its oldest pending entry, or the one after its last
//     delivered), so only acknowledged entries are ever trimmed.
//   - While a worker stores a batch, a keeper goroutine re-claims its
//     entries (XCLAIM JUSTID) every ClaimIdle/3, so a slow store is not
//     mistaken for a dead consumer.
//
// A write is delivered at least once: a process killed after the store
// committed but before XACK has its batch stored again by another, which
// the store's version check makes harmless. The queue is as durable as
// Redis is: run it with persistence (appendonly) and maxmemory-policy
// noeviction, as an evicted stream loses its writes. With appendfsync
// everysec, Redis's default, Redis may reply to a write up to 2s before it
// writes it to the AOF (while an fsync runs), so a crash of its process,
// not only of the machine, can lose writes that Put acknowledged;
// appendfsync always loses none.
type StreamQueue[V any] struct {
	client   goredis.UniversalClient
	opts     StreamQueueOptions
	keys     []string // the stream and the depth counter
	hasGroup atomic.Bool

	mu        sync.Mutex          // guards the fields below
	cursor    string              // where the XAUTOCLAIM pass goes on
	nextClaim time.Time           // when the next XAUTOCLAIM pass is due
	taken     map[string]struct{} // entries this queue took and did not acknowledge
	acked     chan struct{}       // closed and replaced on acknowledgements and Close
	closed    bool
	keeping   bool // the keeper runs
	stopKeep  context.CancelFunc
	keeper    sync.WaitGroup
}

var _ hoard.WriteQueue[int] = (*StreamQueue[int])(nil)

// NewStreamQueue returns the queue options names on client (nil: every
// default). It makes no call to Redis: the stream and its group are
// created on first use. On a *redis.ClusterClient it adds the failover
// hook that [New] describes.
func NewStreamQueue[V any](client goredis.UniversalClient, options *StreamQueueOptions) (*StreamQueue[V], error) {
	if client == nil {
		return nil, fmt.Errorf("%w: stream queue: nil client", hoard.ErrInvalidOption)
	}
	var opts StreamQueueOptions // nil: every default
	if options != nil {
		opts = *options
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	followFailover(client)
	stream := o.KeyPrefix + "{" + o.Name + "}"
	return &StreamQueue[V]{
		client: client,
		opts:   o,
		keys:   []string{stream, stream + ":depth"},
		cursor: "0-0",
		taken:  map[string]struct{}{},
		acked:  make(chan struct{}),
	}, nil
}

// Stream returns the key of the queue's stream.
func (q *StreamQueue[V]) Stream() string { return q.keys[0] }

// Consumer returns this queue's consumer name in the group.
func (q *StreamQueue[V]) Consumer() string { return q.opts.Consumer }

// Enqueue adds w to the stream; see [hoard.WriteQueue.Enqueue].
func (q *StreamQueue[V]) Enqueue(ctx context.Context, w hoard.Write[V], wait bool) error {
	var payload []byte
	if !w.Delete {
		b, err := q.opts.Codec.Marshal(w.Value)
		if err != nil {
			return fmt.Errorf("hoard: stream queue %q: encode %q: %w", q.opts.Name, w.ID, err)
		}
		if len(b) > q.opts.MaxValueBytes {
			return fmt.Errorf("%w: stream queue %q: %q encodes to %d bytes, over MaxValueBytes %d",
				hoard.ErrTooLarge, q.opts.Name, w.ID, len(b), q.opts.MaxValueBytes)
		}
		payload = b
	}
	del := "0"
	if w.Delete {
		del = "1"
	}
	if err := q.ensureGroup(ctx); err != nil {
		return err
	}
	waited := false
	for {
		if err := q.checkOpen(); err != nil {
			return err
		}
		acked := q.ackedChan()
		err := streamEnqueueScript.Run(ctx, q.client, q.keys, q.opts.MaxLen,
			w.ID, strconv.FormatUint(w.Version, 10), del, time.Now().UnixNano(), payload).Err()
		if err == nil {
			return nil
		}
		full := fmt.Errorf("%w: stream %q holds %d writes not yet stored", hoard.ErrQueueFull, q.keys[0], q.opts.MaxLen)
		if !errors.Is(err, goredis.Nil) {
			if waited && ctx.Err() != nil {
				return errors.Join(full, context.Cause(ctx))
			}
			return wrapErr("stream enqueue", q.keys[0], err)
		}
		if !wait {
			return full
		}
		waited = true
		// Room comes from acknowledgements, here (acked) or in another
		// process (seen at the next poll).
		t := time.NewTimer(q.opts.PollInterval)
		select {
		case <-acked:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errors.Join(full, context.Cause(ctx))
		}
		t.Stop()
	}
}

// Close stops the keeper and makes further calls fail with [hoard.ErrClosed].
// Entries taken and not acknowledged stay pending in the group; another
// consumer claims them after ClaimIdle. The client stays the caller's.
func (q *StreamQueue[V]) Close(context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	close(q.acked)
	stop := q.stopKeep
	q.mu.Unlock()
	if stop != nil {
		stop()
	}
	q.keeper.Wait()
	return nil
}

// ensureGroup creates the stream and its group (reading from the start)
// unless this queue has seen it.
func (q *StreamQueue[V]) ensureGroup(ctx context.Context) error {
	if q.hasGroup.Load() {
		return nil
	}
	err := q.client.XGroupCreateMkStream(ctx, q.keys[0], q.opts.Group, "0-0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return wrapErr("stream create group", q.keys[0], err)
	}
	q.hasGroup.Store(true)
	return nil
}

// checkOpen returns an error wrapping [hoard.ErrClosed] once Close was
// called.
func (q *StreamQueue[V]) checkOpen() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return fmt.Errorf("%w: stream queue %q", hoard.ErrClosed, q.opts.Name)
	}
	return nil
}

// ackedChan returns the channel the next acknowledgement (or Close)
// closes.
func (q *StreamQueue[V]) ackedChan() chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.acked
}

// isNoGroup reports Redis's NOGROUP reply: the stream or its group is gone.
func isNoGroup(err error) bool {
	var re goredis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOGROUP")
}

// parseStreamID splits "ms-seq".
func parseStreamID(id string) (ms, seq uint64, ok bool) {
	a, b, found := strings.Cut(id, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}
