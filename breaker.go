package hoard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults of [BreakerOptions].
const (
	defaultBreakerFailures     = 3
	defaultBreakerOpenFor      = 5 * time.Second
	defaultBreakerProbeTimeout = time.Second
	defaultBreakerMaxDeferred  = 10_000
)

// BreakerState is the state of a [CircuitBreaker].
type BreakerState uint8

// The states.
const (
	// BreakerClosed lets every call through: the shared tier is healthy.
	BreakerClosed BreakerState = iota
	// BreakerOpen skips the shared tier: calls fail at once with
	// [ErrCircuitOpen], and changes are deferred.
	BreakerOpen
	// BreakerRecovering probes the tier and replays the deferred changes;
	// calls are still skipped until it closes.
	BreakerRecovering
)

// String returns "closed", "open" or "recovering".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerRecovering:
		return "recovering"
	}
	return "unknown"
}

// BreakerOptions configure a [CircuitBreaker]; nil takes every default.
type BreakerOptions struct {
	// Name names the breaker in logs and metrics. Default: "shared".
	Name string

	// Failures is how many calls in a row must fail for the tier being
	// unavailable (a connection error, or no answer within the hard
	// timeout) to open the breaker. Default: 3.
	Failures int

	// OpenFor is how long the breaker stays open before it probes the
	// tier. Default: 5 * time.Second.
	OpenFor time.Duration

	// Probe, when set, checks that the tier is back (a PING) before the
	// deferred changes are replayed. Default: none; the replay, or the
	// first calls after closing, are the probe.
	Probe func(ctx context.Context) error

	// ProbeTimeout bounds the probe and each replayed change. Default:
	// time.Second.
	ProbeTimeout time.Duration

	// MaxDeferred bounds the changes kept while the tier is unavailable,
	// newest per key. Past it the oldest is dropped, counted as
	// [EventDropped] and logged at error level: its entries may then be
	// served until their TTL. Default: 10,000.
	MaxDeferred int

	// Metrics counts the breaker's transitions, deferred, replayed and
	// dropped changes. Default: new metrics named Name.
	Metrics *Metrics

	// Logger reports transitions, replays and dropped changes. Default:
	// nil, silent.
	Logger *slog.Logger
}

// CircuitBreaker guards a shared tier (and the bus beside it): after
// Failures calls in a row found it unavailable, it opens and the caches
// that use it skip it (they answer from the memory tier, the fail-safe and
// the loader) for OpenFor. Changes that could not reach the tier meanwhile
// (deletes, tag invalidations, namespace bumps, bus messages) are kept,
// newest per key, and replayed when it is back, before it closes, so a
// change made during an outage is deferred, not lost: its caller gets an
// error matching [ErrDeferred].
//
// One breaker serves every cache on the same Redis: give the same one to
// each Aside (AsideOptions.Breaker) and to the Invalidator. It is safe for
// concurrent use. Close stops a recovery in progress.
type CircuitBreaker struct {
	opts BreakerOptions

	mu       sync.Mutex
	state    BreakerState
	failures int // calls in a row that found the tier unavailable
	// deferred holds the changes to replay, by key; order is their keys,
	// oldest first (a key whose change is replaced moves to the end).
	deferred map[string]deferredChange
	order    []string
	seq      uint64 // numbers the deferred changes
	closed   bool
	stop     chan struct{}
	wg       sync.WaitGroup
}

// NewCircuitBreaker returns a closed breaker; opts may be nil.
func NewCircuitBreaker(opts *BreakerOptions) (*CircuitBreaker, error) {
	var o BreakerOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case o.Failures < 0:
		return nil, fmt.Errorf("%w: breaker: Failures %d is negative", ErrInvalidOption, o.Failures)
	case o.OpenFor < 0 || o.OpenFor > maxDuration:
		return nil, fmt.Errorf("%w: breaker: OpenFor %v is negative or past 100 years", ErrInvalidOption, o.OpenFor)
	case o.ProbeTimeout < 0 || o.ProbeTimeout > maxDuration:
		return nil, fmt.Errorf("%w: breaker: ProbeTimeout %v is negative or past 100 years", ErrInvalidOption, o.ProbeTimeout)
	case o.MaxDeferred < 0:
		return nil, fmt.Errorf("%w: breaker: MaxDeferred %d is negative", ErrInvalidOption, o.MaxDeferred)
	}
	if o.Name == "" {
		o.Name = "shared"
	}
	if o.Failures == 0 {
		o.Failures = defaultBreakerFailures
	}
	if o.OpenFor == 0 {
		o.OpenFor = defaultBreakerOpenFor
	}
	if o.ProbeTimeout == 0 {
		o.ProbeTimeout = defaultBreakerProbeTimeout
	}
	if o.MaxDeferred == 0 {
		o.MaxDeferred = defaultBreakerMaxDeferred
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(o.Name, nil)
	}
	return &CircuitBreaker{opts: o, deferred: make(map[string]deferredChange), stop: make(chan struct{})}, nil
}

// State returns the breaker's state.
func (b *CircuitBreaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// Deferred returns how many changes wait for the tier to come back.
func (b *CircuitBreaker) Deferred() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.order)
}

// Metrics returns the breaker's metrics.
func (b *CircuitBreaker) Metrics() *Metrics { return b.opts.Metrics }

// Close stops a recovery in progress and waits for it. The changes still
// deferred are dropped, and counted. Calls go through a closed breaker.
func (b *CircuitBreaker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.stop)
	lost := len(b.order)
	b.state, b.deferred, b.order = BreakerClosed, nil, nil
	b.mu.Unlock()
	b.wg.Wait()
	if lost > 0 {
		b.opts.Metrics.Add(EventDropped, TierShared, int64(lost))
		b.log(context.Background(), slog.LevelError, "breaker closed with deferred changes not replayed", slog.Int("dropped", lost))
		return fmt.Errorf("hoard: breaker %q: closed with %d deferred changes not replayed", b.opts.Name, lost)
	}
	return nil
}

// allow reports whether a call may go to the tier.
func (b *CircuitBreaker) allow() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state == BreakerClosed
}

// record counts the outcome of a call that went to the tier: unavailable
// (a connection error or a hard timeout) or not.
func (b *CircuitBreaker) record(unavailable bool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !unavailable {
		b.failures = 0
		return
	}
	b.failures++
	if b.state == BreakerClosed && b.failures >= b.opts.Failures && !b.closed {
		b.openLocked()
	}
}

// openLocked opens the breaker and starts its recovery.
func (b *CircuitBreaker) openLocked() {
	b.state = BreakerOpen
	b.opts.Metrics.Add(EventBreakerOpen, TierShared, 1)
	b.log(context.Background(), slog.LevelWarn, "breaker opened: the shared tier is skipped",
		slog.Int("failures", b.failures), slog.Duration("open_for", b.opts.OpenFor))
	b.wg.Add(1)
	go b.recover()
}

// recover waits OpenFor, probes, replays the deferred changes and closes;
// on a failure it waits OpenFor again.
func (b *CircuitBreaker) recover() {
	defer b.wg.Done()
	timer := time.NewTimer(b.opts.OpenFor)
	defer timer.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-timer.C:
		}
		b.mu.Lock()
		b.state = BreakerRecovering
		b.mu.Unlock()
		err := b.probeAndReplay()
		b.mu.Lock()
		if err == nil && len(b.order) == 0 {
			b.state, b.failures = BreakerClosed, 0
			b.mu.Unlock()
			b.opts.Metrics.Add(EventBreakerClose, TierShared, 1)
			b.log(context.Background(), slog.LevelInfo, "breaker closed: the shared tier is back")
			return
		}
		b.state = BreakerOpen
		b.mu.Unlock()
		if err != nil {
			b.log(context.Background(), slog.LevelWarn, "breaker stays open: the shared tier is still unavailable", slog.Any("error", err))
		}
		timer.Reset(b.opts.OpenFor)
	}
}

// probeAndReplay probes the tier, then replays the deferred changes oldest
// first, each removed once it succeeded; it stops at the first failure.
func (b *CircuitBreaker) probeAndReplay() error {
	if b.opts.Probe != nil {
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.ProbeTimeout)
		err := b.opts.Probe(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
	}
	replayed := 0
	defer func() {
		if replayed > 0 {
			b.opts.Metrics.Add(EventReplayed, TierShared, int64(replayed))
			b.log(context.Background(), slog.LevelInfo, "deferred changes replayed", slog.Int("replayed", replayed))
		}
	}()
	for {
		b.mu.Lock()
		if len(b.order) == 0 || b.closed {
			b.mu.Unlock()
			return nil
		}
		key := b.order[0]
		change := b.deferred[key]
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.ProbeTimeout)
		err := change.apply(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("replay of %s: %w", key, err)
		}
		replayed++
		b.mu.Lock()
		// A newer change of key may have replaced it meanwhile: keep that
		// one for the next round.
		if c, ok := b.deferred[key]; ok && c.seq == change.seq {
			b.removeLocked(key)
		}
		b.mu.Unlock()
	}
}

// deferChange keeps a change that could not reach the tier, to be replayed
// when it is back; a change of the same key replaces it. It returns the
// error its caller joins with: ErrDeferred, or, when no breaker is set or
// it is closed for good, nil.
func (b *CircuitBreaker) deferChange(ctx context.Context, key string, apply func(context.Context) error) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	if _, ok := b.deferred[key]; ok {
		b.removeLocked(key)
	}
	b.seq++
	b.deferred[key] = deferredChange{seq: b.seq, apply: apply}
	b.order = append(b.order, key)
	var dropped string
	if len(b.order) > b.opts.MaxDeferred {
		dropped = b.order[0]
		b.removeLocked(dropped)
	}
	if b.state == BreakerClosed {
		// A change failed while the breaker was closed: it opens now, so
		// the change is replayed as soon as the tier answers again.
		b.openLocked()
	}
	b.mu.Unlock()
	b.opts.Metrics.Add(EventDeferred, TierShared, 1)
	b.log(ctx, slog.LevelWarn, "change deferred until the shared tier is back", slog.String("change", key))
	if dropped != "" {
		b.opts.Metrics.Add(EventDropped, TierShared, 1)
		b.log(ctx, slog.LevelError, "deferred change dropped: too many deferred (MaxDeferred)", slog.String("change", dropped))
	}
	return ErrDeferred
}

// removeLocked removes key's deferred change.
func (b *CircuitBreaker) removeLocked(key string) {
	delete(b.deferred, key)
	for i, k := range b.order {
		if k == key {
			b.order = append(b.order[:i], b.order[i+1:]...)
			return
		}
	}
}

// log writes a record when there is a logger.
func (b *CircuitBreaker) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if b.opts.Logger == nil {
		return
	}
	b.opts.Logger.LogAttrs(ctx, level, msg, append(attrs, slog.String("breaker", b.opts.Name))...)
}

// deferredChange is a change kept for the tier's return.
type deferredChange struct {
	seq   uint64 // tells a change from a newer one of the same key
	apply func(context.Context) error
}

// errUnavailableNow reports an error that says the tier did not answer:
// a connection error or a timeout of its own (not the caller's).
func errUnavailableNow(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
