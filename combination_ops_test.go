package hoard_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/hoardtest"
)

// The operations of the combination test, the loaders and the store, the
// races it makes to order (interference), the bursts and the final close.

// opPlan is what an op's loads and calls do, drawn from the op's seed and
// carried in its ctx, so that loads in the background and calls deep in
// the Aside follow it too.
type opPlan struct {
	fail         bool          // the source fails
	panic        bool          // the loader panics
	slow         time.Duration // the loader takes this long (real time)
	advance      time.Duration // the load takes this long in fake time (XFetch's delta)
	cancelCaller bool          // the loader cancels the caller's ctx, then waits for its own
	precancel    bool          // the caller's ctx is canceled before the call
	notModified  bool          // answer ErrNotModified when the previous entry is current
	interfereAt  string        // the call (method, "load" or "Save") after which another op runs
	interfereN   int           // which such call of the op
	burst        *burstGate
	// callTags: the loader leaves the key's own tag to the call
	// (GetWith's CallOptions.Tags); noLock: the call skips the locker
	// (CallOptions.NoLock).
	callTags, noLock bool
}

// opCtx is one operation, in its ctx.
type opCtx struct {
	id     uint64
	kind   string
	inst   int
	nested bool
	plan   opPlan
	tks    []tkey
	rev    uint64 // the database state a write makes
	// nsBumps counts the namespace bumps returned before the op began: its
	// loads use that version or a later one. lockFaults counts the locker
	// faults injected before it began: its lock attempts come after.
	nsBumps    uint64
	lockFaults int64
	cancel     context.CancelCauseFunc
	calls      atomic.Int64
	fired      atomic.Bool

	mu       sync.Mutex // guards affected
	affected []tkey     // keys another op changed in the middle of this one
}

type opKey struct{}

func opOf(ctx context.Context) *opCtx {
	oc, _ := ctx.Value(opKey{}).(*opCtx)
	return oc
}

func (oc *opCtx) addAffected(tks ...tkey) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	oc.affected = append(oc.affected, tks...)
}

func (w *comboWorld) newOp(kind string, inst int, plan opPlan, tks ...tkey) *opCtx {
	return &opCtx{id: w.nextOp.Add(1), kind: kind, inst: inst, plan: plan, tks: tks, nsBumps: w.m.bumps(), lockFaults: w.m.lockFaults.Load()}
}

// context returns oc's ctx and the function that ends it.
func (w *comboWorld) context(oc *opCtx) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.WithValue(context.Background(), opKey{}, oc))
	oc.cancel = cancel
	if oc.plan.precancel {
		cancel(errCallerLeft)
	}
	return ctx, func() { cancel(nil) }
}

func (w *comboWorld) tab(inst, table int) *comboTab { return w.insts[inst].tabs[table] }

func (w *comboWorld) busStates() []busState {
	out := make([]busState, len(w.insts))
	for i, in := range w.insts {
		out[i].pending, out[i].mark = in.bus.Lost()
	}
	return out
}

// doubtNamespace records that, for MaxStaleness from now, instances may
// use different versions of the namespace.
func (w *comboWorld) doubtNamespace() {
	doubt := w.clock.Now().Add(w.cfg.maxStaleness + time.Millisecond)
	w.nsDoubt.Store(&doubt)
}

// blindness is what an instance's bus said of its losses at a point.
type blindness struct {
	pending bool
	mark    uint64
}

// sight returns what inst's bus says of its losses now.
func (w *comboWorld) sight(inst int) blindness {
	var b blindness
	b.pending, b.mark = w.insts[inst].bus.Lost()
	return b
}

// blind reports whether instance inst may not have known table's namespace
// version at some point between since (the op's start) and now: it had
// lost a bus message (a bump, perhaps) and not been told, or a bump failed
// after it may have moved the counter. Its deletes and write-throughs then
// may have gone to the keys of the version it knew, leaving the current
// keys as they are until their TTL (see the report of TestCombination: a
// lost bump message makes later invalidations from that instance miss).
// The model asks nothing of them.
func (w *comboWorld) blind(inst, table int, since blindness) bool {
	if !w.cfg.tables[table].namespace {
		return false
	}
	if doubt := w.nsDoubt.Load(); doubt != nil && w.clock.Now().Before(*doubt) {
		return true // a bump may have happened that nobody was told of
	}
	now := w.sight(inst)
	return since.pending || now.pending || now.mark != since.mark
}

// lockTimeouts is how many lock waits have run out, over every Aside.
func (w *comboWorld) lockTimeouts() int64 {
	var n int64
	for _, in := range w.insts {
		for _, tab := range in.tabs {
			n += tab.aside.Metrics().Snapshot().Total(hoard.EventLockTimeout)
		}
	}
	return n
}

// ---- reads ----

func (w *comboWorld) beginRead(oc *opCtx, inst int, tk tkey) readRec {
	in := w.insts[inst]
	r := readRec{inst: inst, tk: tk, op: oc.id}

	r.rs, r.floor = w.m.floor(inst, tk, in.bus.Recovered, w.clock.Now())
	r.t0 = w.clock.Now()
	r.start = w.m.next()
	return r
}

// endRead checks what a read returned.
func (w *comboWorld) endRead(r readRec, v comboRow, err error) string {
	// An instance that could not read the namespace's version since the
	// last bump began may use the one it knew before (the trade-off L).
	r.versionUnread = w.cfg.tables[r.tk.table].namespace && w.insts[r.inst].versionUnread.Load() > w.lastBump.Load()
	switch {
	case err == nil:
		w.m.checkValue(r, v, false)
		return fmt.Sprintf("rev %d (value %d)", v.Rev, v.Load)
	case errors.Is(err, hoard.ErrServedStale) && errors.Is(err, hoard.ErrNotFound):
		w.m.checkAbsent(r, true)
		return "stale not found"
	case errors.Is(err, hoard.ErrServedStale):
		w.m.checkValue(r, v, true)
		w.count("stale serves", 1)
		w.checkStaleReason(r, err)
		return fmt.Sprintf("stale rev %d (value %d)", v.Rev, v.Load)
	case errors.Is(err, hoard.ErrNotFound):
		w.m.checkAbsent(r, false)
		return "not found"
	}
	w.count("read errors", 1)
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] // a panic's stack
	}
	return "error: " + msg
}

// checkStaleReason checks why a read was served a stale value: the
// loader failed (an error beside ErrServedStale), or a wait the options
// bound ran out: the load's (FailSafe.SoftTimeout), the lock's, or the
// shared tier's read (SharedBudget.SoftTimeout, the trade-off M: the
// source did not fail).
func (w *comboWorld) checkStaleReason(r readRec, err error) {
	tc := w.cfg.tables[r.tk.table]
	msg := err.Error()
	switch {
	case strings.Contains(msg, "did not answer within the soft timeout"):
		if tc.budget == nil || tc.budget.SoftTimeout <= 0 || tc.failSafe <= 0 {
			// The trade-off M is a stale copy within FailSafe.Window.
			w.m.violate("op %d: stale serve of %v on instance %d past the shared tier's soft timeout, but table %d has no SharedBudget.SoftTimeout or no fail-safe window (%v)",
				r.op, r.tk, r.inst, r.tk.table, firstLine(err))
			return
		}
		w.m.excuse("M", fmt.Sprintf("op %d: stale serve of %v on instance %d: the shared tier's read ran past SharedBudget.SoftTimeout", r.op, r.tk, r.inst))
	case strings.Contains(msg, "ran past the soft timeout"):
		if tc.softTimeout <= 0 {
			w.m.violate("op %d: stale serve of %v on instance %d past the load's soft timeout, but table %d has no FailSafe.SoftTimeout (%v)",
				r.op, r.tk, r.inst, r.tk.table, firstLine(err))
		}
	case errors.Is(err, hoard.ErrLockTimeout):
		if w.locker == nil {
			w.m.violate("op %d: stale serve of %v on instance %d after a lock wait, without a locker (%v)", r.op, r.tk, r.inst, firstLine(err))
		}
	case msg == hoard.ErrServedStale.Error():
		w.m.violate("op %d: stale serve of %v on instance %d with no reason: no load failed, no wait ran out", r.op, r.tk, r.inst)
	}
}

func (w *comboWorld) opGet(inst, table int, id string, plan opPlan) *opCtx {
	tk := tkey{table, id}
	oc := w.newOp("get", inst, plan, tk)
	ctx, done := w.context(oc)
	defer done()
	r := w.beginRead(oc, inst, tk)
	v, err := w.get(ctx, inst, tk)
	w.m.ended(oc.id, plan.precancel || plan.cancelCaller)
	got := w.endRead(r, v, err)
	w.count("gets", 1)
	w.trace.add("op %d i%d get %v%s floor=%d t0=%s → %s", oc.id, inst, tk, plan, r.floor, stamp(r.t0), got)
	return oc
}

// opGetWith is a read through Aside.GetWith with drawn CallOptions: the
// value is checked as a Get's, and Source against it and the options (a
// call that skips a tier never hears from it; a stale serve says stale;
// a value or a "not found" names a tier or the loader). With call tags,
// the loader leaves the key's own tag to CallOptions.Tags: a call that
// dropped them would leave a value a tag invalidation misses.
func (w *comboWorld) opGetWith(r *rand.Rand, inst, table int, id string, plan opPlan) *opCtx {
	tk := tkey{table, id}
	var src hoard.Source = 99 // not a Source: GetWith must set it
	o := &hoard.CallOptions{Source: &src}
	switch r.IntN(4) {
	case 0:
		o.SkipMemory = true
	case 1:
		o.SkipShared = true
	case 2:
		o.SkipMemory, o.SkipShared = true, true
	}
	if r.IntN(3) == 0 {
		o.NoLock = true
		plan.noLock = true
	}
	if r.IntN(3) == 0 {
		o.TTL = pick(r, time.Second, 2*w.cfg.tables[table].ttl)
	}
	if r.IntN(2) == 0 {
		o.Tags = tagsOf(tk)[:1]
		plan.callTags = true
	}
	oc := w.newOp("get-with", inst, plan, tk)
	ctx, done := w.context(oc)
	defer done()
	rd := w.beginRead(oc, inst, tk)
	v, err := w.getWith(ctx, inst, tk, o)
	w.m.ended(oc.id, plan.precancel || plan.cancelCaller)
	got := w.endRead(rd, v, err)
	w.count("get-withs", 1)
	w.count("get-with source "+src.String(), 1)
	var want []hoard.Source
	switch {
	case errors.Is(err, hoard.ErrServedStale):
		want = []hoard.Source{hoard.SourceStale}
	case err == nil || errors.Is(err, hoard.ErrNotFound):
		want = []hoard.Source{hoard.SourceLoader}
		if !o.SkipMemory {
			want = append(want, hoard.SourceMemory)
		}
		if !o.SkipShared {
			want = append(want, hoard.SourceShared)
		}
	default:
		want = []hoard.Source{hoard.SourceNone}
	}
	if !slices.Contains(want, src) {
		w.m.violate("op %d: GetWith of %v on instance %d (SkipMemory=%v SkipShared=%v NoLock=%v TTL=%v Tags=%v) answered %s (err %v) with Source %q (%d), want one of %v",
			oc.id, tk, inst, o.SkipMemory, o.SkipShared, o.NoLock, o.TTL, o.Tags, got, firstLine(err), src, src, want)
	}
	w.trace.add("op %d i%d get-with %v%s skipMemory=%v skipShared=%v ttl=%v floor=%d t0=%s → %s from %s",
		oc.id, inst, tk, plan, o.SkipMemory, o.SkipShared, o.TTL, rd.floor, stamp(rd.t0), got, src)
	return oc
}

// getWith is Aside.GetWith; a loader's panic must reach the caller as an
// error, as with get.
func (w *comboWorld) getWith(ctx context.Context, inst int, tk tkey, o *hoard.CallOptions) (v comboRow, err error) {
	defer func() {
		if p := recover(); p != nil {
			w.m.violate("GetWith of %v on instance %d panicked (%v): a loader's panic must reach the caller as an error", tk, inst, p)
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return w.tab(inst, tk.table).aside.GetWith(ctx, tk.id, w.loader(inst, tk.table), o)
}

// budgets reports whether a table has a SharedBudget.
func (w *comboWorld) budgets() bool {
	return slices.ContainsFunc(w.cfg.tables, func(tc tableConfig) bool { return tc.budget != nil })
}

// peek checks the entry a Get of tk on inst would serve now without
// loading (Aside.Peek): not stale, not past its expiry.
func (w *comboWorld) peek(inst int, tk tkey) {
	oc := w.newOp("peek", inst, opPlan{}, tk)
	ctx, done := w.context(oc)
	defer done()
	r := w.beginRead(oc, inst, tk)
	e, err := comboPeek(ctx, w.tab(inst, tk.table).aside, tk.id)
	got := "nothing"
	switch {
	case errors.Is(err, hoard.ErrNotFound):
	case err != nil:
		got = "error: " + firstLine(err)
	case !e.ExpiresAt.IsZero() && !e.ExpiresAt.After(r.t0):
		w.m.violate("op %d: Peek of %v on instance %d returned an entry that expired at %v, before the Peek began (%v)",
			oc.id, tk, inst, stamp(e.ExpiresAt), stamp(r.t0))
	case e.Negative:
		w.m.checkAbsent(r, false)
		got = "not found until " + stamp(e.ExpiresAt)
	default:
		w.m.checkValue(r, e.Value, false)
		got = fmt.Sprintf("rev %d (value %d) until %s", e.Value.Rev, e.Value.Load, stamp(e.ExpiresAt))
	}
	w.count("peeks", 1)
	w.trace.add("op %d i%d peek %v floor=%d → %s", oc.id, inst, tk, r.floor, got)
}

// peekAll peeks at up to three of tks on every instance: what an
// invalidation or a write that just returned must have left.
func (w *comboWorld) peekAll(tks []tkey) {
	for i, tk := range tks {
		if i == 3 {
			break
		}
		for inst := range w.insts {
			w.peek(inst, tk)
		}
	}
}

// get is Aside.Get; a loader's panic must reach the caller as an error
// (a *hoard.PanicError), never as a panic.
func (w *comboWorld) get(ctx context.Context, inst int, tk tkey) (v comboRow, err error) {
	defer func() {
		if p := recover(); p != nil {
			w.m.violate("Get of %v on instance %d panicked (%v): a loader's panic must reach the caller as an error", tk, inst, p)
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return w.tab(inst, tk.table).aside.Get(ctx, tk.id, w.loader(inst, tk.table))
}

func (w *comboWorld) opGetMany(inst, table int, ids []string, plan opPlan) *opCtx {
	tks := make([]tkey, len(ids))
	for i, id := range ids {
		tks[i] = tkey{table, id}
	}
	oc := w.newOp("get-many", inst, plan, tks...)
	ctx, done := w.context(oc)
	defer done()
	recs := make([]readRec, len(ids))
	for i, tk := range tks {
		recs[i] = w.beginRead(oc, inst, tk)
	}
	var got map[string]comboRow
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil { // a batch loader's panic reaches its caller
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		got, err = w.tab(inst, table).aside.GetMany(ctx, ids, w.batchLoader(inst, table))
	}()
	w.m.ended(oc.id, plan.precancel || plan.cancelCaller)
	w.count("get-manys", 1)
	var out []string
	for i, r := range recs {
		v, ok := got[r.tk.id]
		switch {
		case ok && err == nil:
			out = append(out, w.endRead(r, v, nil))
		case ok && errors.Is(err, hoard.ErrServedStale):
			// Which of the values are stale GetMany does not say: check
			// them as stale serves, which must still not be invalidated.
			out = append(out, w.endRead(r, v, errors.Join(hoard.ErrServedStale, err)))
		case ok:
			out = append(out, w.endRead(r, v, nil))
		case err == nil:
			out = append(out, w.endRead(r, v, hoard.ErrNotFound))
		default:
			out = append(out, "absent")
		}
		_ = i
	}
	w.trace.add("op %d i%d get-many %v%s → %s (err %v)", oc.id, inst, tks, plan, strings.Join(out, ", "), firstLine(err))
	return oc
}

func firstLine(err error) string {
	if err == nil {
		return "nil"
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func (p opPlan) String() string {
	var parts []string
	if p.fail {
		parts = append(parts, "fail")
	}
	if p.panic {
		parts = append(parts, "panic")
	}
	if p.slow > 0 {
		parts = append(parts, "slow="+p.slow.String())
	}
	if p.advance > 0 {
		parts = append(parts, "takes="+p.advance.String())
	}
	if p.cancelCaller {
		parts = append(parts, "cancels-caller")
	}
	if p.precancel {
		parts = append(parts, "precanceled")
	}
	if p.notModified {
		parts = append(parts, "not-modified")
	}
	if p.interfereAt != "" {
		parts = append(parts, fmt.Sprintf("interfere@%s#%d", p.interfereAt, p.interfereN))
	}
	if p.burst != nil {
		parts = append(parts, "burst")
	}
	if p.callTags {
		parts = append(parts, "call-tags")
	}
	if p.noLock {
		parts = append(parts, "no-lock")
	}
	if len(parts) == 0 {
		return ""
	}
	return " [" + strings.Join(parts, " ") + "]"
}

// ---- loaders and the store ----

var (
	errSourceDown = errors.New("combo: the source is down")
	errStoreDown  = errors.New("combo: the store is down")
)

func (w *comboWorld) loader(inst, table int) hoard.Loader[comboRow] {
	return hoard.LoaderFunc[comboRow](func(ctx context.Context, id string) (comboRow, error) {
		return w.load(ctx, inst, table, id)
	})
}

func (w *comboWorld) load(ctx context.Context, inst, table int, id string) (comboRow, error) {
	tk := tkey{table, id}
	oc := opOf(ctx)
	if oc == nil {
		w.m.violate("a load of %v on instance %d has no op in its ctx: its ctx lost the caller's values", tk, inst)
		oc = w.newOp("lost", inst, opPlan{})
	}
	plan := oc.plan
	if ctx.Err() != nil {
		// Every caller left before the load began: the flight calls the
		// loader anyway, its lock attempt having failed on the ctx. Such a
		// call reads nothing; it is not a load the locker must prevent.
		w.count("loads called with their ctx ended", 1)
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			// LoadTimeout ran out before the loader was called (a slow
			// tier read ate it): a failed load for the fail-safe, as
			// one past LoadTimeout in the loader is (issue 18 is about
			// the shared tier eating the load's time).
			w.m.justify(tk, w.clock.Now())
			w.loadsFailed.Add(1)
		}
		return comboRow{}, context.Cause(ctx)
	}
	// With a locker, loads of one key take turns across instances, as long
	// as the locker is fault-free and every instance uses the same key:
	// not while instances may know different namespace versions.
	sharp := w.locker != nil && !w.cfg.faults && !(w.cfg.tables[table].namespace && w.cfg.busLoss)
	end := w.m.loadBegins(tk, inst, oc.id, oc.nsBumps, oc.lockFaults, sharp, plan.noLock, w.lockTimeouts())
	defer end()
	w.count("loads", 1)
	// The database is read first: what follows happens after the read, as
	// with a slow query whose result is on its way.
	row := w.m.read(tk)
	setTags := func() {
		if row.present {
			if !plan.callTags { // else CallOptions.Tags sets it
				hoard.SetTags(ctx, tagsOf(tk)[:1]...) // TagsOf adds the group's
			}
		} else {
			hoard.SetTags(ctx, tagsOf(tk)...) // TagsOf tags values only
		}
	}
	setTags() // a loader tags what it loads first, whatever it answers
	if plan.burst != nil {
		plan.burst.wait(ctx)
	}
	if plan.advance > 0 {
		w.clock.Advance(plan.advance)
	}
	if plan.interfereAt == "load" && oc.fired.CompareAndSwap(false, true) {
		w.interfere(oc, inst, hoardtest.Call{Method: "load", Keys: []string{id}})
	}
	if plan.slow > 0 {
		sleepCtx(ctx, plan.slow)
	}
	if plan.cancelCaller && oc.cancel != nil {
		oc.cancel(errCallerLeft)
		sleepCtx(ctx, 50*time.Millisecond) // until the flight gives up on this load, if it does
	}
	if ctx.Err() != nil {
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			w.m.justify(tk, w.clock.Now())
		}
		w.loadsFailed.Add(1)
		return comboRow{}, context.Cause(ctx)
	}
	if plan.fail {
		w.loadsFailed.Add(1)
		w.m.justify(tk, w.clock.Now())
		w.count("load failures", 1)
		return comboRow{}, errSourceDown
	}
	if plan.panic && w.cfg.panics {
		w.m.justify(tk, w.clock.Now())
		w.count("load panics", 1)
		panic(fmt.Sprintf("combo: the loader of %v panics", tk))
	}
	if !row.present {
		return comboRow{}, hoard.ErrNotFound
	}
	if plan.notModified {
		if prev, ok := hoard.PreviousEntry[comboRow](ctx); ok && !prev.Negative && prev.Value.Rev == row.rev {
			w.m.justify(tk, w.clock.Now())
			w.m.confirmed(prev.Value) // as good as loaded now
			return comboRow{}, hoard.ErrNotModified
		}
	}
	return w.m.newValue(tk, row.rev, oc.id, false), nil
}

func (w *comboWorld) batchLoader(inst, table int) hoard.BatchLoader[comboRow] {
	return hoard.BatchLoaderFunc[comboRow](func(ctx context.Context, ids []string) (map[string]comboRow, error) {
		oc := opOf(ctx)
		if oc == nil {
			w.m.violate("a batch load on instance %d has no op in its ctx", inst)
			oc = w.newOp("lost", inst, opPlan{})
		}
		plan := oc.plan
		w.count("batch loads", 1)
		rows := make([]dbRow, len(ids))
		for i, id := range ids {
			rows[i] = w.m.read(tkey{table, id})
			if rows[i].present {
				comboSetTagsFor(ctx, id, tagsOf(tkey{table, id})[:1])
			} else {
				comboSetTagsFor(ctx, id, tagsOf(tkey{table, id}))
			}
		}
		if plan.advance > 0 {
			w.clock.Advance(plan.advance)
		}
		if plan.slow > 0 {
			sleepCtx(ctx, plan.slow)
		}
		if plan.cancelCaller && oc.cancel != nil {
			oc.cancel(errCallerLeft)
		}
		if ctx.Err() != nil {
			if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				for _, id := range ids {
					w.m.justify(tkey{table, id}, w.clock.Now())
				}
			}
			return nil, context.Cause(ctx)
		}
		if plan.fail {
			for _, id := range ids {
				w.m.justify(tkey{table, id}, w.clock.Now())
			}
			return nil, errSourceDown
		}
		if plan.panic && w.cfg.panics {
			for _, id := range ids {
				w.m.justify(tkey{table, id}, w.clock.Now())
			}
			panic("combo: the batch loader panics")
		}
		out := make(map[string]comboRow, len(ids))
		for i, id := range ids {
			if rows[i].present {
				out[id] = w.m.newValue(tkey{table, id}, rows[i].rev, oc.id, false)
			}
		}
		return out, nil
	})
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// comboStore is a table of the database as a hoard.Store: writes apply
// only over older versions.
type comboStore struct {
	w        *comboWorld
	table    int
	versions hoard.CounterVersioner // for out-of-band updates: the writers' counter, without faults
	failNext atomic.Int32
}

func (s *comboStore) Load(_ context.Context, id string) (comboRow, error) {
	row := s.w.m.read(tkey{s.table, id})
	if !row.present {
		return comboRow{}, hoard.ErrNotFound
	}
	return s.w.m.newValue(tkey{s.table, id}, row.rev, ^uint64(0), false), nil
}

func (s *comboStore) Save(ctx context.Context, id string, v comboRow, version uint64) error {
	return s.apply(ctx, hoard.Write[comboRow]{ID: id, Value: v, Version: version})
}

func (s *comboStore) Delete(ctx context.Context, id string, version uint64) error {
	return s.apply(ctx, hoard.Write[comboRow]{ID: id, Version: version, Delete: true})
}

func (s *comboStore) apply(ctx context.Context, wr hoard.Write[comboRow]) error {
	w := s.w
	if oc := opOf(ctx); oc != nil && oc.plan.interfereAt == "Save" && w.cfg.interference && oc.fired.CompareAndSwap(false, true) {
		w.interfere(oc, oc.inst, hoardtest.Call{Method: "Save", Keys: []string{wr.ID}})
	}
	if s.failNext.Load() > 0 && s.failNext.Add(-1) >= 0 {
		w.count("store failures", 1)
		return errStoreDown
	}
	tk := tkey{s.table, wr.ID}
	rev := w.m.revOf(tk, wr.Version)
	if rev == 0 || (!wr.Delete && rev != wr.Value.Rev) {
		w.m.violate("the store was asked to write %v at version %d (value %+v), which no writer was given", tk, wr.Version, wr.Value)
		return nil
	}
	w.m.commit(rev)
	return nil
}

// comboBatchStore is the store as a BatchStore: one failure fails the
// batch before anything is applied.
type comboBatchStore struct{ *comboStore }

func (s comboBatchStore) WriteMany(ctx context.Context, writes []hoard.Write[comboRow]) error {
	if s.failNext.Load() > 0 && s.failNext.Add(-1) >= 0 {
		s.w.count("store failures", 1)
		return errStoreDown
	}
	for _, wr := range writes {
		if err := s.apply(ctx, wr); err != nil {
			return err
		}
	}
	return nil
}

// comboVersioner tells the model which version each write got.
type comboVersioner struct {
	w     *comboWorld
	inner hoard.CounterVersioner
}

func (v comboVersioner) NextVersion(ctx context.Context, id string) (uint64, error) {
	n, err := v.inner.NextVersion(ctx, id)
	if err == nil {
		if oc := opOf(ctx); oc != nil && oc.rev != 0 {
			v.w.m.setVersion(oc.rev, n)
		}
	}
	return n, err
}

// ---- what the tiers are handed ----

// writeFn records the entries handed to a tier, for the expiry checks.
func (w *comboWorld) writeFn(inst int, tier string) func(context.Context, hoardtest.Call, string, hoard.Entry[comboRow]) func(error) {
	return func(ctx context.Context, c hoardtest.Call, key string, e hoard.Entry[comboRow]) func(error) {
		opID := uint64(0)
		if oc := opOf(ctx); oc != nil {
			opID = oc.id
		}
		who := fmt.Sprintf("op %d's %s %s of %q on instance %d", opID, tier, c.Method, key, inst)
		stored := w.m.writing(&e, w.clock.Now(), who, inst, opID, tier)
		return func(err error) {
			what := fmt.Sprintf("rev %d value %d", e.Value.Rev, e.Value.Load)
			if e.Negative {
				what = "not found"
			}
			w.trace.add("  op %d i%d %s %s %q: %s until %s (err %v)", opID, inst, tier, c.Method, key, what, stamp(e.ExpiresAt), firstLine(err))
			// A batch's one answer names each write it refused (every
			// tier quotes the key in its error).
			batch := c.Method == "CompareAndSetMany" || c.Method == "SetMany"
			stored(err == nil || batch && !strings.Contains(err.Error(), strconv.Quote(key)), w.servable(key, e))
		}
	}
}

// servable reports whether entry e under key can still be served to a
// reader that knows everything that returned: key is under the namespace's
// current version (or under none), and no tag of e was invalidated after
// its epoch. Both read from Redis past every fault.
func (w *comboWorld) servable(key string, e hoard.Entry[comboRow]) bool {
	ctx := context.Background()
	if parts := strings.Split(key, ":"); len(parts) == 3 {
		n, err := w.clean.IncrBy(ctx, w.nsCounterKey(), 0)
		if err != nil {
			w.t.Errorf("combination test: reading the namespace's version: %v", err)
			return true
		}
		if parts[1] != strconv.FormatInt(n, 36) {
			return false
		}
	}
	if len(e.Tags) == 0 {
		return true
	}
	stamps, err := w.clean.TagEpochs(ctx, e.Tags)
	if err != nil {
		w.t.Errorf("combination test: reading the tag clock: %v", err)
		return true
	}
	return !slices.ContainsFunc(stamps, func(s int64) bool { return s > e.TagEpoch })
}

// tracer puts the deletes a tier is asked for in the trace.
func (w *comboWorld) tracer(inst int, tier string) hoardtest.Injector {
	return func(ctx context.Context, c hoardtest.Call) hoardtest.Fault {
		if c.Op == hoardtest.OpDelete {
			opID := uint64(0)
			if oc := opOf(ctx); oc != nil {
				opID = oc.id
			}
			w.trace.add("  op %d i%d %s %s %q", opID, inst, tier, c.Method, c.Keys)
		}
		return hoardtest.Fault{}
	}
}

// ---- writes ----

func (w *comboWorld) opWrite(r *rand.Rand, kind string, inst, table int, id string, plan opPlan) *opCtx {
	tk := tkey{table, id}
	oc := w.newOp(kind, inst, plan, tk)
	ctx, done := w.context(oc)
	defer done()
	tab := w.tab(inst, table)
	put := kind == "wt-put" || kind == "wb-put"
	oc.rev = w.m.newRev(tk, put, 0, oc.id)
	v := w.m.newValue(tk, oc.rev, 0, kind == "wb-put")
	if kind == "wb-delete" {
		w.m.behind(oc.rev)
	}
	sight := w.sight(inst)
	start := w.m.next()
	var err error
	switch kind {
	case "wt-put":
		err = tab.wt.Put(ctx, id, v, comboPutTags(tk)...)
	case "wt-delete":
		err = tab.wt.Delete(ctx, id)
	case "wb-put":
		err = tab.wb.Put(ctx, id, v, comboPutTags(tk)...)
	case "wb-delete":
		err = tab.wb.Delete(ctx, id, comboDeleteTags(tk)...)
	}
	w.m.writeDone(v, oc.rev)
	version := w.m.versionOf(oc.rev)
	switch {
	case err != nil && errors.Is(err, hoard.ErrDeferred) && strings.HasPrefix(kind, "wt") && version != 0 && !w.blind(inst, table, sight):
		// Stored; the cache's invalidation waits for Redis.
		w.m.failRev(oc.rev)
		w.count(kind+" deferred", 1)
		w.deferChange(inst, raise{start: start}, []tkey{tk}, []uint64{version})
	case err != nil:
		w.m.failRev(oc.rev)
		w.count(kind+" errors", 1)
	case strings.HasPrefix(kind, "wt") && w.blind(inst, table, sight):
		w.count("writes by an instance blind to the namespace", 1)
	case strings.HasPrefix(kind, "wt"):
		w.m.raise(inst, raise{start: start}, []tkey{tk}, []uint64{version}, w.busStates(), time.Time{})
		defer w.peekAll([]tkey{tk})
	default:
		w.m.acked(tk, oc.rev)
	}
	w.count(kind, 1)
	w.trace.add("op %d i%d %s %v%s rev %d version %d → %v", oc.id, inst, kind, tk, plan, oc.rev, version, firstLine(err))
	return oc
}

// ---- out-of-band changes and invalidations ----

// opChange changes rows of the database behind the caches' backs, then
// invalidates them on instance inst: kind "delete" (Aside.Delete of the
// keys), "tag" (InvalidateTags of tag, or of a tag of the first key) or
// "bump" (BumpNamespace of table 0's namespace).
func (w *comboWorld) opChange(r *rand.Rand, parent *opCtx, inst int, kind string, tks []tkey, tag string) []tkey {
	oc := w.newOp(kind, inst, opPlan{}, tks...)
	oc.nested = parent != nil
	ctx, done := w.context(oc)
	defer done()
	if kind == "bump" && !w.cfg.tables[0].namespace {
		kind = "tag"
	}
	if kind == "tag" && tag == "" {
		tag = pick(r, tagsOf(tks[0])...)
	}
	start := w.m.next()
	var changed []string
	for _, tk := range tks {
		if r.IntN(5) == 0 {
			continue
		}
		version, err := w.stores[tk.table].versions.NextVersion(ctx, tk.id)
		if err != nil {
			w.m.violate("version of an out-of-band update: %v", err)
			return nil
		}
		present := r.IntN(5) > 0
		rev := w.m.newRev(tk, present, version, oc.id)
		w.m.commit(rev)
		changed = append(changed, fmt.Sprintf("%v→rev %d v%d present=%v", tk, rev, version, present))
	}
	var affected []tkey
	switch kind {
	case "delete", "expire":
		affected = tks
	case "tag":
		affected = w.keysTagged(tag)
		for _, tk := range tks {
			if slices.Contains(tagsOf(tk), tag) && !slices.Contains(affected, tk) {
				affected = append(affected, tk)
			}
		}
	case "bump":
		for _, id := range w.ids[0] {
			affected = append(affected, tkey{0, id})
		}
		for _, tk := range tks {
			if tk.table == 0 && !slices.Contains(affected, tk) {
				affected = append(affected, tk)
			}
		}
	}
	floors := w.m.versions(affected)
	at := w.clock.Now()
	in := w.insts[inst]
	sight := w.sight(inst)
	var err error
	var byTime time.Time
	opInst := inst
	switch kind {
	case "delete":
		ids := make([]string, len(tks))
		for i, tk := range tks {
			ids[i] = tk.id
		}
		err = w.tab(inst, tks[0].table).aside.Delete(ctx, ids...)
	case "expire":
		ids := make([]string, len(tks))
		for i, tk := range tks {
			ids[i] = tk.id
		}
		err = w.tab(inst, tks[0].table).aside.Expire(ctx, ids...)
	case "tag":
		err = in.inv.InvalidateTags(ctx, tag)
		byTime = w.clock.Now().Add(w.cfg.maxStaleness)
	case "bump":
		w.m.bumped()
		w.lastBump.Store(w.m.next())
		_, err = in.inv.BumpNamespace(ctx, w.namespace())
		w.m.bumpDone()
		byTime = w.clock.Now().Add(w.cfg.maxStaleness)
	}
	busStates := w.busStates()
	// An Expire with a fail-safe window keeps the value for it: a soft
	// raise, which the fail-safe may pass once the source fails.
	soft := kind == "expire" && w.cfg.tables[tks[0].table].failSafe > 0
	if kind == "bump" && err != nil {
		// The counter may have moved without anyone being told (a fault
		// after the increment): until the local copies lapse, instances
		// may use different versions.
		w.doubtNamespace()
	}
	if kind == "bump" && err == nil {
		if doubt := w.nsDoubt.Load(); doubt != nil && w.clock.Now().Before(*doubt) {
			// Instances may still use an older version: they owe the
			// bump's floors only once their local copies lapse.
			byTime = *doubt
			for i := range busStates {
				busStates[i] = busState{pending: true, mark: math.MaxUint64}
			}
			inst = -1
		}
	}
	switch {
	case err == nil && (kind == "delete" || kind == "expire") && w.blind(inst, tks[0].table, sight):
		w.count(kind+"s by an instance blind to the namespace", 1)
	case err == nil:
		w.m.raise(inst, raise{start: start, tag: kind == "tag", soft: soft, at: at}, affected, floors, busStates, byTime)
		defer w.peekAll(affected)
	case errors.Is(err, hoard.ErrDeferred) && (kind == "delete" || kind == "expire") && w.blind(inst, tks[0].table, sight):
		w.count("deferred "+kind+"s by an instance blind to the namespace", 1)
	case errors.Is(err, hoard.ErrDeferred):
		w.count("deferred "+kind, 1)
		w.deferChange(opInst, raise{start: start, tag: kind == "tag", soft: soft, at: at}, affected, floors)
	default:
		w.count(kind+" errors", 1)
	}
	w.count("change+"+kind, 1)
	nested := ""
	if parent != nil {
		nested = fmt.Sprintf(" (inside op %d)", parent.id)
	}
	w.trace.add("op %d i%d %s %v %s%s: db %v; floors %v=%v → %v", oc.id, opInst, kind, tks, tag, nested, changed, affected, floors, firstLine(err))
	return affected
}

// interferer runs, inside an op's calls to a tier, the other op its plan
// says, once, right after the call named by the plan returned.
func (w *comboWorld) interferer(inst int) hoardtest.Injector {
	return func(ctx context.Context, c hoardtest.Call) hoardtest.Fault {
		if !w.cfg.interference {
			return hoardtest.Fault{}
		}
		oc := opOf(ctx)
		if oc == nil || oc.nested || oc.plan.interfereAt != c.Method || oc.fired.Load() {
			return hoardtest.Fault{}
		}
		if oc.calls.Add(1) != int64(oc.plan.interfereN) || !oc.fired.CompareAndSwap(false, true) {
			return hoardtest.Fault{}
		}
		return hoardtest.Fault{Then: func() { w.interfere(oc, inst, c) }}
	}
}

// interfere is another instance's (or this one's) change in the middle of
// op oc, right after call c: an out-of-band update with a Delete, a tag
// invalidation of a tag c read, a namespace bump after c read the
// namespace's version, or a write-through; for writes, followed by a read
// on another instance that may load and cache the row as it now is.
func (w *comboWorld) interfere(oc *opCtx, inst int, c hoardtest.Call) {
	r := rand.New(rand.NewPCG(w.seed, oc.id*7919+uint64(len(c.Keys))))
	w.count("interference", 1)
	target := inst
	if r.IntN(2) == 0 {
		target = r.IntN(len(w.insts))
	}
	tks := oc.tks
	var affected []tkey
	switch {
	case (c.Method == "TagEpochs") && len(c.Keys) > 0:
		tag := pick(r, c.Keys...)
		var tagged []tkey
		for _, tk := range append(w.keysTagged(tag), tks...) {
			if slices.Contains(tagsOf(tk), tag) && !slices.Contains(tagged, tk) {
				tagged = append(tagged, tk)
			}
		}
		if len(tagged) == 0 {
			return
		}
		affected = w.opChange(r, oc, target, "tag", tagged, tag)
	case c.Method == "IncrBy" && c.Delta == 0 && w.cfg.tables[0].namespace:
		ns := []tkey{{0, pick(r, w.ids[0]...)}}
		for _, tk := range tks {
			if tk.table == 0 {
				ns = append(ns, tk)
			}
		}
		affected = w.opChange(r, oc, target, "bump", ns, "")
	default:
		if len(tks) == 0 {
			return
		}
		kinds := []string{"delete", "tag", "wt-put"}
		if w.cfg.expire {
			kinds = append(kinds, "expire")
		}
		if tks[0].table == 0 && w.cfg.tables[0].namespace {
			kinds = append(kinds, "bump", "bump")
		}
		switch kind := pick(r, kinds...); kind {
		case "wt-put":
			other := (inst + 1 + r.IntN(len(w.insts)-1)) % len(w.insts)
			w.opWriteNested(oc, other, tks[0])
			affected = tks[:1]
		default:
			affected = w.opChange(r, oc, target, kind, tks, "")
		}
	}
	oc.addAffected(affected...)
	// A write, or a change, in progress may still write the old state:
	// another instance reads now, and may cache what it loads.
	if (strings.HasPrefix(oc.kind, "wt") || oc.kind == "delete" || oc.kind == "tag" || oc.kind == "bump") && len(w.insts) > 1 && len(tks) > 0 {
		other := (oc.inst + 1 + r.IntN(len(w.insts)-1)) % len(w.insts)
		w.opGetNested(oc, other, tks[0])
	}
}

// opWriteNested is a write-through on another instance inside op parent.
func (w *comboWorld) opWriteNested(parent *opCtx, inst int, tk tkey) {
	oc := w.newOp("wt-put", inst, opPlan{}, tk)
	oc.nested = true
	ctx, done := w.context(oc)
	defer done()
	oc.rev = w.m.newRev(tk, true, 0, oc.id)
	v := w.m.newValue(tk, oc.rev, 0, false)
	sight := w.sight(inst)
	start := w.m.next()
	err := w.tab(inst, tk.table).wt.Put(ctx, tk.id, v, comboPutTags(tk)...)
	w.m.writeDone(v, oc.rev)
	version := w.m.versionOf(oc.rev)
	if err != nil {
		w.m.failRev(oc.rev)
	} else if !w.blind(inst, tk.table, sight) {
		w.m.raise(inst, raise{start: start}, []tkey{tk}, []uint64{version}, w.busStates(), time.Time{})
	}
	w.trace.add("op %d i%d wt-put %v (inside op %d) rev %d version %d → %v", oc.id, inst, tk, parent.id, oc.rev, version, firstLine(err))
}

// opGetNested is a read on another instance inside op parent; it gives up
// after a while (it may wait for a lock the parent holds).
func (w *comboWorld) opGetNested(parent *opCtx, inst int, tk tkey) {
	oc := w.newOp("get", inst, opPlan{}, tk)
	oc.nested = true
	ctx, done := w.context(oc)
	defer done()
	ctx, cancel := context.WithTimeoutCause(ctx, 100*time.Millisecond, errCallerLeft)
	defer cancel()
	r := w.beginRead(oc, inst, tk)
	v, err := w.get(ctx, inst, tk)
	w.m.ended(oc.id, true) // it gives up after a while
	got := w.endRead(r, v, err)
	w.trace.add("op %d i%d get %v (inside op %d) floor=%d → %s", oc.id, inst, tk, parent.id, r.floor, got)
}

// followUp reads again, on every instance, the keys another op changed in
// the middle of oc: none may serve what that change made stale.
func (w *comboWorld) followUp(oc *opCtx) {
	oc.mu.Lock()
	affected := append([]tkey(nil), oc.affected...)
	oc.mu.Unlock()
	if len(affected) > 3 {
		affected = affected[:3]
	}
	for _, tk := range affected {
		for i := range w.insts {
			w.opGet(i, tk.table, tk.id, opPlan{})
		}
	}
}

// ---- faults ----

// corrupt writes, under the key of tk, an entry of another value type
// (a deploy that changed the type): the cache must repair it.
func (w *comboWorld) corrupt(inst int, tk tkey) {
	ctx := context.Background()
	key, err := comboKey(ctx, w.tab(inst, tk.table).aside, tk.id)
	if err != nil || key == "" {
		return
	}
	other, err := hoardredis.New[string](w.client, &hoardredis.Options{Clock: w.clock})
	if err != nil {
		w.t.Fatal(err)
	}
	now := w.clock.Now()
	if err := other.Set(ctx, key, hoard.Entry[string]{Value: "a value of another type", WrittenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		w.m.violate("writing a corrupt entry: %v", err)
	}
	w.count("corrupt entries", 1)
	w.trace.add("redis: %v (key %q) overwritten by a value of another type", tk, key)
}

// ---- the random phase ----

var interferencePoints = []string{
	"GetWithToken", "Get", "GetID", "GetMany", "GetManyWithTokens", "CompareAndSet", "CompareAndSetMany",
	"Set", "IncrBy", "TagEpochs", "Epoch", "Delete", "TryLock", "load", "Save",
}

func (w *comboWorld) drawPlan(r *rand.Rand) opPlan {
	var p opPlan
	switch x := r.IntN(40); {
	case x < 4:
		p.fail = true
	case x < 5:
		p.panic = true
	}
	if r.IntN(8) == 0 {
		p.slow = pick(r, time.Millisecond, 5*time.Millisecond, 20*time.Millisecond, 80*time.Millisecond)
	}
	if r.IntN(12) == 0 {
		p.cancelCaller = true
	}
	if r.IntN(30) == 0 {
		p.precancel = true
	}
	if r.IntN(3) == 0 {
		p.advance = pick(r, 5*time.Millisecond, 50*time.Millisecond, 300*time.Millisecond)
	}
	if r.IntN(4) == 0 {
		p.notModified = true
	}
	if w.cfg.interference && r.IntN(3) == 0 {
		p.interfereAt = pick(r, interferencePoints...)
		p.interfereN = 1 + r.IntN(2)
	}
	return p
}

func (w *comboWorld) randomOp(r *rand.Rand) {
	inst := r.IntN(len(w.insts))
	table := r.IntN(len(w.cfg.tables))
	ids := w.ids[table]
	id := ids[r.IntN(len(ids))]
	var oc *opCtx
	switch x := r.IntN(100); {
	case x < 36 && w.cfg.getWith && r.IntN(3) == 0:
		oc = w.opGetWith(r, inst, table, id, w.drawPlan(r))
	case x < 36:
		oc = w.opGet(inst, table, id, w.drawPlan(r))
	case x < 46:
		n := 2 + r.IntN(3)
		set := make([]string, n)
		for i := range set {
			set[i] = ids[r.IntN(len(ids))]
		}
		oc = w.opGetMany(inst, table, set, w.drawPlan(r))
	case x < 54:
		oc = w.opWrite(r, "wt-put", inst, table, id, w.writePlan(r))
	case x < 57:
		oc = w.opWrite(r, "wt-delete", inst, table, id, w.writePlan(r))
	case x < 63:
		oc = w.opWrite(r, "wb-put", inst, table, id, w.writePlan(r))
	case x < 65:
		oc = w.opWrite(r, "wb-delete", inst, table, id, w.writePlan(r))
	case x < 77:
		kind := pick(r, "delete", "tag", "tag", "bump")
		if w.cfg.expire && r.IntN(3) == 0 {
			kind = "expire"
		}
		n := 1 + r.IntN(3)
		tks := make([]tkey, n)
		for i := range tks {
			tks[i] = tkey{table, ids[r.IntN(len(ids))]}
		}
		if kind == "bump" {
			for i := range tks {
				tks[i].table = 0
			}
		}
		w.opChange(r, nil, inst, kind, tks, "")
		// Read what changed, soon, on a random instance.
		w.opGet(r.IntN(len(w.insts)), tks[0].table, tks[0].id, opPlan{})
	case x < 83:
		d := pick(r, 10*time.Millisecond, 200*time.Millisecond, time.Second, 3*time.Second, 11*time.Second)
		w.clock.Advance(d)
		w.trace.add("clock +%v → %s", d, stamp(w.clock.Now()))
	case x < 86 && w.cfg.breaker:
		w.outage(r, inst, table)
	case x < 88 && w.cfg.faults:
		w.toggleFault(r, inst)
	case x < 91 && w.cfg.busLoss:
		if r.IntN(2) == 0 {
			k := 1 + r.IntN(2)
			w.network.LoseNext(k)
			w.trace.add("bus: the next %d deliveries are lost", k)
		} else {
			w.network.LoseNextTo(w.insts[inst].bus, 1)
			w.trace.add("bus: the next delivery to instance %d is lost", inst)
		}
		w.count("bus losses", 1)
	case x < 93:
		w.corrupt(inst, tkey{table, id})
	case x < 95:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.tab(inst, table).wb.Flush(ctx)
		cancel()
		w.trace.add("i%d t%d write-behind flush → %v", inst, table, firstLine(err))
	default:
		oc = w.opGet(inst, table, id, w.drawPlan(r))
	}
	if oc != nil && oc.fired.Load() {
		w.followUp(oc)
	}
}

// writePlan is a write's plan: only where something else happens.
func (w *comboWorld) writePlan(r *rand.Rand) opPlan {
	var p opPlan
	if w.cfg.interference && r.IntN(2) == 0 {
		p.interfereAt = pick(r, "GetWithToken", "IncrBy", "Save", "CompareAndSet", "Set", "Delete", "GetID")
		p.interfereN = 1 + r.IntN(2)
	}
	return p
}

func (w *comboWorld) toggleFault(r *rand.Rand, inst int) {
	f := w.insts[inst].faults
	switch r.IntN(6) {
	case 0:
		f.SetDown(true)
		w.trace.add("faults: instance %d's Redis is down", inst)
	case 1:
		f.SetErrorRate(0.15, 0.5)
		w.trace.add("faults: instance %d's Redis fails 15%% of calls", inst)
	case 2:
		d := 2 * time.Millisecond
		if w.budgets() {
			d = 10 * time.Millisecond // past every SharedBudget.SoftTimeout, often
		}
		f.SetDelay(d)
		w.trace.add("faults: instance %d's Redis is slow (up to %v a call)", inst, d)
	case 3:
		table := r.IntN(len(w.stores))
		w.stores[table].failNext.Store(int32(1 + r.IntN(3)))
		w.trace.add("faults: the store of table %d fails its next writes", table)
	default:
		f.Reset()
		w.trace.add("faults: instance %d's Redis is healthy", inst)
	}
	w.count("fault toggles", 1)
}

// outage takes instance inst's Redis down (every call fails) for a
// stretch and makes changes there, which its breaker defers (ErrDeferred):
// deletes, expires, tag invalidations, bumps, write-throughs; others read
// meanwhile. Then Redis comes back; once the breaker has replayed the
// changes and closed, every instance owes them (after their bus messages,
// or MaxStaleness for tags and bumps), and reads them on every instance.
func (w *comboWorld) outage(r *rand.Rand, inst, table int) {
	in := w.insts[inst]
	in.faults.SetDown(true)
	w.trace.add("faults: instance %d's Redis is down (an outage)", inst)
	w.count("outages", 1)
	ids := w.ids[table]
	var changed []tkey
	for range 1 + r.IntN(3) {
		id := ids[r.IntN(len(ids))]
		tk := tkey{table, id}
		switch kind := pick(r, "delete", "expire", "tag", "bump", "wt-put", "wt-delete"); kind {
		case "wt-put", "wt-delete":
			w.opWrite(r, kind, inst, table, id, opPlan{})
		case "expire", "delete", "tag":
			w.opChange(r, nil, inst, kind, []tkey{tk}, "")
		case "bump":
			tk.table = 0
			w.opChange(r, nil, inst, kind, []tkey{tk}, "")
		}
		changed = append(changed, tk)
		// Another instance reads it meanwhile: its own Redis answers.
		w.opGet(r.IntN(len(w.insts)), tk.table, tk.id, opPlan{})
	}
	in.faults.Reset()
	w.trace.add("faults: instance %d's Redis is back", inst)
	if !w.breakerSettled(inst) {
		w.count("outages overlapped by another", 1)
		return // quiesce waits for it
	}
	w.applyDeferred(inst)
	for _, tk := range changed {
		for i := range w.insts {
			w.opGet(i, tk.table, tk.id, opPlan{})
		}
	}
}

// quiesce turns faults off and makes up for lost bus messages.
func (w *comboWorld) quiesce() {
	w.jumps.Store(false)
	for _, in := range w.insts {
		in.faults.Reset()
	}
	for _, s := range w.stores {
		s.failNext.Store(0)
	}
	w.network.Heal()
	w.awaitBreakers()
	w.applyDeferred()
	// A bump whose answer was lost (the counter moved, nobody was told)
	// leaves the instances on different versions until their local copies
	// lapse: let them.
	w.clock.Advance(w.cfg.maxStaleness + time.Millisecond)
	w.trace.add("quiet: faults off, bus healed, breakers closed and deferred changes replayed, local version copies lapsed")
}

// deferredRaise is a change whose caller got ErrDeferred: the breaker
// replays it once Redis is back, and from then on (the replay's bus
// messages delivered, MaxStaleness passed) every instance owes it.
type deferredRaise struct {
	inst int // whose breaker deferred it
	rz   raise
	tks  []tkey
	vs   []uint64
}

// deferChange records a change instance inst's breaker deferred.
func (w *comboWorld) deferChange(inst int, rz raise, tks []tkey, vs []uint64) {
	w.deferredMu.Lock()
	defer w.deferredMu.Unlock()
	w.deferred = append(w.deferred, deferredRaise{inst: inst, rz: rz, tks: tks, vs: vs})
}

// awaitBreakers waits until every breaker is closed with nothing deferred
// left: Redis is back, and every deferred change was replayed.
func (w *comboWorld) awaitBreakers() {
	deadline := time.Now().Add(10 * time.Second)
	for _, in := range w.insts {
		for in.breaker != nil && (in.breaker.State() != hoard.BreakerClosed || in.breaker.Deferred() > 0) {
			if time.Now().After(deadline) {
				w.m.violate("breaker of instance %d still %v with %d deferred changes 10s after Redis came back",
					in.idx, in.breaker.State(), in.breaker.Deferred())
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// applyDeferred makes every instance owe the changes the breakers of
// insts (nil: every instance) deferred, once those breakers have replayed
// them: at once where the replay's bus messages were delivered, else once
// the bus recovered, or (tags, bumps) once MaxStaleness passed.
func (w *comboWorld) applyDeferred(insts ...int) {
	w.deferredMu.Lock()
	var ds []deferredRaise
	keep := w.deferred[:0]
	for _, d := range w.deferred {
		if insts == nil || slices.Contains(insts, d.inst) {
			ds = append(ds, d)
		} else {
			keep = append(keep, d)
		}
	}
	w.deferred = keep
	w.deferredMu.Unlock()
	buses := w.busStates()
	byTime := w.clock.Now().Add(w.cfg.maxStaleness)
	for _, d := range ds {
		until := time.Time{}
		if d.rz.tag || d.tks[0].table == 0 && w.cfg.tables[0].namespace {
			until = byTime
		}
		w.m.raise(-1, d.rz, d.tks, d.vs, buses, until)
	}
	if len(ds) > 0 {
		w.trace.add("deferred changes replayed: %d now owed (instances %v)", len(ds), insts)
	}
}

// breakerSettled waits a while for instance inst's breaker to close with
// nothing deferred, and reports whether it did (another op may have taken
// its Redis down again meanwhile).
func (w *comboWorld) breakerSettled(inst int) bool {
	b := w.insts[inst].breaker
	deadline := time.Now().Add(2 * time.Second)
	for b.State() != hoard.BreakerClosed || b.Deferred() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// checkAll reads every key on every instance: once the bus has delivered
// and the faults are gone, none may be stale.
func (w *comboWorld) checkAll() {
	for i := range w.insts {
		for table, ids := range w.ids {
			for _, id := range ids {
				w.peek(i, tkey{table, id})
				w.opGet(i, table, id, opPlan{})
			}
		}
	}
}

func (w *comboWorld) run() {
	defer w.phase("rounds")()
	for round := range w.cfg.rounds {
		w.trace.add("round %d", round)
		w.jumps.Store(w.cfg.clockJumps)
		var wg sync.WaitGroup
		for wi := range w.cfg.workers {
			r := rand.New(rand.NewPCG(w.seed, uint64(round*100+wi+1)))
			wg.Go(func() {
				for range w.cfg.opsPerWorker {
					if w.m.failed() {
						return
					}
					w.randomOp(r)
				}
			})
		}
		wg.Wait()
		if w.m.failed() {
			return
		}
		w.quiesce()
		endCheck := w.phase("checks")
		w.checkAll()
		endCheck()
		if round < len(w.cfg.bursts) {
			endBurst := w.phase("burst " + w.cfg.bursts[round])
			w.burst(w.cfg.bursts[round])
			endBurst()
		}
		if w.m.failed() {
			return
		}
	}
}

// ---- bursts ----

// burstGate holds a burst's loads until every reader has arrived, or
// for at most limit (half the LoadTimeout, so that a slow machine does not
// make the load fail).
type burstGate struct {
	need    int32
	arrived atomic.Int32
	open    chan struct{}
	hold    time.Duration
	limit   time.Duration
}

func (g *burstGate) arrive() {
	if g.arrived.Add(1) == g.need {
		close(g.open)
	}
}

func (g *burstGate) wait(ctx context.Context) {
	t := time.NewTimer(g.limit)
	defer t.Stop()
	select {
	case <-g.open:
	case <-ctx.Done():
	case <-t.C:
	}
	if g.hold > 0 {
		sleepCtx(ctx, g.hold)
	}
}

// burst reads one key with many readers on every instance at once and
// counts the loads: with a locker (and Redis up), one in all; without, at
// most one per instance (the flight group). Then, with every memory tier
// cleared, one read per instance must load nothing: the shared tier holds
// the value (undecodable entries repaired, long TTLs stored).
func (w *comboWorld) burst(kind string) {
	w.quiesce()
	r := rand.New(rand.NewPCG(w.seed, uint64(0xb0+w.nextBurst.Load())))
	n := w.nextBurst.Add(1)
	table := r.IntN(len(w.cfg.tables))
	tc := w.cfg.tables[table]
	switch {
	case kind == burstNSDown && !w.cfg.tables[0].namespace,
		kind == burstExpired && w.cfg.tables[0].failSafe == 0 && w.cfg.tables[1].failSafe == 0:
		kind = burstCold
	case kind == burstNSDown:
		table = 0
	case kind == burstExpired:
		if tc.failSafe == 0 {
			table = 1 - table
		}
	}
	tc = w.cfg.tables[table]
	tk := tkey{table, fmt.Sprintf("b%d", n)}
	w.seedRow(tk, true)
	w.trace.add("burst %s of %v", kind, tk)
	w.count("burst "+kind, 1)
	per := 4
	total := per * len(w.insts)
	gate := &burstGate{need: int32(total), open: make(chan struct{}), limit: 10 * time.Second}
	if tc.loadTimeout > 0 {
		gate.limit = tc.loadTimeout / 2
	}
	oneInAll := w.locker != nil
	switch kind {
	case burstExpired:
		w.opGet(0, table, tk.id, opPlan{})
		w.clock.Advance(tc.ttl + time.Millisecond)
		// Long past the soft timeout, well within the load timeout.
		gate.hold = max(20*tc.softTimeout, 60*time.Millisecond)
		if tc.loadTimeout > 0 {
			gate.hold = min(gate.hold, tc.loadTimeout/2)
			gate.limit = tc.loadTimeout / 4
		}
	case burstNSDown:
		w.clock.Advance(w.cfg.maxStaleness + time.Millisecond) // the local copies of the version lapse
		for _, in := range w.insts {
			in.faults.SetDown(true)
		}
		oneInAll = false // the locker is on Redis, or cannot be trusted to be up
	case burstCorrupt:
		w.corrupt(0, tk)
	}
	base, _ := w.m.loadCounts(tk)
	timeouts := w.lockTimeouts()
	failed := w.loadsFailed.Load()
	var wg sync.WaitGroup
	for k := range total {
		inst := k % len(w.insts)
		if kind == burstCold && len(w.ids[0]) > 0 {
			// Unrelated invalidations between the readers' arrivals: bus
			// messages on every instance that have nothing to do with tk.
			other := tkey{table, "u" + fmt.Sprint(k)}
			if k%2 == 0 {
				w.opChange(r, nil, (inst+1)%len(w.insts), "delete", []tkey{other}, "")
			} else {
				w.opChange(r, nil, (inst+1)%len(w.insts), "tag", []tkey{other}, fmt.Sprintf("t%d:unrelated:%d", table, k))
			}
		}
		wg.Go(func() {
			gate.arrive()
			w.opGet(inst, table, tk.id, opPlan{burst: gate})
		})
	}
	wg.Wait()
	after, most := w.m.loadCounts(tk)
	loads := make([]int, len(after))
	sum := 0
	for i := range after {
		loads[i] = after[i] - base[i]
		sum += loads[i]
	}
	w.trace.add("burst %s of %v: loads per instance %v, at most %v at once", kind, tk, loads, most)
	switch {
	case slices.Max(most) > 1:
		w.m.violate("burst %s: %d readers of %v per instance ran up to %v loads at once, want 1 at a time per instance (the flight group)",
			kind, per, tk, most)
	case kind == burstNSDown:
		// Redis is down: the tag epoch cannot be read, so the value cannot
		// be cached and the readers after the load load again, one at a
		// time.
	case w.loadsFailed.Load() != failed:
		// A load failed (past its LoadTimeout on a busy machine): the
		// readers after it rightly load again.
		w.count("bursts with a failed load", 1)
	case oneInAll && w.lockTimeouts() == timeouts && sum > 1:
		w.m.violate("burst %s: %d readers of %v on %d instances with a locker made %d loads (per instance %v), want 1",
			kind, total, tk, len(w.insts), sum, loads)
	case slices.Max(loads) > 1:
		w.m.violate("burst %s: %d readers of %v per instance made %v loads, want at most 1 per instance (the flight group)",
			kind, per, tk, loads)
	}
	if kind == burstNSDown {
		w.quiesce()
		return
	}
	w.awaitShared(tk)
	for _, in := range w.insts {
		_ = in.memRaw.Clear(context.Background())
	}
	base, _ = w.m.loadCounts(tk)
	for i := range w.insts {
		w.opGet(i, table, tk.id, opPlan{})
	}
	after, _ = w.m.loadCounts(tk)
	for i := range after {
		if d := after[i] - base[i]; d > 0 {
			w.m.violate("burst %s: after the burst's load of %v was written back, instance %d (memory tier cleared) loaded it again %d times: the shared tier did not answer",
				kind, tk, i, d)
		}
	}
}

// awaitShared waits until no load of tk runs and the shared tier holds a
// fresh entry of it (or a while has passed: the sequential reads then
// tell whether it was ever written).
func (w *comboWorld) awaitShared(tk tkey) {
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		w.m.mu.Lock()
		busy := len(w.m.active[tk]) > 0
		w.m.mu.Unlock()
		if !busy {
			key, err := comboKey(ctx, w.tab(0, tk.table).aside, tk.id)
			if err == nil {
				if e, err := w.insts[0].sharedRaw.Get(ctx, key); err == nil && e.IsFresh(w.clock.Now()) {
					return
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// ---- the end ----

// closeWhileReading closes every Aside while readers still read, near
// expiry, with loads that take time: early refreshes and loads past their
// soft timeout start in the background while Close waits for them. Then a
// second Close waits for those started after the first.
func (w *comboWorld) closeWhileReading(ctx context.Context) {
	defer w.phase("close while reading")()
	if w.m.failed() {
		return // the readers' reads would bury the failure's trace
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	step := w.cfg.tables[0].ttl / 20
	for i := range w.insts {
		readers.Go(func() {
			r := rand.New(rand.NewPCG(w.seed, uint64(0xc105e+i)))
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				table := r.IntN(len(w.cfg.tables))
				id := w.ids[table][r.IntN(len(w.ids[table]))]
				plan := opPlan{advance: 200 * time.Millisecond}
				if r.IntN(3) == 0 {
					plan.slow = 10 * time.Millisecond
				}
				w.opGet(i, table, id, plan)
				if k%4 == 0 {
					w.clock.Advance(step)
				}
			}
		})
	}
	// Let the readers get going: every instance has read a few times.
	for range 50 {
		w.opGet(0, 0, w.ids[0][0], opPlan{advance: 200 * time.Millisecond})
	}
	var closers sync.WaitGroup
	for _, in := range w.insts {
		for _, tab := range in.tabs {
			closers.Go(func() {
				if err := tab.aside.Close(ctx); err != nil {
					w.m.violate("Aside.Close while reading: %v", err)
				}
			})
		}
	}
	closers.Wait()
	close(stop)
	readers.Wait()
	w.closeAll(ctx)
}

// closeAll closes every Aside (again): it waits for the background loads
// started after an earlier Close.
func (w *comboWorld) closeAll(ctx context.Context) {
	for _, in := range w.insts {
		for _, tab := range in.tabs {
			if err := tab.aside.Close(ctx); err != nil {
				w.m.violate("Aside.Close after the readers: %v", err)
			}
		}
	}
}
