package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// outageCache is one cache of the outage test, made on every instance.
type outageCache struct {
	name    string
	src     *memStore[string]
	ids     []string
	asides  []*hoard.Aside[string] // by instance
	loaders []*countingLoader      // by instance
}

// The caches of the outage test, each a different way of being served or
// invalidated.
const (
	cacheHot    = "hot"    // TTL 200ms: entries expire during the outage and are loaded again
	cacheFlaky  = "flaky"  // TTL 200ms, its source down with Redis: the fail-safe answers
	cacheRows   = "rows"   // TTL 1h: instance A deletes rows during the outage
	cacheTagged = "tagged" // TTL 1h, tagged "grp:<n>": A invalidates a tag
	cacheSpaced = "spaced" // TTL 1h, in the namespace "spaced": A bumps it
)

// outageKeys is how many ids each cache reads.
const outageKeys = 8

// outagePolicy is the policy of each cache, as a service would give it.
func outagePolicy(name string) *hoard.AsideOptions[string] {
	switch name {
	case cacheHot:
		return &hoard.AsideOptions[string]{TTL: 200 * time.Millisecond}
	case cacheFlaky:
		return &hoard.AsideOptions[string]{TTL: 200 * time.Millisecond, FailSafe: &hoard.FailSafe{Window: time.Minute}}
	case cacheTagged:
		return &hoard.AsideOptions[string]{TTL: time.Hour, TagsOf: func(id string, _ string) []string { return []string{tagOf(id)} }}
	case cacheSpaced:
		return &hoard.AsideOptions[string]{TTL: time.Hour, Namespace: "spaced"}
	}
	return &hoard.AsideOptions[string]{TTL: time.Hour}
}

// tagOf is the tag of a row of the tagged cache: its id's parity.
func tagOf(id string) string { return fmt.Sprintf("grp:%d", len(id)%2) }

// outageRig is the outage test's world: the instances, their caches and
// the reads they made.
type outageRig struct {
	t      *testing.T
	insts  []*svcInstance
	caches []*outageCache
	log    readLog
}

func newOutageRig(t *testing.T, addr string, instances int) *outageRig {
	app := fmt.Sprintf("outage%d", time.Now().UnixNano())
	r := &outageRig{t: t}
	r.log.t = t
	for i := range instances {
		r.insts = append(r.insts, newSvcInstance(t, string(rune('a'+i)), addr, app, nil))
	}
	for _, name := range []string{cacheHot, cacheFlaky, cacheRows, cacheTagged, cacheSpaced} {
		c := &outageCache{name: name, src: newMemStore[string]()}
		for k := range outageKeys {
			id := fmt.Sprintf("%s%d", name, k)
			if k%2 == 1 { // ids of both lengths' parities: both tags
				id += "x"
			}
			c.ids = append(c.ids, id)
			changeRow(c.src, id)
		}
		for _, in := range r.insts {
			c.asides = append(c.asides, newSvcAside(t, in, name, outagePolicy(name)))
			c.loaders = append(c.loaders, newCountingLoader(c.src, &r.log.phase))
		}
		r.caches = append(r.caches, c)
	}
	for _, in := range r.insts {
		in.listen()
	}
	return r
}

func (r *outageRig) cache(name string) *outageCache {
	for _, c := range r.caches {
		if c.name == name {
			return c
		}
	}
	r.t.Fatalf("no cache %q", name)
	return nil
}

// read reads every id of every cache on instance i once, recording each
// read; done ends the round early.
func (r *outageRig) read(i int, done <-chan struct{}, pace *time.Ticker) {
	for _, c := range r.caches {
		for _, id := range c.ids {
			select {
			case <-done:
				return
			case <-pace.C:
			}
			phase := r.log.phase.Load()
			_, want, _ := c.src.Row(id)
			// Longer than the Stampede's Wait (5s), which a read may spend
			// on a lock whose holder could not release it (see
			// docs/reliability.md).
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			v, err := c.asides[i].Get(ctx, id, c.loaders[i])
			took := time.Since(start)
			cancel()
			_, latest, _ := c.src.Row(id)
			r.log.record(phase, r.insts[i].name, c.name, id, want, latest, v, err, took)
		}
	}
}

// readAll reads every id of every cache on instance i once, unpaced.
func (r *outageRig) readAll(i int) {
	pace := time.NewTicker(time.Microsecond)
	defer pace.Stop()
	r.read(i, nil, pace)
}

// loads returns the loader calls of every cache by instance, and by cache.
func (r *outageRig) loads() (byInstance []int64, byCache map[string]int64) {
	byInstance = make([]int64, len(r.insts))
	byCache = make(map[string]int64)
	for _, c := range r.caches {
		for i, l := range c.loaders {
			n := l.calls.Load()
			byInstance[i] += n
			byCache[c.name] += n
		}
	}
	return byInstance, byCache
}

// Redis down for 5 s under a read load from 3 instances wired as the
// README shows (hoardredis.NewService and NewAside, the service's default
// budget and breaker). Instance A deletes rows, invalidates a tag and bumps
// a namespace while Redis is down, after the rows changed in the source.
// Checked: every breaker opens; every read is served (memory tier,
// fail-safe, loader) and none returns a value that was never committed;
// loads stay at most one per key per instance at a time; A's changes
// return errors matching ErrDeferred; every breaker closes once Redis is
// back; and no read that begins once recovery is done (every breaker
// closed with its deferred changes replayed, every bus subscribed again
// and caught up) returns a value older than its row's latest committed
// change: 0 stale reads.
func TestRedisDownFiveSeconds(t *testing.T) {
	const (
		instances = 3
		readers   = 2 // per instance
		outageFor = 5 * time.Second
	)
	srv := startRedis(t)
	proxy := newFaultProxy(t, srv.Addr())
	r := newOutageRig(t, proxy.Addr(), instances)
	for i := range r.insts { // warm every tier
		r.readAll(i)
	}
	loadsAtStart, _ := r.loads()
	startAt := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range r.insts {
		for range readers {
			wg.Go(func() {
				pace := time.NewTicker(2 * time.Millisecond)
				defer pace.Stop()
				for {
					select {
					case <-done:
						return
					default:
					}
					r.read(i, done, pace)
				}
			})
		}
	}
	stop := sync.OnceFunc(func() { close(done); wg.Wait() })
	defer stop()
	eventually(t, 20*time.Second, "reads before the outage", func() bool { return r.log.out[phaseBefore].get("reads") >= 2000 })

	// Redis goes away.
	loadsAtDown, loadsByCacheAtDown := r.loads()
	downAt := time.Now()
	before := downAt.Sub(startAt)
	proxy.Down()
	r.log.phase.Store(phaseOutage)
	r.cache(cacheFlaky).src.fail.Store(true) // its database is down too
	eventually(t, outageFor, "every breaker opens", func() bool {
		for _, in := range r.insts {
			if in.svc.Breaker().State() == hoard.BreakerClosed {
				return false
			}
		}
		return true
	})
	openedAfter := time.Since(downAt)
	changes := r.changeDuringOutage()

	// Redis comes back after outageFor.
	time.Sleep(time.Until(downAt.Add(outageFor)))
	loadsAtUp, loadsByCacheAtUp := r.loads()
	proxy.Up()
	upAt := time.Now()
	r.log.phase.Store(phaseRecovering)
	r.cache(cacheFlaky).src.fail.Store(false)
	eventually(t, 20*time.Second, "every breaker closes with its deferred changes replayed", func() bool {
		for _, in := range r.insts {
			b := in.svc.Breaker()
			if b.State() != hoard.BreakerClosed || b.Deferred() > 0 {
				return false
			}
		}
		return true
	})
	closedAfter := time.Since(upAt)
	syncBuses(t, r.insts, 10*time.Second)
	r.log.phase.Store(phaseAfter)
	recoveredAfter := time.Since(upAt)
	eventually(t, 20*time.Second, "reads after recovery", func() bool { return r.log.out[phaseAfter].get("reads") >= 2000 })
	stop()
	for i := range r.insts { // and a last read of every row on every instance
		r.readAll(i)
	}

	r.reportOutage(outageReport{
		openedAfter: openedAfter, closedAfter: closedAfter, recoveredAfter: recoveredAfter,
		before: before, loadsAtStart: loadsAtStart,
		outage: upAt.Sub(downAt), loadsAtDown: loadsAtDown, loadsAtUp: loadsAtUp,
		loadsByCacheAtDown: loadsByCacheAtDown, loadsByCacheAtUp: loadsByCacheAtUp,
		changes: changes,
	})
}

// changeDuringOutage changes rows in the sources and makes instance A
// invalidate them, Redis being down: a Delete, a tag invalidation, a
// namespace bump. Each must say it was deferred. It returns how long each
// call took.
func (r *outageRig) changeDuringOutage() map[string]time.Duration {
	t := r.t
	a := r.insts[0]
	took := make(map[string]time.Duration)
	call := func(what string, f func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		err := f(ctx)
		took[what] = time.Since(start)
		if !errors.Is(err, hoard.ErrDeferred) {
			t.Errorf("%s with Redis down = %v; want an error matching hoard.ErrDeferred", what, err)
		} else {
			t.Logf("%s with Redis down (%v): %v", what, took[what].Round(time.Millisecond), err)
		}
	}
	rows := r.cache(cacheRows)
	deleted := rows.ids[:outageKeys/2]
	for _, id := range deleted {
		changeRow(rows.src, id)
	}
	call("Delete", func(ctx context.Context) error { return rows.asides[0].Delete(ctx, deleted...) })

	tagged := r.cache(cacheTagged)
	for _, id := range tagged.ids {
		if tagOf(id) == "grp:1" {
			changeRow(tagged.src, id)
		}
	}
	call("InvalidateTags", func(ctx context.Context) error { return a.svc.Invalidator().InvalidateTags(ctx, "grp:1") })

	spaced := r.cache(cacheSpaced)
	for _, id := range spaced.ids {
		changeRow(spaced.src, id)
	}
	call("BumpNamespace", func(ctx context.Context) error {
		_, err := a.svc.Invalidator().BumpNamespace(ctx, "spaced")
		return err
	})
	return took
}
