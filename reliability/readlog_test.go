package reliability_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// The phases of an outage, as a reader sees them when its read begins.
const (
	phaseBefore     int32 = iota // Redis up, nothing changed yet
	phaseOutage                  // Redis unreachable
	phaseRecovering              // Redis back, recovery not done on every instance
	phaseAfter                   // every breaker closed (deferred changes replayed) and every bus subscribed again
	phaseCount
)

var phaseNames = [phaseCount]string{"before", "outage", "recovering", "after"}

// Row values: the rows of the outage test hold "id@version".
func rowValue(id string, version uint64) string { return id + "@" + strconv.FormatUint(version, 10) }

// valueVersion returns the version in a row value, or false when v is not
// one.
func valueVersion(id, v string) (uint64, bool) {
	rest, ok := strings.CutPrefix(v, id+"@")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil
}

// changeRow commits a change of id's row: its next version.
func changeRow(src *memStore[string], id string) {
	_, version, _ := src.Row(id)
	src.Put(id, rowValue(id, version+1))
}

// readLog classifies the reads of the outage test by the phase they began
// in: fresh (the row's latest committed version when the read began, or a
// later one), old (an older version), stale serves (ErrServedStale),
// errors, and wrong values. An old value read in phaseAfter is a stale
// read: the failure the test looks for.
type readLog struct {
	t     *testing.T
	phase atomic.Int32
	out   [phaseCount]tally
	mu    sync.Mutex
	took  [phaseCount][]time.Duration // guarded by mu: how long each read took
	// staleAfter holds the first stale reads after recovery, to report.
	staleAfter []string // guarded by mu
}

// record classifies a read of id from cache on instance that began in
// phase, against src's row: version want when the read began, latest when
// it ended. A read may return any version committed before it ended; it is
// old when that version is older than want.
func (l *readLog) record(phase int32, instance, cache, id string, want, latest uint64, v string, err error, took time.Duration) {
	l.mu.Lock()
	l.took[phase] = append(l.took[phase], took)
	l.mu.Unlock()
	out := &l.out[phase]
	out.add("reads", 1)
	if err != nil && !errors.Is(err, hoard.ErrServedStale) {
		out.add("error", 1)
		if out.get("error") <= 3 {
			l.t.Logf("%s: %s Get(%s/%s): %v", phaseNames[phase], instance, cache, id, err)
		}
		return
	}
	if err != nil {
		out.add("stale_serve", 1)
	}
	got, ok := valueVersion(id, v)
	switch {
	case !ok || got > latest:
		out.add("wrong", 1)
		l.t.Errorf("%s: %s Get(%s/%s) = %q, %v: not a committed version of the row (latest %d)", phaseNames[phase], instance, cache, id, v, err, latest)
	case got >= want:
		out.add("fresh", 1)
	default:
		out.add("old", 1)
		out.add("old:"+cache, 1)
		if phase == phaseAfter {
			l.mu.Lock()
			if len(l.staleAfter) < 10 {
				l.staleAfter = append(l.staleAfter, fmt.Sprintf("%s Get(%s/%s) = %q, latest %d", instance, cache, id, v, want))
			}
			l.mu.Unlock()
		}
	}
}

func (l *readLog) report() string {
	var b strings.Builder
	for p := range phaseCount {
		l.mu.Lock()
		took := latencies(l.took[p])
		l.mu.Unlock()
		fmt.Fprintf(&b, "\n  %-10s %v\n  %-10s %s", phaseNames[p], &l.out[p], "", took)
	}
	return b.String()
}
