package hoard

import (
	"sync/atomic"
	"time"
)

// WriteBehindStats counts what a [WriteBehind] did. Read it with
// [WriteBehindStats.Snapshot]; the queue's depth and lag, which need a
// round trip to a Redis queue, come from [WriteBehind.QueueStats].
//
// Write-behind keeps its own counts rather than events of [Metrics], which
// count reads; failures of the Aside's tiers still go to the Aside's
// Metrics as [EventBackendError].
type WriteBehindStats struct {
	puts, deletes atomic.Int64 // Put and Delete calls that enqueued their write
	fullWaits     atomic.Int64 // Puts and Deletes that found the queue full and waited
	fullErrors    atomic.Int64 // Puts and Deletes refused for a full queue
	stored        atomic.Int64 // writes the store committed, after coalescing
	coalesced     atomic.Int64 // writes dropped because the same batch held a newer one of the id
	storeCalls    atomic.Int64 // WriteMany, Save and Delete calls
	storeErrors   atomic.Int64 // store calls that failed
	retries       atomic.Int64 // retries of a batch (or of the part that failed)
	deadLetters   atomic.Int64 // writes given to DeadLetter
	cacheErrors   atomic.Int64 // cache tier updates of Put or Delete that failed
	queueErrors   atomic.Int64 // Take or Ack calls that failed
	lag           histogram    // from enqueue to the end of the write's batch
}

// Snapshot returns the counts so far. It is a copy.
func (s *WriteBehindStats) Snapshot() WriteBehindSnapshot {
	return WriteBehindSnapshot{
		Puts:        s.puts.Load(),
		Deletes:     s.deletes.Load(),
		FullWaits:   s.fullWaits.Load(),
		FullErrors:  s.fullErrors.Load(),
		Stored:      s.stored.Load(),
		Coalesced:   s.coalesced.Load(),
		StoreCalls:  s.storeCalls.Load(),
		StoreErrors: s.storeErrors.Load(),
		Retries:     s.retries.Load(),
		DeadLetters: s.deadLetters.Load(),
		CacheErrors: s.cacheErrors.Load(),
		QueueErrors: s.queueErrors.Load(),
		Lag:         s.lag.snapshot(),
	}
}

// WriteBehindSnapshot is an immutable copy of [WriteBehindStats].
type WriteBehindSnapshot struct {
	Puts        int64 // Put calls whose write was enqueued
	Deletes     int64 // Delete calls whose write was enqueued
	FullWaits   int64 // Puts and Deletes that found the queue full and waited (FullBlock)
	FullErrors  int64 // Puts and Deletes refused because the queue was full (FullError, or the wait ended)
	Stored      int64 // writes the store committed, after coalescing
	Coalesced   int64 // writes not sent because their batch held a newer write of the same id
	StoreCalls  int64 // WriteMany, Save and Delete calls made
	StoreErrors int64 // store calls that failed
	Retries     int64 // retries after a failed store call
	DeadLetters int64 // writes handed to the dead-letter handler
	CacheErrors int64 // cache tier updates by Put or Delete that failed
	QueueErrors int64 // Take and Ack calls that failed (a Redis queue unreachable)

	// Lag is the distribution of the time from a write's enqueue to the
	// end of its batch's store calls (committed, or superseded by a newer
	// write of its batch, or dead-lettered after the last attempt).
	Lag DurationHistogram
}

// observeLag records the lag of a write enqueued at at, done now.
func (s *WriteBehindStats) observeLag(at time.Time) {
	if !at.IsZero() {
		s.lag.observe(time.Since(at))
	}
}
