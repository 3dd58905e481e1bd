package roundtrips

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
)

// Item is the value every cache of the run holds.
type Item struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// instance is one process of the application: its client (counted), its
// service, and the caches the operations use.
type instance struct {
	client  *goredis.Client
	counter *Counter
	svc     *hoardredis.Service
	plain   *hoard.Aside[Item] // the service's defaults, but no Locker
	locked  *hoard.Aside[Item] // the service's defaults: its Locker
	ns      *hoard.Aside[Item] // in namespace "catalog", no Locker
	wt      *hoard.WriteThrough[Item]
	// evicted gets a value when the bus made the plain cache evict an
	// entry from its memory tier.
	evicted chan struct{}
}

// evictions is the Recorder that tells an instance of its plain cache's
// evictions by the bus.
type evictions struct{ c chan struct{} }

func (e evictions) Add(cache string, ev hoard.Event, tier hoard.Tier, _ int64) {
	if cache == "plain" && ev == hoard.EventInvalidation && tier == hoard.TierMemory {
		select {
		case e.c <- struct{}{}:
		default:
		}
	}
}
func (evictions) ObserveLoad(string, time.Duration, bool) {}
func (evictions) ObserveLockWait(string, time.Duration)   {}

// maxStaleness is the instances' ServiceOptions.MaxStaleness: long, so
// that the counts do not depend on how long the run takes (the tag epoch
// and namespace versions are read again once per MaxStaleness; the rows
// say so).
const maxStaleness = time.Minute

// fixture is two instances of one application on one Redis.
type fixture struct {
	app    string
	a, b   *instance
	store  *store
	nextID atomic.Int64
}

// store is the source of truth: a map, versioned as hoard.Store asks.
type store struct {
	mu   sync.Mutex
	rows map[string]Item // guarded by mu
}

func (s *store) Load(_ context.Context, id string) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it, ok := s.rows[id]; ok {
		return it, nil
	}
	return Item{ID: id, Name: "item " + id}, nil
}

func (s *store) Save(_ context.Context, id string, v Item, _ uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows[id] = v
	return nil
}

func (s *store) Delete(_ context.Context, id string, _ uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rows, id)
	return nil
}

func (s *store) LoadMany(ctx context.Context, ids []string) (map[string]Item, error) {
	out := make(map[string]Item, len(ids))
	for _, id := range ids {
		out[id], _ = s.Load(ctx, id)
	}
	return out, nil
}

// newFixture starts two instances of a new application on the Redis at
// addr.
func newFixture(ctx context.Context, addr string) (*fixture, error) {
	var r [4]byte
	_, _ = rand.Read(r[:])
	f := &fixture{app: "rt-" + hex.EncodeToString(r[:]), store: &store{rows: map[string]Item{}}}
	var err error
	if f.a, err = f.instance(ctx, addr); err != nil {
		return nil, err
	}
	if f.b, err = f.instance(ctx, addr); err != nil {
		f.a.close()
		return nil, err
	}
	return f, nil
}

func (f *fixture) instance(ctx context.Context, addr string) (*instance, error) {
	in := &instance{counter: NewCounter(classifier(f.app)), evicted: make(chan struct{}, 1)}
	in.client = goredis.NewClient(&goredis.Options{Addr: addr})
	in.client.AddHook(in.counter)
	var err error
	if in.svc, err = hoardredis.NewService(ctx, in.client, f.app, &hoardredis.ServiceOptions{Recorder: evictions{in.evicted}, MaxStaleness: maxStaleness}); err != nil {
		_ = in.client.Close()
		return nil, err
	}
	hour := hoard.AsideOptions[Item]{TTL: time.Hour}
	noLock := hour
	noLock.Stampede = &hoard.Stampede{Locker: hoardredis.NoLocker}
	ns := noLock
	ns.Namespace = "catalog"
	if in.plain, err = hoardredis.NewAside(in.svc, "plain", &noLock); err == nil {
		if in.locked, err = hoardredis.NewAside(in.svc, "locked", &hour); err == nil {
			if in.ns, err = hoardredis.NewAside(in.svc, "spaced", &ns); err == nil {
				in.wt, err = hoard.NewWriteThrough(&hoard.WriteThroughOptions[Item]{Aside: in.plain, Store: f.store})
			}
		}
	}
	if err != nil {
		in.close()
		return nil, err
	}
	return in, nil
}

func (in *instance) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = in.svc.Close(ctx)
	_ = in.client.Close()
}

// close stops both instances and deletes the application's keys.
func (f *fixture) close(ctx context.Context) error {
	var errs []error
	iter := f.a.client.Scan(ctx, 0, f.app+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	errs = append(errs, iter.Err())
	for len(keys) > 0 {
		n := min(len(keys), 500)
		errs = append(errs, f.a.client.Del(ctx, keys[:n]...).Err())
		keys = keys[n:]
	}
	f.a.close()
	f.b.close()
	return errors.Join(errs...)
}

// id returns an id no operation has used.
func (f *fixture) id() string { return fmt.Sprint("i", f.nextID.Add(1)) }

// ids returns n ids no operation has used.
func (f *fixture) ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f.id()
	}
	return out
}

// classifier names a command by what it touches, from the key names the
// Service derives from app (see hoardredis.Service): "GET entry",
// "EVALSHA lock", "PUBLISH bus".
func classifier(app string) func(goredis.Cmder) string {
	return func(cmd goredis.Cmder) string {
		name := strings.ToUpper(cmd.Name())
		args := cmd.Args()
		keyAt := 1
		switch name {
		case "EVALSHA", "EVAL":
			keyAt = 3
		case "PING", "INFO", "SCRIPT":
			return name
		}
		if len(args) <= keyAt {
			return name
		}
		key, _ := args[keyAt].(string)
		return name + " " + keyKind(app, key)
	}
}

// keyKind is what key is in the application's names.
func keyKind(app, key string) string {
	rest, ok := strings.CutPrefix(key, app+":")
	if !ok {
		return "other"
	}
	switch first, _, _ := strings.Cut(rest, ":"); {
	case first == "lock":
		return "lock"
	case first == "ns":
		return "namespace"
	case first == "bus" || rest == "bus":
		return "bus"
	case strings.HasPrefix(first, "{"):
		return "tag clock"
	case strings.Contains(rest, ":%25version:"):
		return "version"
	}
	return "entry"
}
