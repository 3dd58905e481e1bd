package hoardredis

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hoard-cache/hoard"
)

// TrackerOptions configure a [Tracker]. Prefix is required; the other
// fields have the defaults stated on each.
type TrackerOptions struct {
	// Prefix is the key prefix Redis tracks (CLIENT TRACKING ... BCAST
	// PREFIX): a write to any key starting with it, by any client, is
	// delivered as an InvalidateKey of that key. A Service uses "app:".
	Prefix string

	// Ignore lists prefixes, under Prefix, of keys whose writes are not
	// delivered: keys that are not cache entries (a Service ignores its
	// locks, tag clock, namespace counters, queues and probes, which it
	// writes on its own paths and no memory tier holds).
	Ignore []string

	// PingInterval is how long a tracking connection may stay quiet before
	// it is pinged; a ping unanswered for another PingInterval counts as a
	// lost connection (a flush, and a new connection). Default: 5s.
	PingInterval time.Duration

	// RefreshInterval is how often, on a Redis Cluster, the tracker asks
	// the cluster for its masters, to track a master that appeared (a
	// promoted replica) and drop one that left. A tracking connection that
	// fails asks at once. Default: 1s.
	RefreshInterval time.Duration

	// Logger receives lost tracking connections and flushes. Default:
	// slog.Default().
	Logger *slog.Logger
}

// Defaults of TrackerOptions.
const (
	defaultTrackerPing    = 5 * time.Second
	defaultTrackerRefresh = time.Second
)

func (o *TrackerOptions) validate() error {
	switch {
	case o.Prefix == "":
		return fmt.Errorf("%w: redis tracker: Prefix is empty (it would track every key of the server)", hoard.ErrInvalidOption)
	case o.PingInterval < 0 || o.PingInterval > 0 && o.PingInterval < 10*time.Millisecond:
		return fmt.Errorf("%w: redis tracker: PingInterval %v is negative or under 10ms", hoard.ErrInvalidOption, o.PingInterval)
	case o.RefreshInterval < 0 || o.RefreshInterval > 0 && o.RefreshInterval < 10*time.Millisecond:
		return fmt.Errorf("%w: redis tracker: RefreshInterval %v is negative or under 10ms", hoard.ErrInvalidOption, o.RefreshInterval)
	}
	for _, p := range o.Ignore {
		if !strings.HasPrefix(p, o.Prefix) || p == o.Prefix {
			return fmt.Errorf("%w: redis tracker: Ignore prefix %q is not a longer prefix under Prefix %q", hoard.ErrInvalidOption, p, o.Prefix)
		}
	}
	return nil
}

func (o TrackerOptions) withDefaults() TrackerOptions {
	if o.PingInterval == 0 {
		o.PingInterval = defaultTrackerPing
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = defaultTrackerRefresh
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Ignore = append([]string(nil), o.Ignore...)
	return o
}

// ignored reports whether writes to key are not delivered.
func (o *TrackerOptions) ignored(key string) bool {
	for _, p := range o.Ignore {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
