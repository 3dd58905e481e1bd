package hoard

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Flushing and closing a write-behind: waiting for the queue to be stored,
// and stopping the workers.

// Flush waits until every write enqueued before it was called is stored
// (or given to the dead-letter handler), or ctx ends. With a Redis stream queue
// that includes the writes other processes enqueued. Workers stop waiting
// for fuller batches while a Flush waits.
func (wb *WriteBehind[V]) Flush(ctx context.Context) error {
	wb.mu.Lock()
	closed := wb.closed
	wb.mu.Unlock()
	if closed {
		return fmt.Errorf("%w: write-behind %q: flush", ErrClosed, wb.name)
	}
	if err := wb.flush(ctx); err != nil {
		return fmt.Errorf("hoard: write-behind %q: flush: %w", wb.name, err)
	}
	return nil
}

// flush hurries the workers and waits until the queue has acknowledged
// everything up to its current mark.
func (wb *WriteBehind[V]) flush(ctx context.Context) error {
	wb.hurryUp()
	defer wb.hurrying.Add(-1)
	mark, err := wb.opts.Queue.Mark(ctx)
	if err != nil {
		return err
	}
	return wb.opts.Queue.WaitAcked(ctx, mark)
}

// hurryUp tells the workers to stop waiting for fuller batches until
// hurrying drops back to 0.
func (wb *WriteBehind[V]) hurryUp() {
	wb.hurrying.Add(1)
	wb.hurryMu.Lock()
	defer wb.hurryMu.Unlock()
	wb.hurryCancel()
	wb.hurry, wb.hurryCancel = context.WithCancel(context.Background())
}

// hurryCtx returns the ctx that the next hurryUp cancels.
func (wb *WriteBehind[V]) hurryCtx() context.Context {
	wb.hurryMu.Lock()
	defer wb.hurryMu.Unlock()
	return wb.hurry
}

// Close drains: it refuses new writes, waits for the Puts in progress, then
// until everything enqueued is stored, then stops the workers and closes
// the queue. If ctx ends first, it stops the workers at once (a store call
// in progress sees its ctx canceled) and returns an error saying how many
// writes were not stored: a Redis stream queue keeps them for the next instance
// to take over; a [MemoryQueue] loses them. Close returns when every
// goroutine of the WriteBehind has ended. Later calls return the first
// call's result.
func (wb *WriteBehind[V]) Close(ctx context.Context) error {
	wb.mu.Lock()
	if wb.closeDone != nil {
		done := wb.closeDone
		wb.mu.Unlock()
		select {
		case <-done:
			return wb.closeErr
		case <-ctx.Done():
			return fmt.Errorf("hoard: write-behind %q: close: %w", wb.name, context.Cause(ctx))
		}
	}
	wb.closed = true
	wb.closeDone = make(chan struct{})
	idle := make(chan struct{})
	if wb.active == 0 {
		close(idle)
	} else {
		wb.idle = idle
	}
	wb.mu.Unlock()

	err := wb.drain(ctx, idle)
	if err != nil {
		err = wb.giveUp(ctx, err)
	}
	wb.stop()
	wb.workers.Wait()
	wb.hurryMu.Lock()
	wb.hurryCancel()
	wb.hurryMu.Unlock()
	if qerr := wb.opts.Queue.Close(context.WithoutCancel(ctx)); qerr != nil {
		err = errors.Join(err, qerr)
	}
	wb.closeErr = err
	close(wb.closeDone)
	return err
}

// drain waits for the Puts in progress, then for the queue to be stored.
func (wb *WriteBehind[V]) drain(ctx context.Context, idle <-chan struct{}) error {
	select {
	case <-idle:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return wb.flush(ctx)
}

// giveUp describes a Close that could not drain: the writes left behind,
// and where they are.
func (wb *WriteBehind[V]) giveUp(ctx context.Context, cause error) error {
	// The workers are stopped first so the count is final for a memory
	// queue; the count is a best effort for a remote one.
	wb.stop()
	wb.workers.Wait()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	where := "kept in the queue for the next instance to store"
	if _, ok := wb.opts.Queue.(*MemoryQueue[V]); ok {
		where = "lost with the memory queue"
	}
	s, err := wb.opts.Queue.Stats(sctx)
	if err != nil {
		return fmt.Errorf("hoard: write-behind %q: close gave up before the queue was stored (%s): %w", wb.name, where, cause)
	}
	return fmt.Errorf("hoard: write-behind %q: close gave up with %d writes not stored (%s): %w", wb.name, s.Depth, where, cause)
}
