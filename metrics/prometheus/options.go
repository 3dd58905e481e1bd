package prometheus

import (
	"fmt"
	"slices"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/recorderkit"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a [Recorder]. The zero value, and a nil *Options, give
// the defaults documented on each field.
type Options struct {
	// Namespace prefixes every metric name: with "hoard" the counter is
	// hoard_events_total. It must match [a-zA-Z_:][a-zA-Z0-9_:]*.
	// Default "hoard".
	Namespace string

	// Registerer is where New registers the collectors. When a collector
	// with the same name, help and labels is already registered there (by
	// an earlier New, say), New reuses it rather than failing, so two
	// Recorders on one registry feed the same series; any other conflict
	// is an error from New. Default prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer

	// LoadBuckets are the upper bounds, in seconds and strictly
	// increasing, of hoard_load_duration_seconds' buckets. Default 16
	// buckets from 0.5ms doubling to about 16.4s
	// (prometheus.ExponentialBuckets(0.0005, 2, 16)).
	LoadBuckets []float64

	// LockWaitBuckets are the upper bounds, in seconds and strictly
	// increasing, of hoard_lock_wait_seconds' buckets. Default the
	// LoadBuckets in effect: a lock wait is a wait for someone else's load.
	LockWaitBuckets []float64
}

// withDefaults returns a copy of o with every unset field at its default;
// o may be nil. Bucket slices are copied, so the caller may reuse theirs.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Namespace == "" {
		c.Namespace = "hoard"
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.DefaultRegisterer
	}
	if c.LoadBuckets == nil {
		c.LoadBuckets = recorderkit.DefaultLoadBuckets()
	}
	if c.LockWaitBuckets == nil {
		c.LockWaitBuckets = c.LoadBuckets
	}
	c.LoadBuckets = slices.Clone(c.LoadBuckets)
	c.LockWaitBuckets = slices.Clone(c.LockWaitBuckets)
	return c
}

// validate reports the first bad option, wrapping [hoard.ErrInvalidOption].
// It runs on the options with defaults filled in.
func (o *Options) validate() error {
	if !validNamespace(o.Namespace) {
		return fmt.Errorf("%w: prometheus Namespace %q is not a valid metric name prefix", hoard.ErrInvalidOption, o.Namespace)
	}
	if err := recorderkit.ValidBuckets(o.LoadBuckets, true); err != nil {
		return fmt.Errorf("%w: prometheus LoadBuckets: %s", hoard.ErrInvalidOption, err)
	}
	if err := recorderkit.ValidBuckets(o.LockWaitBuckets, true); err != nil {
		return fmt.Errorf("%w: prometheus LockWaitBuckets: %s", hoard.ErrInvalidOption, err)
	}
	return nil
}

// validNamespace reports whether ns matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func validNamespace(ns string) bool {
	if ns == "" {
		return false
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
