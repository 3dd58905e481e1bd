package hoardredis

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hoard-cache/hoard"
)

// handler is one Subscribe call.
type handler struct {
	fn     func([]hoard.Invalidation)
	active atomic.Bool // false once unsubscribed: no new call starts
}

// handlerSet is the handlers of a Bus or a Tracker: read without a lock on
// every delivery, changed under one. The zero value holds none.
type handlerSet struct {
	mu   sync.Mutex                 // serialises changes
	list atomic.Pointer[[]*handler] // never mutated once stored
}

// all returns the handlers now.
func (s *handlerSet) all() []*handler {
	if l := s.list.Load(); l != nil {
		return *l
	}
	return nil
}

// subscribe adds fn and returns what removes it, once.
func (s *handlerSet) subscribe(fn func(events []hoard.Invalidation)) (unsubscribe func()) {
	if fn == nil {
		return func() {}
	}
	h := &handler{fn: fn}
	h.active.Store(true)
	s.mu.Lock()
	hs := append(slices.Clone(s.all()), h)
	s.list.Store(&hs)
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.active.Store(false)
			s.mu.Lock()
			hs := slices.DeleteFunc(slices.Clone(s.all()), func(x *handler) bool { return x == h })
			s.list.Store(&hs)
			s.mu.Unlock()
		})
	}
}
