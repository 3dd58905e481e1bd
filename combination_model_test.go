package hoard_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard"
)

// The reference model of the combination test: the database (what every
// loader reads and every store writes), what each value is, and what each
// instance may still serve. Its checks turn the README's promises into
// comparisons:
//
//   - no stale read: a read that begins after a write or an invalidation
//     returned (and the bus delivered it to the reader's instance, or, for
//     tags and namespaces, MaxStaleness passed) gets a value at least as
//     new as the database held when the invalidation began; stale serves
//     (ErrServedStale) too, as an invalidated entry is never served;
//   - no entry served past its expiry: a value read without error was
//     loaded during the read, or some tier was handed an entry of it still
//     fresh when the read began;
//   - the fail-safe revives a stale value only after its source failed:
//     a write that makes an old value fresh again is justified by a
//     failure of the load (or its "not modified") in the same call;
//   - at most one load of a key at a time across instances with a locker;
//   - nothing a failed write wrote is ever read;
//   - write-behind: every acknowledged write reaches the store (checked at
//     the end, see comboWorld.finish).

// comboRow is the cached value: which database state (Rev) it is, and
// which load or write produced it (Load), so the model can tell stale from
// fresh and follow each value through the tiers.
type comboRow struct {
	ID   string `json:"id"`
	Rev  uint64 `json:"rev"`
	Load uint64 `json:"load"`
}

// tkey names a row: a table (one Aside per instance) and an id.
type tkey struct {
	table int
	id    string
}

func (k tkey) String() string { return fmt.Sprintf("t%d/%s", k.table, k.id) }

// dbRow is the state the database holds for a key.
type dbRow struct {
	rev, version uint64
	present      bool
}

// revInfo is one database state: made by an out-of-band update, a
// write-through or a write-behind. Its version is the one the store orders
// writes by.
type revInfo struct {
	tk         tkey
	version    uint64
	hasVersion bool
	present    bool
	committed  bool   // the database held it at some point
	failed     bool   // the write that made it returned an error
	op         uint64 // the op that made it
	behindEnd  uint64 // for a write-behind's delete: see valueInfo.behindEnd
}

// valueInfo is one value: a load's result or a write's.
type valueInfo struct {
	tk       tkey
	rev      uint64
	returned uint64 // seq when the loader returned it; 0 for a write's value
	// behindEnd is, for a write-behind's value, the seq when its Put
	// returned (max while it runs): only invalidations that began after it
	// must keep it from readers. Write-behind writes the cache with Set,
	// so a change racing the Put may leave its older value in the cache
	// until its TTL; the README says so.
	behindEnd uint64
	// loadOp is the op whose load made it (0 for a write's value).
	loadOp uint64
	// writes are the entries of it handed to a tier, recorded before the
	// tier had them, and retracted when the tier refused them.
	writes []*tierWrite
}

type tierWrite struct {
	expires   time.Time
	tier      string // "memory" or "redis"
	retracted bool
}

// maxExpires returns the latest expiry of the entries of v a tier may
// hold, and whether there is any.
func (v *valueInfo) maxExpires() (time.Time, bool) {
	var latest time.Time
	any := false
	for _, w := range v.writes {
		if !w.retracted {
			if !any || w.expires.After(latest) {
				latest = w.expires
			}
			any = true
		}
	}
	return latest, any
}

// raise is a version that reads must reach from some point on: made by
// a write or invalidation that began at seq start.
type raise struct {
	version uint64
	start   uint64
	tag     bool // made by a tag invalidation
	// soft: made by an Expire that keeps the value for the fail-safe. A
	// stale serve (ErrServedStale) need not honour it, nor a read once a
	// load of the key failed at the source since at (the fail-safe
	// serves the kept value, and its throttle makes it fresh again).
	soft bool
	at   time.Time // fake time when the change began
}

// pendingFloor is a floor that an instance owes once it has heard of an
// invalidation it lost on the bus.
type pendingFloor struct {
	tk    tkey
	raise raise
	mark  uint64    // the bus mark: applied once the bus has recovered past it
	until time.Time // for tags and namespaces: applied after MaxStaleness; zero: never by time
}

// activeLoad is a single-key load under way.
type activeLoad struct {
	inst       int
	op         uint64
	lockFaults int64  // locker faults injected when its op began
	nsBumps    uint64 // namespace bumps returned when its op began
	lockWaits  int64  // lock timeouts when it began
	noLock     bool   // its call skipped the locker (GetWith's NoLock)
}

type comboModel struct {
	seq atomic.Uint64 // orders the events of every goroutine

	mu        sync.Mutex // guards everything below
	rows      map[tkey]dbRow
	revs      map[uint64]*revInfo
	nextRev   uint64
	absents   map[tkey][]*revInfo        // the absent states of each key
	byVersion map[tkey]map[uint64]uint64 // version → rev
	values    map[uint64]*valueInfo
	nextValue uint64
	floors    []map[tkey][]raise // per instance: the raises applied
	pending   [][]pendingFloor   // per instance
	active    map[tkey][]activeLoad
	justified map[tkey]time.Time // when a load of the key last failed at the source or confirmed its value
	nsBumps   uint64             // bumps begun
	// nsBumpsDone counts the bumps that returned.
	nsBumpsDone uint64
	loads       map[tkey][]int // loads per key per instance
	most        map[tkey][]int // the most loads per key per instance at once
	wbAcked     map[tkey]uint64
	saves       int

	lockFaults atomic.Int64
	failure    atomic.Pointer[string] // the first violation
	violations []string
	// onFirst, when set, runs at the first violation (to keep the trace
	// as it was then).
	onFirst func()
	// excused counts each documented trade-off the model excuses (see
	// comboTradeOffs).
	excused func(tradeOff, what string)
	opEnds  map[uint64]uint64 // op → seq when its call returned
	left    map[uint64]bool   // ops whose caller left before the answer
}

func newComboModel(instances int) *comboModel {
	m := &comboModel{
		rows:      make(map[tkey]dbRow),
		revs:      make(map[uint64]*revInfo),
		absents:   make(map[tkey][]*revInfo),
		byVersion: make(map[tkey]map[uint64]uint64),
		values:    make(map[uint64]*valueInfo),
		floors:    make([]map[tkey][]raise, instances),
		pending:   make([][]pendingFloor, instances),
		active:    make(map[tkey][]activeLoad),
		justified: make(map[tkey]time.Time),
		opEnds:    make(map[uint64]uint64),
		left:      make(map[uint64]bool),
		loads:     make(map[tkey][]int),
		most:      make(map[tkey][]int),
		wbAcked:   make(map[tkey]uint64),
	}
	for i := range m.floors {
		m.floors[i] = make(map[tkey][]raise)
	}
	return m
}

func (m *comboModel) next() uint64 { return m.seq.Add(1) }

// violate records a broken promise; the run stops at the first.
func (m *comboModel) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if m.failure.CompareAndSwap(nil, &msg) && m.onFirst != nil {
		m.onFirst()
	}
	m.mu.Lock()
	if len(m.violations) < 20 {
		m.violations = append(m.violations, msg)
	}
	m.mu.Unlock()
}

func (m *comboModel) failed() bool { return m.failure.Load() != nil }

// excuse excuses a documented trade-off, counting it, and reports true.
func (m *comboModel) excuse(tradeOff, what string) bool {
	if _, known := comboTradeOffs[tradeOff]; !known {
		panic("combination test: excuse of an undocumented trade-off " + tradeOff)
	}
	if m.excused != nil {
		m.excused(tradeOff, what)
	}
	return true
}

// ended records that op's call returned; left, that its caller left
// before the answer (its load may outlive it).
func (m *comboModel) ended(op uint64, left bool) {
	end := m.seq.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opEnds[op] = end
	if left {
		m.left[op] = true
	}
}

// newRev makes a database state, not yet committed; version 0 for one
// whose version a Versioner will give.
func (m *comboModel) newRev(tk tkey, present bool, version uint64, op uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.newRevLocked(tk, present, version, op)
}

func (m *comboModel) newRevLocked(tk tkey, present bool, version uint64, op uint64) uint64 {
	m.nextRev++
	r := &revInfo{tk: tk, present: present, version: version, hasVersion: version != 0, op: op}
	m.revs[m.nextRev] = r
	if version != 0 {
		m.versioned(m.nextRev, r)
	}
	return m.nextRev
}

// versioned indexes a state by its version.
func (m *comboModel) versioned(rev uint64, r *revInfo) {
	if !r.present {
		m.absents[r.tk] = append(m.absents[r.tk], r)
	}
	if m.byVersion[r.tk] == nil {
		m.byVersion[r.tk] = make(map[uint64]uint64)
	}
	m.byVersion[r.tk][r.version] = rev
}

// revOf returns the state of tk written at version, 0 for none.
func (m *comboModel) revOf(tk tkey, version uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byVersion[tk][version]
}

// versionOf returns a state's version, 0 while it has none.
func (m *comboModel) versionOf(rev uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.revs[rev]; r != nil {
		return r.version
	}
	return 0
}

// setVersion records the version a Versioner gave a write's state.
func (m *comboModel) setVersion(rev, version uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.revs[rev]
	if r == nil {
		return
	}
	r.version, r.hasVersion = version, true
	m.versioned(rev, r)
}

// failRev marks the state of a write that returned an error.
func (m *comboModel) failRev(rev uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.revs[rev]; r != nil {
		r.failed = true
	}
}

// commit applies a state to the database unless it holds a newer version,
// as a Store must; it reports whether it applied it.
func (m *comboModel) commit(rev uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.revs[rev]
	cur := m.rows[r.tk]
	m.saves++
	if r.version <= cur.version {
		return false
	}
	m.rows[r.tk] = dbRow{rev: rev, version: r.version, present: r.present}
	r.committed = true
	return true
}

// read returns the database's state of tk.
func (m *comboModel) read(tk tkey) dbRow {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rows[tk]
}

// versions returns the database's versions of tks.
func (m *comboModel) versions(tks []tkey) []uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]uint64, len(tks))
	for i, tk := range tks {
		out[i] = m.rows[tk].version
	}
	return out
}

// newValue records a value a loader or a write is about to return; a
// write-behind's (behind) until its Put returns (see behindDone).
func (m *comboModel) newValue(tk tkey, rev uint64, loadOp uint64, behind bool) comboRow {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextValue++
	vi := &valueInfo{tk: tk, rev: rev, loadOp: loadOp}
	if loadOp != 0 {
		vi.returned = m.seq.Add(1)
	}
	if behind {
		vi.behindEnd = math.MaxUint64
	}
	m.values[m.nextValue] = vi
	return comboRow{ID: tk.id, Rev: rev, Load: m.nextValue}
}

// confirmed records that a load answered "not modified" for v: v is as
// fresh as if it had just been loaded.
func (m *comboModel) confirmed(v comboRow) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if vi := m.values[v.Load]; vi != nil {
		vi.returned = m.seq.Add(1)
	}
}

// justify records that a load of tk failed at the source, or confirmed
// its value (not modified), at now: the fail-safe may then make a stale
// value of it fresh again.
func (m *comboModel) justify(tk tkey, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.After(m.justified[tk]) {
		m.justified[tk] = now
	}
}

// writing records an entry about to be handed to a tier, and returns
// what to call with the tier's answer (stored), and whether the entry can
// still be served (current: not under the key of a namespace version a
// bump has left behind, which the instances that heard of the bump no
// longer read, nor with a tag invalidated since its epoch, which no
// reader serves). A write that makes a value fresh
// beyond every entry of it so far, once it had gone stale, is a revival
// (the fail-safe's throttle, or a "not modified"): a load of the key must
// have failed at the source, or confirmed the value, since it went stale.
//
// A load's own first write of its value to a tier is no revival, however
// late it lands: with SharedBudget.BackgroundWrites the shared tier's
// write-back may come after the memory tier's shorter entry expired, and
// it keeps the expiry the load gave the value.
func (m *comboModel) writing(e *hoard.Entry[comboRow], now time.Time, who string, inst int, op uint64, tier string) func(stored, current bool) {
	if e.Negative || e.ExpiresAt.IsZero() {
		return func(bool, bool) {}
	}
	m.mu.Lock()
	vi := m.values[e.Value.Load]
	if vi == nil {
		m.mu.Unlock()
		m.violate("%s: a tier was handed %+v, a value no loader or write made", who, e.Value)
		return func(bool, bool) {}
	}
	prev, had := vi.maxExpires()
	own := op != 0 && op == vi.loadOp && !slices.ContainsFunc(vi.writes, func(w *tierWrite) bool { return w.tier == tier })
	revival := had && !own && e.ExpiresAt.After(prev) && !now.Before(prev) && e.ExpiresAt.After(now)
	justified := !m.justified[vi.tk].Before(prev)
	// A revival of a value an invalidation that returned has made stale:
	// the fail-safe must never serve it again.
	var version, floor uint64
	if revival {
		version = m.revs[vi.rev].version
		floor = hardFloorOf(m.floors[inst][vi.tk], vi.behindEnd)
	}
	invalid := revival && version < floor
	w := &tierWrite{expires: e.ExpiresAt, tier: tier}
	vi.writes = append(vi.writes, w)
	tk := vi.tk
	m.mu.Unlock()
	if revival && !justified {
		m.violate("%v: value %+v (stale since %v) was made fresh again until %v at %v by %s, though no load of it failed at the source since: "+
			"the next reader gets it with a nil error", tk, e.Value, stamp(prev), stamp(e.ExpiresAt), stamp(now), who)
	}
	expires := e.ExpiresAt
	value := e.Value
	return func(stored, current bool) {
		if !stored {
			m.mu.Lock()
			w.retracted = true
			m.mu.Unlock()
			return
		}
		// A revival the tier refused (its token moved with the
		// invalidation) serves nothing; one under a key a bump left
		// behind serves only the instances that owe no floor of it.
		if invalid && current {
			m.violate("%v: %s revived %+v (version %d) until %v, though an invalidation that returned guarantees version ≥ %d: the fail-safe must never serve an invalidated entry",
				tk, who, value, version, stamp(expires), floor)
		}
	}
}

// raise records that reads of tks on every instance that heard of it must
// now get versions of at least vs: at once on inst (whose own tiers the op
// changed) and on the instances whose bus delivered it; on the others once
// their bus has recovered, or, for tags and namespaces (byTime), once
// MaxStaleness has passed.
func (m *comboModel) raise(inst int, rz raise, tks []tkey, vs []uint64, buses []busState, byTime time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.floors {
		if i != inst && buses[i].pending { // inst -1: every instance may owe it
			for j, tk := range tks {
				rz.version = vs[j]
				m.pending[i] = append(m.pending[i], pendingFloor{tk: tk, raise: rz, mark: buses[i].mark, until: byTime})
			}
			continue
		}
		for j, tk := range tks {
			rz.version = vs[j]
			m.floors[i][tk] = append(m.floors[i][tk], rz)
		}
	}
}

// busState is what an instance's bus said of its losses when an op ended.
type busState struct {
	pending bool
	mark    uint64
}

// floor returns the raises a read of tk on inst beginning now must
// honour, applying those the instance owes and may now pay, and the
// version they guarantee.
func (m *comboModel) floor(inst int, tk tkey, recovered func(mark uint64) bool, now time.Time) ([]raise, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ps := m.pending[inst]; len(ps) > 0 {
		keep := ps[:0]
		for _, p := range ps {
			if recovered(p.mark) || (!p.until.IsZero() && now.After(p.until)) {
				m.floors[inst][p.tk] = append(m.floors[inst][p.tk], p.raise)
				continue
			}
			keep = append(keep, p)
		}
		m.pending[inst] = keep
	}
	rs := m.floors[inst][tk]
	return slices.Clip(rs), floorOf(rs, 0)
}

// floorOf is the version raises guarantee to a value whose write returned
// at seq after (0: all of them).
func floorOf(rs []raise, after uint64) uint64 {
	var v uint64
	for _, r := range rs {
		if r.start > after {
			v = max(v, r.version)
		}
	}
	return v
}

// hardFloorOf is floorOf without the soft raises (Expire's): what the
// fail-safe, reviving a kept value, must still honour.
func hardFloorOf(rs []raise, after uint64) uint64 {
	var v uint64
	for _, r := range rs {
		if r.start > after && !r.soft {
			v = max(v, r.version)
		}
	}
	return v
}

// readFloorLocked is the version a read of tk must reach, given its
// raises, for a value whose write returned at seq after: a stale serve
// need not honour the soft raises, nor any read once a load of tk failed
// at the source since the Expire began (the fail-safe may serve the
// kept value, and its throttle serve it as fresh).
func (m *comboModel) readFloorLocked(tk tkey, rs []raise, after uint64, stale bool) (floor uint64, soft bool) {
	for _, r := range rs {
		if r.start <= after {
			continue
		}
		if r.soft && (stale || !m.justified[tk].Before(r.at)) {
			continue
		}
		if r.version > floor {
			floor, soft = r.version, r.soft
		} else if r.version == floor && !r.soft {
			soft = false
		}
	}
	return floor, soft
}

// readRec is one read under way.
type readRec struct {
	inst  int
	tk    tkey
	op    uint64
	start uint64    // seq
	t0    time.Time // fake time
	floor uint64
	rs    []raise
	// versionUnread: the instance failed to read the namespace's version
	// since the last bump began (the trade-off L).
	versionUnread bool
}

// checkValue checks a value a read returned; stale: with ErrServedStale.
func (m *comboModel) checkValue(r readRec, v comboRow, stale bool) {
	m.mu.Lock()
	ri := m.revs[v.Rev]
	vi := m.values[v.Load]
	var ric revInfo
	var vic valueInfo
	var expires time.Time
	var written bool
	if ri != nil {
		ric = *ri
	}
	if vi != nil {
		vic = *vi
		expires, written = vi.maxExpires()
	}
	floor, soft := m.readFloorLocked(r.tk, r.rs, vic.behindEnd, stale)
	m.mu.Unlock()
	how := "read"
	if stale {
		how = "stale serve (ErrServedStale)"
	}
	expired := ""
	if soft {
		expired = " (an Expire's: no load of it failed since, so the fail-safe may not serve the kept value)"
	}
	switch {
	case ri == nil || vi == nil || ric.tk != r.tk || vic.rev != v.Rev || v.ID != r.tk.id:
		m.violate("op %d: %s of %v on instance %d returned %+v, which is not a value of that key", r.op, how, r.tk, r.inst, v)
	case !ric.present:
		m.violate("op %d: %s of %v on instance %d returned %+v, a value of a deleted row", r.op, how, r.tk, r.inst, v)
	case !ric.hasVersion:
		m.violate("op %d: %s of %v on instance %d returned %+v, a write's value that never got a version", r.op, how, r.tk, r.inst, v)
	case ric.failed && !ric.committed:
		m.violate("op %d: %s of %v on instance %d returned %+v, written by op %d, which failed and left the store without it",
			r.op, how, r.tk, r.inst, v, ric.op)
	case ric.version < floor:
		what := fmt.Sprintf("op %d: STALE %s of %v on instance %d: got %+v at version %d, but a write or invalidation that returned before the read began guarantees version ≥ %d%s",
			r.op, how, r.tk, r.inst, v, ric.version, floor, expired)
		switch {
		case r.versionUnread && m.excuse("L", what):
		default:
			m.violate("%s", what)
		}
	case !stale && vic.returned <= r.start && written && !expires.After(r.t0):
		// A value never stored can only come from a flight joined as its
		// load ended: loaded moments ago, it is fresh.
		what := fmt.Sprintf("op %d: read of %v on instance %d returned %+v with a nil error, but no tier holds an entry of it fresh at the read's start %v (latest expiry %v)",
			r.op, r.tk, r.inst, v, stamp(r.t0), stamp(expires))
		m.violate("%s", what)
	}
}

// checkAbsent checks a "not found" a read returned.
func (m *comboModel) checkAbsent(r readRec, stale bool) {
	if r.floor == 0 {
		return
	}
	m.mu.Lock()
	var newest uint64
	ok := false
	for _, a := range m.absents[r.tk] {
		newest = max(newest, a.version)
		floor, _ := m.readFloorLocked(r.tk, r.rs, a.behindEnd, stale)
		ok = ok || a.version >= floor
	}
	if floor, _ := m.readFloorLocked(r.tk, r.rs, 0, stale); floor == 0 {
		ok = true // only soft raises, passed
	}
	m.mu.Unlock()
	if !ok && r.versionUnread && m.excuse("L", fmt.Sprintf("op %d: \"not found\" of %v on instance %d under an old namespace version", r.op, r.tk, r.inst)) {
		return
	}
	if !ok {
		how := "read"
		if stale {
			how = "stale serve (ErrServedStale)"
		}
		m.violate("op %d: STALE %s of %v on instance %d: got \"not found\", but the row was present at version ≥ %d since a write or invalidation that returned before the read began (newest deletion: version %d)",
			r.op, how, r.tk, r.inst, r.floor, newest)
	}
}

// loadBegins records a single-key load and checks there is no other of
// the key under way elsewhere, with a locker that had no fault.
//
// Two loads clash only if nothing can excuse them: no locker fault since
// the earlier's op began (both took their locks after), no lock wait that
// ran out since the earlier load began, and no namespace bump begun but
// for those that had returned when the earlier's op began (the two may
// then lock different keys: a bump under way as the earlier began may
// have moved the counter after it read it).
func (m *comboModel) loadBegins(tk tkey, inst int, op, opBumps uint64, opLockFaults int64, locker, noLock bool, lockWaits int64) func() {
	m.mu.Lock()
	a := activeLoad{inst: inst, op: op, lockFaults: opLockFaults, nsBumps: opBumps, lockWaits: lockWaits, noLock: noLock}
	var clash *activeLoad
	if locker && !noLock {
		for _, o := range m.active[tk] {
			if !o.noLock && o.lockFaults == m.lockFaults.Load() && o.nsBumps == m.nsBumps && o.lockWaits == a.lockWaits {
				clash = &o
				break
			}
		}
	}
	m.active[tk] = append(m.active[tk], a)
	if m.loads[tk] == nil {
		m.loads[tk] = make([]int, len(m.floors))
		m.most[tk] = make([]int, len(m.floors))
	}
	m.loads[tk][inst]++
	here := 0
	for _, o := range m.active[tk] {
		if o.inst == inst {
			here++
		}
	}
	m.most[tk][inst] = max(m.most[tk][inst], here)
	m.mu.Unlock()
	if clash != nil {
		m.violate("two loads of %v at once with a locker and no fault of it: op %d on instance %d, op %d on instance %d",
			tk, clash.op, clash.inst, op, inst)
	}
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		as := m.active[tk]
		for i := range as {
			if as[i].op == op && as[i].inst == inst {
				m.active[tk] = slices.Delete(as, i, i+1)
				break
			}
		}
	}
}

// loadCounts returns how many loads of tk each instance made, and the
// most it ran at once.
func (m *comboModel) loadCounts(tk tkey) (loads, most []int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	loads, most = make([]int, len(m.floors)), make([]int, len(m.floors))
	copy(loads, m.loads[tk])
	copy(most, m.most[tk])
	return loads, most
}

// bumped records that a namespace bump begins; bumpDone, that its call
// returned.
func (m *comboModel) bumped() {
	m.mu.Lock()
	m.nsBumps++
	m.mu.Unlock()
}

func (m *comboModel) bumpDone() {
	m.mu.Lock()
	m.nsBumpsDone++
	m.mu.Unlock()
}

// bumps is how many namespace bumps had returned so far: an op that
// begins now uses the version of the last of them, or a later one (a
// bump under way may or may not have moved the counter yet).
func (m *comboModel) bumps() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nsBumpsDone
}

// writeDone records that the write-behind or write-through Put of value
// v, or Delete of state rev, returned.
func (m *comboModel) writeDone(v comboRow, rev uint64) {
	end := m.seq.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if vi := m.values[v.Load]; vi != nil {
		if vi.behindEnd != 0 {
			vi.behindEnd = end
		}
	}
	if r := m.revs[rev]; r != nil && r.behindEnd != 0 {
		r.behindEnd = end
	}
}

// behind marks state rev as a write-behind's delete, under way.
func (m *comboModel) behind(rev uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revs[rev].behindEnd = math.MaxUint64
}

// acked records a write-behind write that Put acknowledged.
func (m *comboModel) acked(tk tkey, rev uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.revs[rev]; r != nil && r.hasVersion {
		m.wbAcked[tk] = max(m.wbAcked[tk], r.version)
	}
}

// checkStored checks that every acknowledged write-behind write reached
// the store: the database holds its version or a newer one.
func (m *comboModel) checkStored() {
	m.mu.Lock()
	var lost []string
	for tk, v := range m.wbAcked {
		if m.rows[tk].version < v {
			lost = append(lost, fmt.Sprintf("%v: acknowledged version %d, store holds %d", tk, v, m.rows[tk].version))
		}
	}
	m.mu.Unlock()
	slices.Sort(lost)
	if len(lost) > 0 {
		m.violate("LOST write-behind writes after Flush: %s", strings.Join(lost, "; "))
	}
}

// stamp prints a fake time compactly: seconds since the run's start.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("T+%.3fs", t.Sub(comboEpoch).Seconds())
}

// comboEpoch is where every run's fake clock starts.
var comboEpoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// comboTrace is a ring buffer of what the run did, printed on failure.
type comboTrace struct {
	mu   sync.Mutex
	buf  []string
	next int
	full bool
}

func newComboTrace(n int) *comboTrace { return &comboTrace{buf: make([]string, n)} }

func (t *comboTrace) add(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	t.mu.Lock()
	t.buf[t.next] = s
	t.next = (t.next + 1) % len(t.buf)
	if t.next == 0 {
		t.full = true
	}
	t.mu.Unlock()
}

func (t *comboTrace) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	if t.full {
		for _, s := range t.buf[t.next:] {
			b.WriteString("  " + s + "\n")
		}
	}
	for _, s := range t.buf[:t.next] {
		b.WriteString("  " + s + "\n")
	}
	return b.String()
}
