package hoard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Defaults of [StreamQueueOptions].
const (
	DefaultStreamQueueName       = "writebehind"
	DefaultStreamQueueKeyPrefix  = "hoard:wb:"
	DefaultStreamQueueGroup      = "hoard"
	DefaultStreamQueueLen        = 100_000
	DefaultStreamMaxValueBytes   = 1 << 20
	DefaultClaimIdle             = 30 * time.Second
	DefaultStreamBlock           = 100 * time.Millisecond
	DefaultStreamPollInterval    = 50 * time.Millisecond
	DefaultStreamConsumerExpiry  = 24 * time.Hour
	streamAckChunk               = 1000 // ids per XACK script call
	streamFieldID, streamFieldV  = "i", "v"
	streamFieldDel, streamFieldT = "d", "t"
	streamFieldPayload           = "p"
)

// StreamQueueOptions configure a [StreamQueue]. The zero value takes every
// default.
type StreamQueueOptions struct {
	// Name names the queue. Its stream is the key KeyPrefix+"{Name}"
	// ("hoard:wb:{writebehind}" by default) and its depth counter that
	// key + ":depth": one hash slot, so the queue works on Redis Cluster.
	// Every process that should share the queue (and take over each
	// other's writes) uses the same KeyPrefix and Name. It may not hold
	// '{' or '}'. Default: DefaultStreamQueueName.
	Name string

	// KeyPrefix starts the queue's keys, so that they can live under an
	// application's prefix (a Redis ACL user limited to ~app:* needs it).
	// It may not hold '{' or '}'. Default: DefaultStreamQueueKeyPrefix.
	KeyPrefix string

	// Group is the stream's consumer group. Default:
	// DefaultStreamQueueGroup.
	Group string

	// Consumer names this queue in the group; every process needs its
	// own. Default: host name, process id and random bytes.
	Consumer string

	// Codec encodes the values in the stream. Default: JSON.
	Codec Codec

	// MaxLen bounds the writes enqueued and not yet acknowledged, over
	// every process sharing the queue. Default: DefaultStreamQueueLen.
	MaxLen int64

	// MaxValueBytes refuses to enqueue a value whose encoding is longer,
	// with [ErrTooLarge]; a longer payload read back is corrupt. Default:
	// DefaultStreamMaxValueBytes.
	MaxValueBytes int

	// ClaimIdle is how long a write may stay taken by a consumer that
	// does not acknowledge it before another consumer claims it
	// (XAUTOCLAIM): the time a dead process's writes wait. A live
	// consumer keeps the writes it is storing claimed, so a slow store
	// does not hand them to another. Default: DefaultClaimIdle.
	ClaimIdle time.Duration

	// ClaimInterval is how often a consumer looks for writes to claim.
	// Default: ClaimIdle/4.
	ClaimInterval time.Duration

	// ConsumerExpiry is how long a consumer with no pending write may stay
	// idle before it is removed from the group (so the group does not
	// grow with every restart). A negative value keeps them. Default:
	// DefaultStreamConsumerExpiry.
	ConsumerExpiry time.Duration

	// Block bounds each blocking read (XREADGROUP BLOCK), and so how long
	// Close may wait for a worker. Default: DefaultStreamBlock.
	Block time.Duration

	// PollInterval is how often an Enqueue waiting for room, and a Flush,
	// look at the stream again (acknowledgements in this process wake
	// them sooner). Default: DefaultStreamPollInterval.
	PollInterval time.Duration
}

func (o *StreamQueueOptions) validate() error {
	switch {
	case strings.ContainsAny(o.Name, "{}"):
		return fmt.Errorf("%w: stream queue: Name %q holds a brace", ErrInvalidOption, o.Name)
	case strings.ContainsAny(o.KeyPrefix, "{}"):
		return fmt.Errorf("%w: stream queue: KeyPrefix %q holds a brace", ErrInvalidOption, o.KeyPrefix)
	case o.MaxLen < 0:
		return fmt.Errorf("%w: stream queue %q: MaxLen %d is negative", ErrInvalidOption, o.Name, o.MaxLen)
	case o.MaxValueBytes < 0:
		return fmt.Errorf("%w: stream queue %q: MaxValueBytes %d is negative", ErrInvalidOption, o.Name, o.MaxValueBytes)
	case o.ClaimIdle < 0 || (o.ClaimIdle > 0 && o.ClaimIdle < 3*time.Millisecond):
		return fmt.Errorf("%w: stream queue %q: ClaimIdle %v is negative or below 3ms", ErrInvalidOption, o.Name, o.ClaimIdle)
	case o.ClaimInterval < 0:
		return fmt.Errorf("%w: stream queue %q: ClaimInterval %v is negative", ErrInvalidOption, o.Name, o.ClaimInterval)
	case o.Block < 0 || (o.Block > 0 && o.Block < time.Millisecond):
		return fmt.Errorf("%w: stream queue %q: Block %v is negative or below Redis's 1ms", ErrInvalidOption, o.Name, o.Block)
	case o.PollInterval < 0:
		return fmt.Errorf("%w: stream queue %q: PollInterval %v is negative", ErrInvalidOption, o.Name, o.PollInterval)
	}
	return nil
}

func (o StreamQueueOptions) withDefaults() StreamQueueOptions {
	if o.Name == "" {
		o.Name = DefaultStreamQueueName
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultStreamQueueKeyPrefix
	}
	if o.Group == "" {
		o.Group = DefaultStreamQueueGroup
	}
	if o.Consumer == "" {
		o.Consumer = defaultConsumerName()
	}
	o.Codec = CodecOrJSON(o.Codec)
	if o.MaxLen == 0 {
		o.MaxLen = DefaultStreamQueueLen
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = DefaultStreamMaxValueBytes
	}
	if o.ClaimIdle == 0 {
		o.ClaimIdle = DefaultClaimIdle
	}
	if o.ClaimInterval == 0 {
		o.ClaimInterval = o.ClaimIdle / 4
	}
	if o.ConsumerExpiry == 0 {
		o.ConsumerExpiry = DefaultStreamConsumerExpiry
	}
	if o.Block == 0 {
		o.Block = DefaultStreamBlock
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultStreamPollInterval
	}
	return o
}

// defaultConsumerName is host-pid-random: unique per process, readable in
// XINFO CONSUMERS.
func defaultConsumerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// StreamQueue is a durable [WriteQueue] on a Redis Stream with a consumer
// group, shared by every process that uses the same Name.
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

var _ WriteQueue[int] = (*StreamQueue[int])(nil)

// NewStreamQueue returns the queue opts names on client. It makes no call
// to Redis: the stream and its group are created on first use.
func NewStreamQueue[V any](client goredis.UniversalClient, opts StreamQueueOptions) (*StreamQueue[V], error) {
	if client == nil {
		return nil, fmt.Errorf("%w: stream queue: nil client", ErrInvalidOption)
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
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

// Enqueue adds w to the stream; see [WriteQueue.Enqueue].
func (q *StreamQueue[V]) Enqueue(ctx context.Context, w Write[V], wait bool) error {
	var payload []byte
	if !w.Delete {
		b, err := q.opts.Codec.Marshal(w.Value)
		if err != nil {
			return fmt.Errorf("hoard: stream queue %q: encode %q: %w", q.opts.Name, w.ID, err)
		}
		if len(b) > q.opts.MaxValueBytes {
			return fmt.Errorf("%w: stream queue %q: %q encodes to %d bytes, over MaxValueBytes %d",
				ErrTooLarge, q.opts.Name, w.ID, len(b), q.opts.MaxValueBytes)
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
		full := fmt.Errorf("%w: stream %q holds %d writes not yet stored", ErrQueueFull, q.keys[0], q.opts.MaxLen)
		if !errors.Is(err, goredis.Nil) {
			if waited && ctx.Err() != nil {
				return errors.Join(full, context.Cause(ctx))
			}
			return q.wrap("enqueue", err)
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

// Take returns up to limit writes: claimed from idle consumers when a claim
// pass is due, else new ones; see [WriteQueue.Take].
func (q *StreamQueue[V]) Take(ctx context.Context, limit int) ([]QueuedWrite[V], error) {
	limit = max(limit, 1)
	q.startKeeper()
	for {
		if err := q.checkOpen(); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		if err := q.ensureGroup(ctx); err != nil {
			return nil, err
		}
		claimed, err := q.claim(ctx, limit)
		if err != nil {
			return nil, err
		}
		if len(claimed) > 0 {
			return q.taking(claimed), nil
		}
		block := q.opts.Block
		if d, ok := ctx.Deadline(); ok {
			block = min(block, time.Until(d))
		}
		if block < time.Millisecond {
			// No time left to block: one look, then wait out ctx.
			block = -1
		}
		streams, err := q.client.XReadGroup(ctx, &goredis.XReadGroupArgs{
			Group: q.opts.Group, Consumer: q.opts.Consumer,
			Streams: []string{q.keys[0], ">"}, Count: int64(limit), Block: block,
		}).Result()
		switch {
		case err == nil && len(streams) > 0 && len(streams[0].Messages) > 0:
			return q.taking(streams[0].Messages), nil
		case err == nil || errors.Is(err, goredis.Nil):
			if block < 0 {
				<-ctx.Done()
			}
		case isNoGroup(err):
			q.hasGroup.Store(false) // the stream was deleted: make it again
		default:
			return nil, q.wrap("read", err)
		}
	}
}

// claim runs one step of the XAUTOCLAIM pass over the group's pending
// entries when one is due, taking those idle for ClaimIdle. A full pass
// ends by removing consumers idle for ConsumerExpiry with nothing pending.
func (q *StreamQueue[V]) claim(ctx context.Context, limit int) ([]goredis.XMessage, error) {
	now := time.Now()
	q.mu.Lock()
	cursor, due := q.cursor, !now.Before(q.nextClaim)
	q.mu.Unlock()
	if !due {
		return nil, nil
	}
	msgs, next, err := q.client.XAutoClaim(ctx, &goredis.XAutoClaimArgs{
		Stream: q.keys[0], Group: q.opts.Group, Consumer: q.opts.Consumer,
		MinIdle: q.opts.ClaimIdle, Start: cursor, Count: int64(limit),
	}).Result()
	if err != nil {
		if isNoGroup(err) {
			q.hasGroup.Store(false)
			return nil, nil
		}
		return nil, q.wrap("autoclaim", err)
	}
	q.mu.Lock()
	q.cursor = next
	if next == "0-0" || next == "" {
		q.cursor = "0-0"
		q.nextClaim = now.Add(q.opts.ClaimInterval)
	}
	passDone := q.cursor == "0-0"
	q.mu.Unlock()
	if passDone && q.opts.ConsumerExpiry > 0 {
		// Best effort: a failure leaves an idle consumer for next time.
		_ = streamExpireConsumersScript.Run(ctx, q.client, q.keys[:1],
			q.opts.Group, q.opts.Consumer, q.opts.ConsumerExpiry.Milliseconds()).Err()
	}
	return msgs, nil
}

// taking records msgs as taken (for the keeper) and decodes them.
func (q *StreamQueue[V]) taking(msgs []goredis.XMessage) []QueuedWrite[V] {
	out := make([]QueuedWrite[V], len(msgs))
	q.mu.Lock()
	for i := range msgs {
		q.taken[msgs[i].ID] = struct{}{}
	}
	q.mu.Unlock()
	for i := range msgs {
		out[i] = q.decode(&msgs[i])
	}
	return out
}

// decode reads a stream entry back into a write. It never panics: an entry
// it cannot read comes back with Err wrapping [ErrCorrupt].
func (q *StreamQueue[V]) decode(m *goredis.XMessage) QueuedWrite[V] {
	w := QueuedWrite[V]{Receipt: m.ID}
	if ms, _, ok := parseStreamID(m.ID); ok {
		w.EnqueuedAt = time.UnixMilli(int64(min(ms, 1<<62)))
	}
	field := func(name string) (string, bool) {
		s, ok := m.Values[name].(string)
		return s, ok
	}
	corrupt := func(format string, args ...any) QueuedWrite[V] {
		w.Err = fmt.Errorf("%w: stream %q entry %s: %s", ErrCorrupt, q.keys[0], m.ID, fmt.Sprintf(format, args...))
		return w
	}
	id, ok := field(streamFieldID)
	if !ok {
		return corrupt("no id")
	}
	w.ID = id
	vs, _ := field(streamFieldV)
	version, err := strconv.ParseUint(vs, 10, 64)
	if err != nil {
		return corrupt("version %q", vs)
	}
	w.Version = version
	if ts, ok := field(streamFieldT); ok {
		if ns, err := strconv.ParseInt(ts, 10, 64); err == nil && ns > 0 {
			w.EnqueuedAt = time.Unix(0, ns)
		}
	}
	switch d, _ := field(streamFieldDel); d {
	case "1":
		w.Delete = true
		return w
	case "0":
	default:
		return corrupt("delete flag %q", d)
	}
	payload, ok := field(streamFieldPayload)
	if !ok {
		return corrupt("no value")
	}
	if len(payload) > q.opts.MaxValueBytes {
		return corrupt("value of %d bytes, over MaxValueBytes %d", len(payload), q.opts.MaxValueBytes)
	}
	if err := q.opts.Codec.Unmarshal([]byte(payload), &w.Value); err != nil {
		var zero V
		w.Value = zero
		if !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		w.Err = fmt.Errorf("stream %q entry %s: %s codec: %w", q.keys[0], m.ID, q.opts.Codec.Name(), err)
	}
	return w
}

// Ack acknowledges the writes and trims the stream below the oldest entry
// not yet acknowledged; see [WriteQueue.Ack].
func (q *StreamQueue[V]) Ack(ctx context.Context, ws []QueuedWrite[V]) error {
	ids := make([]any, 0, min(len(ws), streamAckChunk)+1)
	var errs []error
	for start := 0; start < len(ws); start += streamAckChunk {
		ids = append(ids[:0], q.opts.Group)
		for _, w := range ws[start:min(start+streamAckChunk, len(ws))] {
			ids = append(ids, w.Receipt)
		}
		if err := streamAckScript.Run(ctx, q.client, q.keys, ids...).Err(); err != nil {
			errs = append(errs, q.wrap("ack", err))
		}
	}
	q.mu.Lock()
	for _, w := range ws {
		delete(q.taken, w.Receipt) // a failed ack: the keeper lets go, XAUTOCLAIM hands it out again
	}
	if !q.closed {
		close(q.acked)
		q.acked = make(chan struct{})
	}
	q.mu.Unlock()
	return errors.Join(errs...)
}

// Mark returns the ID of the stream's newest entry, "0-0" when it is
// empty.
func (q *StreamQueue[V]) Mark(ctx context.Context) (string, error) {
	if err := q.checkOpen(); err != nil {
		return "", err
	}
	msgs, err := q.client.XRevRangeN(ctx, q.keys[0], "+", "-", 1).Result()
	if err != nil {
		return "", q.wrap("mark", err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// WaitAcked waits until the group has acknowledged every entry up to mark;
// see [WriteQueue.WaitAcked].
func (q *StreamQueue[V]) WaitAcked(ctx context.Context, mark string) error {
	ms, seq, ok := parseStreamID(mark)
	if !ok {
		return fmt.Errorf("%w: stream queue %q: mark %q is not a stream ID", ErrInvalidOption, q.opts.Name, mark)
	}
	if ms == 0 && seq == 0 {
		return nil // the stream was empty
	}
	for {
		if err := q.checkOpen(); err != nil {
			return err
		}
		acked := q.ackedChan()
		first, _, _, err := q.firstUnacked(ctx)
		if err != nil {
			return err
		}
		if fms, fseq, ok := parseStreamID(first); first == "" || (ok && (fms > ms || (fms == ms && fseq > seq))) {
			return nil
		}
		t := time.NewTimer(q.opts.PollInterval)
		select {
		case <-acked:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("hoard: stream queue %q: waiting for entries up to %s: %w", q.opts.Name, mark, context.Cause(ctx))
		}
		t.Stop()
	}
}

// firstUnacked returns the lowest ID the group may still have to store
// ("" when the stream does not exist), the ID of the oldest entry not yet
// acknowledged ("" for none) and the depth counter.
func (q *StreamQueue[V]) firstUnacked(ctx context.Context) (first, oldest string, depth int64, err error) {
	res, err := streamOldestScript.Run(ctx, q.client, q.keys, q.opts.Group).Slice()
	if err != nil {
		return "", "", 0, q.wrap("oldest", err)
	}
	if len(res) > 0 {
		depth, _ = res[0].(int64)
	}
	if len(res) > 1 {
		first, _ = res[1].(string)
	}
	if len(res) > 2 {
		oldest, _ = res[2].(string)
	}
	return first, oldest, depth, nil
}

// Stats returns the depth counter and the enqueue time of the oldest entry
// not yet acknowledged (from its ID: Redis's clock).
func (q *StreamQueue[V]) Stats(ctx context.Context) (QueueStats, error) {
	_, oldest, depth, err := q.firstUnacked(ctx)
	if err != nil {
		return QueueStats{}, err
	}
	s := QueueStats{Depth: depth}
	if ms, _, ok := parseStreamID(oldest); ok {
		s.Oldest = time.UnixMilli(int64(min(ms, 1<<62)))
	}
	return s, nil
}

// Close stops the keeper and makes further calls fail with [ErrClosed].
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

// startKeeper starts the goroutine that keeps taken entries claimed, once.
func (q *StreamQueue[V]) startKeeper() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.keeping || q.closed {
		return
	}
	q.keeping = true
	ctx, cancel := context.WithCancel(context.Background())
	q.stopKeep = cancel
	q.keeper.Go(func() { q.keep(ctx) })
}

// keep re-claims the taken entries every ClaimIdle/3, resetting their idle
// time, so XAUTOCLAIM elsewhere leaves them to this consumer while its
// store call runs.
func (q *StreamQueue[V]) keep(ctx context.Context) {
	t := time.NewTicker(q.opts.ClaimIdle / 3)
	defer t.Stop()
	var ids []string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q.mu.Lock()
		ids = ids[:0]
		for id := range q.taken {
			ids = append(ids, id)
		}
		q.mu.Unlock()
		for start := 0; start < len(ids); start += streamAckChunk {
			// Best effort: an entry that lost its claim is stored twice at
			// worst, which versions make harmless.
			_ = q.client.XClaimJustID(ctx, &goredis.XClaimArgs{
				Stream: q.keys[0], Group: q.opts.Group, Consumer: q.opts.Consumer,
				Messages: ids[start:min(start+streamAckChunk, len(ids))],
			}).Err()
		}
	}
}

// ensureGroup creates the stream and its group (reading from the start)
// unless this queue has seen it.
func (q *StreamQueue[V]) ensureGroup(ctx context.Context) error {
	if q.hasGroup.Load() {
		return nil
	}
	err := q.client.XGroupCreateMkStream(ctx, q.keys[0], q.opts.Group, "0-0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return q.wrap("create group", err)
	}
	q.hasGroup.Store(true)
	return nil
}

func (q *StreamQueue[V]) checkOpen() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return fmt.Errorf("%w: stream queue %q", ErrClosed, q.opts.Name)
	}
	return nil
}

func (q *StreamQueue[V]) ackedChan() chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.acked
}

// wrap turns a go-redis error into a hoard error: ctx errors stay
// matchable, connection failures wrap ErrUnavailable, replies ErrBackend.
func (q *StreamQueue[V]) wrap(op string, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("hoard: stream queue %q: %s: %w", q.opts.Name, op, err)
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, goredis.ErrClosed), errors.Is(err, goredis.ErrPoolTimeout):
		return fmt.Errorf("%w: stream queue %q: %s: %w", ErrUnavailable, q.opts.Name, op, err)
	default:
		return fmt.Errorf("%w: stream queue %q: %s: %w", ErrBackend, q.opts.Name, op, err)
	}
}

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
