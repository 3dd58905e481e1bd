package memory

import (
	"context"
	"errors"
	"fmt"

	"github.com/hoard-cache/hoard"
)

// Aside is a [hoard.Aside] with the memory tier [NewAside] made for it:
// every method of hoard.Aside, and a Close that closes both.
type Aside[V any] struct {
	*hoard.Aside[V]
	mem *Cache[V]
}

// NewAside returns a memory-only cache-aside named name (its key prefix
// and metrics name), in one call: a memory tier configured by mem (nil:
// the defaults of [Options]) behind the policy (nil: hoard's defaults).
// The policy's Name must be empty or name, and its Memory nil: to put an
// Aside in front of a cache of your own, use hoard.NewAside. Unless mem
// gives Metrics, the memory tier counts its evictions in the Aside's.
//
// For a service with a Redis tier and several instances, see
// backends/hoardredis.NewService.
func NewAside[V any](name string, policy *hoard.AsideOptions[V], mem *Options[V]) (*Aside[V], error) {
	var o hoard.AsideOptions[V]
	if policy != nil {
		o = *policy
	}
	switch {
	case name == "":
		return nil, fmt.Errorf("%w: memory aside: empty name", hoard.ErrInvalidOption)
	case o.Name != "" && o.Name != name:
		return nil, fmt.Errorf("%w: memory aside %q: the policy's Name %q differs", hoard.ErrInvalidOption, name, o.Name)
	case o.Memory != nil:
		return nil, fmt.Errorf("%w: memory aside %q: the policy has a Memory tier already: give it to hoard.NewAside", hoard.ErrInvalidOption, name)
	}
	o.Name = name
	if o.Metrics == nil {
		o.Metrics = hoard.NewMetrics(name, nil)
	}
	var mo Options[V]
	if mem != nil {
		mo = *mem
	}
	if mo.Metrics == nil {
		mo.Metrics = o.Metrics
	}
	if mo.Clock == nil {
		mo.Clock = o.Clock
	}
	c, err := New(&mo)
	if err != nil {
		return nil, err
	}
	o.Memory = c
	a, err := hoard.NewAside(&o)
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return &Aside[V]{Aside: a, mem: c}, nil
}

// Memory returns the memory tier, for its Len and WeightedSize.
func (a *Aside[V]) Memory() *Cache[V] { return a.mem }

// Close closes the Aside (it waits for its background loads until ctx
// ends, see hoard.Aside.Close), then stops the memory tier's goroutine.
// The Aside stays usable; expired entries are then dropped when read or
// pushed out.
func (a *Aside[V]) Close(ctx context.Context) error {
	return errors.Join(a.Aside.Close(ctx), a.mem.Close())
}
