package hoard

import (
	"hash/maphash"
	"sync/atomic"
	"time"
)

// Pacing XFetch's draws.
//
// In the paper's model every read draws, so the first draw to fire comes
// about delta*beta*(ln(λ*delta*beta) + 0.58) before expiry for λ reads per
// second: the hotter the key, the earlier it is refreshed, and at tens of
// thousands of reads per second a value lives little more than half its
// TTL. hoard makes at most EarlyRefresh.Draws draws per key and
// process per delta; the reads in between keep the last draw's verdict (no
// refresh). Each draw is still the paper's, so the lead before expiry is
// bounded by delta*beta*(ln(N*K*beta) + 0.58) for N processes making K draws
// per delta, whatever the read rate, and with K = 16 the chance that no
// process has fired a delta before expiry (a reader might then wait for the
// recompute) is below exp(-16/e) ≈ 0.3% with one process, and negligible
// with several. A key read less often than K times per delta draws on every
// read, as in the paper.

// drawSlots is how many keys a pacer follows at once. Two keys near their
// expiry in the same slot take it in turns, each replacing the other, and
// so both draw on every read: the paper's behaviour, never fewer draws.
const drawSlots = 256

// drawPacer says when a key may draw again.
type drawPacer struct {
	seed  maphash.Seed
	slots [drawSlots]atomic.Pointer[drawSlot]
}

// drawSlot is the pacing state of one version of one key: a new entry (a
// new expiry) starts a new slot.
type drawSlot struct {
	id      string
	expires int64        // the entry's ExpiresAt, Unix ns
	next    atomic.Int64 // when the next draw may happen, Unix ns
}

func newDrawPacer() *drawPacer {
	return &drawPacer{seed: maphash.MakeSeed()}
}

// draw reports whether the entry of id expiring at expires may draw at now,
// and if so makes the next draw wait interval.
func (p *drawPacer) draw(id string, expires, now time.Time, interval time.Duration) bool {
	if interval <= 0 {
		return true
	}
	slot := &p.slots[maphash.String(p.seed, id)%drawSlots]
	exp, at := expires.UnixNano(), now.UnixNano()
	if s := slot.Load(); s != nil && s.expires == exp && s.id == id {
		next := s.next.Load()
		return at >= next && s.next.CompareAndSwap(next, at+int64(interval))
	}
	s := &drawSlot{id: id, expires: exp}
	s.next.Store(at + int64(interval))
	slot.Store(s)
	return true
}
