package changefeed_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/stores/postgres/changefeed"
)

// BenchmarkFeed measures what the change feed adds to a write made from
// outside the application, on the real PostgreSQL at HOARD_POSTGRES_URL
// (wal_level = logical; skipped otherwise):
//
//   - commit: the baseline, an UPDATE of one row committed by a plain pgx
//     pool with no feed listening;
//   - commit+invalidated: the same UPDATE, the operation ending when the
//     feed's Sink was called with the row's id: ns/op minus commit's is
//     the time from commit to invalidation;
//   - batch=100: 100 rows updated in one transaction, until the Sink saw
//     them (one call: a transaction's invalidations are applied together);
//   - stream: 1,000 single-row transactions committed back to back, the
//     operation ending when the Sink saw the last: changes/s is the rate
//     the feed keeps up with.
//
// The feed's repeat pass (Options.Repeat, 1 s later) is left on, as in
// production: it calls the Sink a second time, after the measured first.
func BenchmarkFeed(b *testing.B) {
	fx := newFixture(b)
	const rows = 1000
	exec(b, fx.pool, "insert into "+fx.table+" (id, name, team) select g, 'n', 't' from generate_series(1, $1) g", rows)

	b.Run("commit", func(b *testing.B) {
		i := 0
		for b.Loop() {
			exec(b, fx.pool, "update "+fx.table+" set name = $2 where id = $1", i%rows+1, strconv.Itoa(i))
			i++
		}
	})

	sink := newSeenSink()
	opts := fx.options(sink)
	opts.Repeat = 0 // the default
	// Each change names the row and the name it was given, so a wait is
	// for its own change's invalidation, never for the repeat of an
	// earlier change of the row.
	opts.Tables = []changefeed.Table{{Name: fx.table, IDs: func(r changefeed.Row) []string { return []string{r["id"] + "/" + r["name"]} }}}
	f, stop := runFeed(b, opts)
	defer stop()
	waitUntil(b, "the feed streaming", func() bool { return f.Stats().Streaming })
	exec(b, fx.pool, "update "+fx.table+" set name = 'warm' where id = 1")
	sink.wait(b, "1/warm", 0)

	b.Run("commit+invalidated", func(b *testing.B) {
		i := 0
		for b.Loop() {
			id := i%rows + 1
			mark := sink.mark()
			exec(b, fx.pool, "update "+fx.table+" set name = $2 where id = $1", id, strconv.Itoa(i))
			sink.wait(b, strconv.Itoa(id)+"/"+strconv.Itoa(i), mark)
			i++
		}
	})

	b.Run("batch=100", func(b *testing.B) {
		i := 0
		for b.Loop() {
			first := (i*100)%rows + 1
			mark := sink.mark()
			exec(b, fx.pool, "update "+fx.table+" set name = $3 where id between $1 and $2", first, first+99, "b"+strconv.Itoa(i))
			sink.wait(b, strconv.Itoa(first+99)+"/b"+strconv.Itoa(i), mark)
			i++
		}
		b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "changes/s")
	})

	b.Run("stream", func(b *testing.B) {
		const n = 1000
		i := 0
		for b.Loop() {
			mark := sink.mark()
			batch := make([]string, 0, n)
			for j := range n {
				id := j%rows + 1
				batch = append(batch, fmt.Sprintf("update %s set name = 's%d' where id = %d", fx.table, i, id))
			}
			// One round trip for the lot, each statement its own
			// transaction: pgx sends a multi-statement string as a simple
			// query, which commits statement by statement.
			for start := 0; start < n; start += 100 {
				q := ""
				for _, s := range batch[start : start+100] {
					q += s + ";"
				}
				exec(b, fx.pool, q)
			}
			sink.wait(b, strconv.Itoa((n-1)%rows+1)+"/s"+strconv.Itoa(i), mark)
			i++
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "changes/s")
	})
}

// seenSink records when each id was last invalidated, by a sequence
// number, so a benchmark waits for the invalidation of its own change.
type seenSink struct {
	mu   sync.Mutex
	cond *sync.Cond
	seq  uint64
	last map[string]uint64
}

func newSeenSink() *seenSink {
	s := &seenSink{last: map[string]uint64{}}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *seenSink) Invalidate(_ context.Context, inv changefeed.Invalidations) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	for _, id := range inv.IDs {
		s.last[id] = s.seq
	}
	s.cond.Broadcast()
	return nil
}

func (s *seenSink) Flush(context.Context) error { return nil }

// mark is the sequence number now: wait(id, mark) waits for an
// invalidation of id after it.
func (s *seenSink) mark() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

func (s *seenSink) wait(b testing.TB, id string, after uint64) {
	b.Helper()
	timer := time.AfterFunc(30*time.Second, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(30 * time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.last[id] <= after {
		if time.Now().After(deadline) {
			b.Fatalf("no invalidation of %s within 30s", id)
		}
		s.cond.Wait()
	}
}
