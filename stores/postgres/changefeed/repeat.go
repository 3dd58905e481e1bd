package changefeed

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
)

// A load that read a row before its change committed can write the old
// value into the cache after the change's invalidation (the key was absent
// when it began, so nothing stops it): cache-aside's classic race, which no
// invalidation sent once can close. The feed applies each transaction's
// invalidations a second time, Options.Repeat after the first, and confirms
// the transaction only then, so a consumer that dies in between replays
// both.

// repeat is a transaction applied once, waiting for its second application.
type repeat struct {
	at     time.Time
	inv    Invalidations
	flush  bool
	before pglogrepl.LSN // what was confirmed before the transaction
	end    pglogrepl.LSN
}

// position is what the server may be told is applied: before the first
// transaction still waiting for its repeat, or everything seen.
func (s *session) position() pglogrepl.LSN {
	if len(s.repeats) > 0 {
		return s.repeats[0].before
	}
	return s.confirmed
}

// deadline is when the next repeat is due, or next when none is sooner.
func (s *session) deadline(next time.Time) time.Time {
	if len(s.repeats) > 0 && s.repeats[0].at.Before(next) {
		return s.repeats[0].at
	}
	return next
}

// repeatDue applies the repeats that are due; it reports whether any was.
func (s *session) repeatDue(ctx context.Context) (bool, error) {
	now, done := time.Now(), 0
	for _, r := range s.repeats {
		if r.at.After(now) {
			break
		}
		if r.flush {
			if err := s.f.opts.Sink.Flush(ctx); err != nil {
				return false, fmt.Errorf("hoard: changefeed: repeated flush (the transaction ending at %s is replayed): %w", r.end, err)
			}
		}
		if !r.inv.empty() {
			if err := s.f.opts.Sink.Invalidate(ctx, r.inv); err != nil {
				return false, fmt.Errorf("hoard: changefeed: repeated sink (the transaction ending at %s is replayed): %w", r.end, err)
			}
		}
		done++
	}
	s.repeats = s.repeats[done:]
	s.f.pending.Store(int64(len(s.repeats)))
	return done > 0, nil
}
