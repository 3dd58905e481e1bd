package httpcache

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/hoard-cache/hoard"
)

// The render's ctx. A response stored for everyone must not depend on
// what a middleware in front put in the caller's ctx (the authenticated
// user, a tenant, a feature flag): the handler rendering it gets a ctx of
// its own, made from context.Background, that ends when the render is
// canceled (every waiting client left, or the Aside's LoadTimeout) and
// carries only what this package puts there (the keyed user and locale,
// the tags being collected), plus what Options.RenderContext chooses to
// carry over, such as a trace span.

// renderState is what a render's ctx carries for this package.
type renderState struct {
	load context.Context // the Aside's load ctx, for hoard.SetTags

	mu   sync.Mutex
	tags []string // every tag given by Tag and Options.Tags; guarded by mu
}

type renderStateKey struct{}

// renderStateOf returns the state of the render ctx belongs to, nil
// outside a render.
func renderStateOf(ctx context.Context) *renderState {
	s, _ := ctx.Value(renderStateKey{}).(*renderState)
	return s
}

// tag records tags for the CDN headers and gives them to the load.
func (s *renderState) tag(tags ...string) {
	if len(tags) == 0 {
		return
	}
	s.mu.Lock()
	for _, t := range tags {
		if !slices.Contains(s.tags, t) {
			s.tags = append(s.tags, t)
		}
	}
	s.mu.Unlock()
	hoard.SetTags(s.load, tags...)
}

// collected returns the tags given so far.
func (s *renderState) collected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tags)
}

// renderContext returns the ctx a handler renders with: the load's
// cancellation and deadline, this package's values, and what
// Options.RenderContext carries over from the caller's ctx (values only:
// the render may outlive the caller). release must be called when the
// render is done.
func (c *Cache) renderContext(load, caller context.Context, in *requestInputs) (ctx context.Context, state *renderState, release func()) {
	ctx = context.Background()
	cancelDeadline := func() {}
	if d, ok := load.Deadline(); ok {
		ctx, cancelDeadline = context.WithDeadline(ctx, d)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(load, func() { cancel(context.Cause(load)) })
	state = &renderState{load: load}
	ctx = context.WithValue(ctx, renderStateKey{}, state)
	if c.key.user != nil || c.key.locale != nil {
		v := *in
		ctx = context.WithValue(ctx, inputsKey{}, &v)
	}
	if c.carry != nil {
		carried := c.carry(ctx, context.WithoutCancel(caller))
		if carried == nil || renderStateOf(carried) != state {
			cancel(nil)
			cancelDeadline()
			stop()
			panic(fmt.Sprintf("hoard: httpcache %q: Options.RenderContext must return a ctx derived from its render argument", c.name))
		}
		ctx = carried
	}
	return ctx, state, func() {
		stop()
		cancel(nil)
		cancelDeadline()
	}
}

// CarryValues returns an Options.RenderContext that carries the caller's
// values of the given ctx keys over to the render, and nothing else. Each
// must be something a stored response may depend on for everyone (a
// router's parameters, a trace span, a logger), never who the caller is.
func CarryValues(keys ...any) func(render, caller context.Context) context.Context {
	keys = slices.Clone(keys)
	return func(render, caller context.Context) context.Context {
		for _, k := range keys {
			if v := caller.Value(k); v != nil {
				render = context.WithValue(render, k, v)
			}
		}
		return render
	}
}
