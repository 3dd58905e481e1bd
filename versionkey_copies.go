package hoard

import (
	"strconv"
	"time"

	"github.com/maypok86/otter/v2"
)

// The Invalidator's local copies of namespace versions and tag stamps:
// kept only when newer than what is there, never older than what this
// instance made itself, and dropped by the bus.

// keepVersion keeps v as ns's local copy and last known version (see
// keepNewest) and returns the newest known.
func (inv *Invalidator) keepVersion(ns string, v namespaceVersion, since uint64) namespaceVersion {
	if m, ok := inv.made.GetIfPresent(madeNamespace + ns); ok && m > v.n {
		// Read before this instance's own bump landed: the bump's
		// version is the newer, and the read stores nothing.
		return newNamespaceVersion(m)
	}
	keepNewest(inv, inv.lastKnown, ns, v, since)
	return keepNewest(inv, inv.namespaces, ns, v, since)
}

// keepStamp is keepVersion for tag t's stamp.
func (inv *Invalidator) keepStamp(t string, stamp int64, since uint64) int64 {
	if m, ok := inv.made.GetIfPresent(madeTag + t); ok && m > stamp {
		return m
	}
	return keepNewest(inv, inv.stamps, t, stamp, since)
}

// The kinds of keys of Invalidator.made.
const (
	madeNamespace = "n:"
	madeTag       = "t:"
)

// madeHere records that this instance made version v of key (see made).
func (inv *Invalidator) madeHere(key string, v int64) {
	inv.made.Compute(key, func(old int64, found bool) (int64, otter.ComputeOp) {
		if found && old >= v {
			return old, otter.CancelOp
		}
		return v, otter.WriteOp
	})
}

func newNamespaceVersion(n int64) namespaceVersion {
	return namespaceVersion{n: n, text: strconv.FormatInt(n, 36)}
}

// versioned is what the local copies hold: a namespace version or a tag
// stamp, both counts that only grow.
type versioned interface{ namespaceVersion | int64 }

func versionOf[T versioned](v T) int64 {
	switch v := any(v).(type) {
	case namespaceVersion:
		return v.n
	case int64:
		return v
	}
	return 0
}

// keepNewest stores v, read from the shared store after the drop count
// was since, as the local copy of key, unless the copy already holds a
// newer one (a bump or invalidation made here while the read ran), or the
// bus dropped copies since the read began (it may have announced a newer
// one than the read saw: the next read asks again). Either way a copy
// never goes backwards. It returns the newest version known, which is what
// the caller uses.
func keepNewest[T versioned](inv *Invalidator, c *otter.Cache[string, T], key string, v T, since uint64) T {
	out := v
	c.Compute(key, func(old T, found bool) (T, otter.ComputeOp) {
		switch {
		case found && versionOf(old) >= versionOf(v):
			out = old
			return old, otter.CancelOp
		case !found && inv.dropped.Load() != since:
			return old, otter.CancelOp
		}
		return v, otter.WriteOp
	})
	return out
}

// otterClockOf gives otter the hoard clock: nil (otter's own) for the
// system clock, else an adapter that never ticks.
func otterClockOf(c Clock) otter.Clock {
	if _, ok := c.(SystemClock); ok {
		return nil
	}
	if oc, ok := c.(otter.Clock); ok {
		return oc
	}
	return tickless{c}
}

type tickless struct{ Clock }

func (t tickless) NowNano() int64                    { return t.Now().UnixNano() }
func (tickless) Tick(time.Duration) <-chan time.Time { return nil }
