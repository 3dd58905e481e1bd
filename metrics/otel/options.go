package otel

import (
	"fmt"
	"slices"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/recorderkit"
)

// Options configure a [Recorder]. The zero value, and a nil *Options, give
// the defaults documented on each field.
type Options struct {
	// LoadBuckets are the bucket boundaries, in seconds, finite and
	// strictly increasing, that hoard.load.duration advises the SDK to
	// use (a view may override them). Default 16 boundaries from 0.5ms
	// doubling to about 16.4s; the SDK's own default is meant for
	// milliseconds and would put nearly every load in its first bucket.
	LoadBuckets []float64

	// LockWaitBuckets are the advised bucket boundaries of
	// hoard.lock.wait, as LoadBuckets. Default the LoadBuckets in effect:
	// a lock wait is a wait for someone else's load.
	LockWaitBuckets []float64
}

// withDefaults returns a copy of o with every unset field at its default;
// o may be nil. Bucket slices are copied, so the caller may reuse theirs.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
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
	if err := recorderkit.ValidBuckets(o.LoadBuckets, false); err != nil {
		return fmt.Errorf("%w: otel LoadBuckets: %s", hoard.ErrInvalidOption, err)
	}
	if err := recorderkit.ValidBuckets(o.LockWaitBuckets, false); err != nil {
		return fmt.Errorf("%w: otel LockWaitBuckets: %s", hoard.ErrInvalidOption, err)
	}
	return nil
}
