package reliability_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// svcInstance is one instance of a service wired the way the README shows:
// a go-redis client with ContextTimeoutEnabled (go-redis's defaults
// otherwise), one hoardredis.Service per process, one hoardredis.NewAside
// per cache. Each instance connects through addr, often a fault proxy.
type svcInstance struct {
	name   string
	client *goredis.Client
	svc    *hoardredis.Service
	marks  *markers // marker events its bus delivered (see syncBuses)
}

// newSvcInstance starts an instance of the application app on addr; opts
// may be nil (the service's defaults, as the README's). The service is
// closed when the test ends, with every cache it made.
func newSvcInstance(t testing.TB, name, addr, app string, opts *hoardredis.ServiceOptions) *svcInstance {
	t.Helper()
	client := goredis.NewClient(&goredis.Options{Addr: addr, ClientName: name, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	o := hoardredis.ServiceOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = quiet // the faults make the bus and the breaker warn on purpose
	}
	if o.InstanceID == "" {
		o.InstanceID = name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, err := hoardredis.NewService(ctx, client, app, &o)
	if err != nil {
		t.Fatalf("instance %s: %v", name, err)
	}
	in := &svcInstance{name: name, client: client, svc: svc, marks: newMarkers()}
	t.Cleanup(func() {
		// Background loads may wait on a Redis that a test left cut:
		// bounded, and the leak check would name what stays.
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := svc.Close(cctx); err != nil {
			t.Errorf("instance %s: Close: %v", name, err)
		}
	})
	return in
}

// listen subscribes the instance's marker handler to its bus: call it
// after making the caches, so a marker delivered means the caches applied
// what came before it.
func (in *svcInstance) listen() { in.svc.Bus().Subscribe(in.marks.handle) }

// newSvcAside makes the cache name of the instance with policy.
func newSvcAside[V any](t testing.TB, in *svcInstance, name string, policy *hoard.AsideOptions[V]) *hoard.Aside[V] {
	t.Helper()
	a, err := hoardredis.NewAside(in.svc, name, policy)
	if err != nil {
		t.Fatalf("instance %s: cache %s: %v", in.name, name, err)
	}
	return a
}

var svcMarkerSeq atomic.Int64

// syncBuses returns once each instance's bus has delivered a marker
// published by every other instance after the call: each bus subscribes
// and publishes again, and each has applied everything before the markers
// (a flush after a reconnect included). Markers are published again every
// 100ms, as pub/sub may lose them; it fails the test after d.
func syncBuses(t testing.TB, ins []*svcInstance, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, from := range ins {
		marker := fmt.Sprintf("marker:%s:%d", from.name, svcMarkerSeq.Add(1))
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = from.svc.Bus().Publish(ctx, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: marker})
			cancel()
			all := false
			for end := time.Now().Add(100 * time.Millisecond); !all && time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
				all = true
				for _, in := range ins {
					all = all && (in == from || in.marks.has(marker))
				}
			}
			if all {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the bus did not carry a marker from %s within %v", from.name, d)
			}
		}
	}
}
