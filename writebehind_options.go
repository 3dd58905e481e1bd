package hoard

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Defaults of [WriteBehindOptions].
const (
	defaultWriteBehindBatchSize = 100
	defaultFlushInterval        = 100 * time.Millisecond
	defaultMaxAttempts          = 10
	defaultFirstRetryBackoff    = 100 * time.Millisecond
	defaultMaxRetryBackoff      = 30 * time.Second
	// MaxWriteBehindBatchSize bounds BatchSize: a batch is one store call
	// and one acknowledgement.
	MaxWriteBehindBatchSize = 10_000
)

// FullPolicy says what [WriteBehind.Put] does when the queue holds its
// bound of writes not yet stored. Either way nothing is dropped: a Put
// that returns an error did not enqueue its write.
type FullPolicy uint8

// The policies.
const (
	// FullBlock makes Put wait for room until its ctx ends; it then
	// returns an error joining [ErrQueueFull] and ctx's error. The default.
	FullBlock FullPolicy = iota
	// FullError makes Put return an error wrapping [ErrQueueFull] at once.
	FullError
)

// WriteBehindOptions configure a [WriteBehind]. Aside and Store are
// required; every other field has a default.
type WriteBehindOptions[V any] struct {
	// Aside is the cache-aside whose tiers and keys Put writes, so its
	// readers see every write at once (read-your-writes). The entry Put
	// writes is fresh for the Aside's TTL, jittered, kept for its
	// fail-safe, and capped at its MemoryTTL in the memory tier, as a
	// loaded value would be. Required.
	Aside *Aside[V]

	// Store is the source of truth the workers write to. When it is a
	// [BatchStore], a batch is one WriteMany call; otherwise one Save or
	// Delete per write, in turn. Required.
	Store Store[V]

	// Queue holds the writes between Put and the store; the WriteBehind
	// owns it and closes it in Close. Default: a [MemoryQueue] of
	// QueueLen writes (lost with the process); give a
	// [github.com/hoard-cache/hoard/backends/hoardredis.StreamQueue] for
	// writes that must survive a crash.
	Queue WriteQueue[V]

	// QueueLen bounds the default memory queue. Default:
	// 10_000. Setting it together with Queue is an error.
	QueueLen int

	// Full is what Put does when the queue is full. Default: FullBlock.
	Full FullPolicy

	// Versioner hands out the writes' versions, when Put is called (the
	// queue may store writes out of order; the versions put them back in
	// order). Default: a [HybridVersioner] on the Aside's shared tier when
	// it is a [Counter] (shared by every process), with the counters the
	// write-through of the same Aside uses, so the two agree while Redis
	// answers; while it does not, versions come from the clock, and Put
	// goes on (with a [MemoryQueue]). Without a shared Counter, versions
	// come from this process's clock alone and order its writes only: give
	// a shared tier or a Versioner when several processes write the same
	// ids. A [VersioningStore]'s own versions are not used: they exist
	// only once the write is stored, too late to order the queue.
	Versioner Versioner

	// BatchSize is the most writes a worker takes and stores at once.
	// Default: 100; at most
	// MaxWriteBehindBatchSize.
	BatchSize int

	// FlushInterval is how long a worker that has taken fewer than
	// BatchSize writes waits for more before it stores what it has: the
	// longest a write waits for company. Flush and Close cut the wait
	// short. Default: 100 * time.Millisecond; a negative value stores at
	// once.
	FlushInterval time.Duration

	// Workers is the number of goroutines taking batches from the queue.
	// Default: 1. Batches of different workers may reach the store in
	// any order; versions keep that safe.
	Workers int

	// MaxAttempts is how many times a batch is tried against the store
	// before its writes that still fail go to DeadLetter. When it is above
	// 1, the last attempt of a BatchStore batch is made write by write, so
	// one bad write does not take its neighbours along. Default:
	// 10; negative: retry for ever (until Close gives up),
	// which a durable queue needs to ride out a long store outage.
	MaxAttempts int

	// Backoff returns the wait before retry number attempt (1 for the
	// first retry). Default: 100 * time.Millisecond doubling with each
	// attempt up to 30 * time.Second, less up to 20% jitter.
	Backoff func(attempt int) time.Duration

	// DeadLetter receives each write given up on after MaxAttempts, with
	// the last error, and each write a queue could not read back (the
	// error wraps [ErrCorrupt]). The write is then acknowledged: it is the
	// handler's. Default: log it at error level on Logger. Either way it
	// is counted in the stats' DeadLetters.
	DeadLetter func(ctx context.Context, w Write[V], err error)

	// Hooks observe the workers. Default: none.
	Hooks WriteBehindHooks[V]

	// Logger receives retries (warn), dead letters (error, when there is
	// no DeadLetter) and failures of the cache or the queue (warn).
	// Default: slog.Default().
	Logger *slog.Logger
}

// WriteBehindHooks observe a [WriteBehind]'s workers. They are called on
// the worker's goroutine: keep them short, and do not call the
// WriteBehind's Flush or Close from them.
type WriteBehindHooks[V any] struct {
	// OnStored is called after the store committed writes (after
	// coalescing), before they are acknowledged.
	OnStored func(writes []Write[V])
	// OnRetry is called before a worker waits wait to try n writes again
	// after attempt number attempt failed with err.
	OnRetry func(attempt, n int, err error, wait time.Duration)
}

func (o *WriteBehindOptions[V]) validate() error {
	name := ""
	if o.Aside != nil {
		name = o.Aside.opts.Name
	}
	switch {
	case o.Aside == nil:
		return fmt.Errorf("%w: write-behind: no Aside", ErrInvalidOption)
	case o.Store == nil:
		return fmt.Errorf("%w: write-behind %q: no Store", ErrInvalidOption, name)
	case o.QueueLen < 0:
		return fmt.Errorf("%w: write-behind %q: QueueLen %d is negative", ErrInvalidOption, name, o.QueueLen)
	case o.Queue != nil && o.QueueLen != 0:
		return fmt.Errorf("%w: write-behind %q: QueueLen is for the default memory queue, and Queue is set", ErrInvalidOption, name)
	case o.Full > FullError:
		return fmt.Errorf("%w: write-behind %q: unknown Full policy %d", ErrInvalidOption, name, o.Full)
	case o.BatchSize < 0 || o.BatchSize > MaxWriteBehindBatchSize:
		return fmt.Errorf("%w: write-behind %q: BatchSize %d is not within 0 and %d", ErrInvalidOption, name, o.BatchSize, MaxWriteBehindBatchSize)
	case o.Workers < 0:
		return fmt.Errorf("%w: write-behind %q: Workers %d is negative", ErrInvalidOption, name, o.Workers)
	}
	return nil
}

func (o WriteBehindOptions[V]) withDefaults() (WriteBehindOptions[V], error) {
	if o.Queue == nil {
		q, err := NewMemoryQueue[V](o.QueueLen)
		if err != nil {
			return o, err
		}
		o.Queue = q
	}
	if o.BatchSize == 0 {
		o.BatchSize = defaultWriteBehindBatchSize
	}
	switch {
	case o.FlushInterval == 0:
		o.FlushInterval = defaultFlushInterval
	case o.FlushInterval < 0:
		o.FlushInterval = 0
	}
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = defaultMaxAttempts
	}
	if o.Backoff == nil {
		o.Backoff = defaultRetryBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Versioner == nil {
		o.Versioner = defaultVersioner(o.Aside, o.Logger)
	}
	return o, nil
}

// defaultRetryBackoff doubles from 100 * time.Millisecond up to
// 30 * time.Second, less up to 20% jitter so that workers of many
// processes do not retry in step.
func defaultRetryBackoff(attempt int) time.Duration {
	d := defaultMaxRetryBackoff
	if attempt < 20 {
		d = min(defaultFirstRetryBackoff<<max(attempt-1, 0), defaultMaxRetryBackoff)
	}
	return d - time.Duration(rand.Float64()*0.2*float64(d))
}
