package reliability_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/hoard-cache/hoard"
)

// outageReport is what the outage test measured, to check and to log.
type outageReport struct {
	before, outage                       time.Duration // how long the load ran before Redis went, and Redis was gone
	openedAfter                          time.Duration // from Redis gone to every breaker open
	closedAfter                          time.Duration // from Redis back to every breaker closed, changes replayed
	recoveredAfter                       time.Duration // from Redis back to recovery done (buses caught up too)
	loadsAtStart, loadsAtDown, loadsAtUp []int64       // loader calls by instance
	loadsByCacheAtDown, loadsByCacheAtUp map[string]int64
	changes                              map[string]time.Duration // how long A's calls took, Redis down
}

// reportOutage checks what must hold of the whole run and logs the
// figures docs/reliability.md reports.
func (r *outageRig) reportOutage(m outageReport) {
	t := r.t
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "every breaker open %v after Redis went; closed %v after it came back; recovery done after %v",
		m.openedAfter.Round(time.Millisecond), m.closedAfter.Round(time.Millisecond), m.recoveredAfter.Round(time.Millisecond))
	fmt.Fprintf(&b, "\nA's changes, Redis down: Delete %v, InvalidateTags %v, BumpNamespace %v",
		m.changes["Delete"].Round(time.Millisecond), m.changes["InvalidateTags"].Round(time.Millisecond), m.changes["BumpNamespace"].Round(time.Millisecond))
	for i, in := range r.insts {
		bm := in.svc.Breaker().Metrics().Snapshot()
		bus := in.svc.Bus().Stats()
		before := float64(m.loadsAtDown[i]-m.loadsAtStart[i]) / m.before.Seconds()
		during := float64(m.loadsAtUp[i]-m.loadsAtDown[i]) / m.outage.Seconds()
		fmt.Fprintf(&b, "\ninstance %s: breaker opened %d, closed %d, deferred %d, replayed %d, dropped %d; bus reconnects %d, flushes %d; loads/s %.0f before, %.0f during the outage",
			in.name, bm.Total(hoard.EventBreakerOpen), bm.Total(hoard.EventBreakerClose), bm.Total(hoard.EventDeferred),
			bm.Total(hoard.EventReplayed), bm.Total(hoard.EventDropped), bus.Reconnects, bus.Flushes, before, during)
		if bm.Total(hoard.EventBreakerOpen) == 0 || bm.Total(hoard.EventBreakerClose) == 0 {
			t.Errorf("instance %s: the breaker opened %d and closed %d times; want both at least once",
				in.name, bm.Total(hoard.EventBreakerOpen), bm.Total(hoard.EventBreakerClose))
		}
		if bm.Total(hoard.EventDropped) > 0 {
			t.Errorf("instance %s: %d deferred changes dropped", in.name, bm.Total(hoard.EventDropped))
		}
	}
	mostLoads := 0
	for _, c := range r.caches {
		var served []string
		for i, a := range c.asides {
			s := a.Metrics().Snapshot()
			served = append(served, fmt.Sprintf("%s: memory %d, redis %d, loads %d, stale %d, untaggable %d, lock waits %d",
				r.insts[i].name, s.Count(hoard.EventHit, hoard.TierMemory), s.Count(hoard.EventHit, hoard.TierShared),
				s.Total(hoard.EventLoad), s.Total(hoard.EventStaleServe), s.Total(hoard.EventUntaggable), s.Total(hoard.EventLockWait)))
			// Per process, a key has one load in the flight group and at
			// most one background refresh (past a soft timeout) at a time.
			// A bus invalidation detaches a load in flight and lets the
			// next read start another: none reaches an instance while
			// Redis is down.
			most := c.loaders[i].most(phaseOutage)
			mostLoads = max(mostLoads, most)
			if most > 2 {
				t.Errorf("cache %s, instance %s: %d loads of one key at once during the outage; want at most 2 (the flight's, a background refresh)",
					c.name, r.insts[i].name, most)
			}
		}
		fmt.Fprintf(&b, "\ncache %s (loader calls during the outage, all instances: %d): %s",
			c.name, m.loadsByCacheAtUp[c.name]-m.loadsByCacheAtDown[c.name], strings.Join(served, "; "))
	}
	fmt.Fprintf(&b, "\nthe most loads of one key at once on one instance during the outage: %d", mostLoads)
	fmt.Fprintf(&b, "\nreads by the phase they began in:%s", r.log.report())
	t.Log(b.String())

	for p := range phaseCount {
		if n := r.log.out[p].get("error"); n > 0 {
			t.Errorf("%d reads failed (%s); want every read served (memory tier, Redis, fail-safe or loader)", n, phaseNames[p])
		}
	}
	if n := r.log.out[phaseAfter].get("old"); n > 0 {
		t.Errorf("%d stale reads after recovery (a value older than its row's latest committed change); first: %s",
			n, strings.Join(r.log.staleAfter, "; "))
	}
	if r.log.out[phaseAfter].get("reads") == 0 {
		t.Error("no read after recovery")
	}
}
