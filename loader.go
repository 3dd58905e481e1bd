package hoard

import "context"

// Loader loads the value of an id from the source of truth (a database, a
// service) on a cache miss. Returning an error wrapping [ErrNotFound] says
// the source has no such value; cache-aside then caches that answer for
// the negative TTL.
type Loader[V any] interface {
	Load(ctx context.Context, id string) (V, error)
}

// LoaderFunc adapts a function to a [Loader], as http.HandlerFunc does.
type LoaderFunc[V any] func(ctx context.Context, id string) (V, error)

// Load calls f(ctx, id).
func (f LoaderFunc[V]) Load(ctx context.Context, id string) (V, error) { return f(ctx, id) }
