package otel

import (
	"fmt"
	"math"
	"slices"

	"github.com/hoard-cache/hoard"
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

// defaultLoadBuckets: 0.5ms to about 16.4s, each twice the last.
var defaultLoadBuckets = func() []float64 {
	b := make([]float64, 16)
	for i := range b {
		b[i] = 0.0005 * math.Pow(2, float64(i))
	}
	return b
}()

// withDefaults returns a copy of o with every unset field at its default;
// o may be nil. Bucket slices are copied, so the caller may reuse theirs.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.LoadBuckets == nil {
		c.LoadBuckets = defaultLoadBuckets
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
	if err := validBuckets(o.LoadBuckets); err != nil {
		return fmt.Errorf("%w: otel LoadBuckets: %s", hoard.ErrInvalidOption, err)
	}
	if err := validBuckets(o.LockWaitBuckets); err != nil {
		return fmt.Errorf("%w: otel LockWaitBuckets: %s", hoard.ErrInvalidOption, err)
	}
	return nil
}

// validBuckets checks what the SDK would otherwise reject, logging and
// falling back to its defaults: boundaries that are NaN, infinite or not
// strictly increasing. An empty list is refused too, as it leaves a single
// bucket.
func validBuckets(b []float64) error {
	if len(b) == 0 {
		return fmt.Errorf("no bucket")
	}
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("bucket %d is %g", i, v)
		}
		if i > 0 && v <= b[i-1] {
			return fmt.Errorf("bucket %d (%g) is not above bucket %d (%g)", i, v, i-1, b[i-1])
		}
	}
	return nil
}
