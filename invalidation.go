package hoard

import "context"

// InvalidationKind is what an [Invalidation] makes unreachable.
type InvalidationKind uint8

// The kinds of invalidation a [Bus] carries.
const (
	// InvalidateKey evicts one storage key.
	InvalidateKey InvalidationKind = iota + 1
	// InvalidatePrefix evicts every storage key starting with Value.
	InvalidatePrefix
	// InvalidateTag evicts every entry tagged Value (see Entry.Tags).
	InvalidateTag
	// InvalidateNamespace tells that the namespace Value was bumped to a
	// new version (see Namespaces).
	InvalidateNamespace
	// InvalidateAll evicts everything: the receiver flushes its memory
	// tier. A bus delivers it on its own when it may have lost messages.
	InvalidateAll
)

// String returns the kind's name: "key", "prefix", ...
func (k InvalidationKind) String() string {
	switch k {
	case InvalidateKey:
		return "key"
	case InvalidatePrefix:
		return "prefix"
	case InvalidateTag:
		return "tag"
	case InvalidateNamespace:
		return "namespace"
	case InvalidateAll:
		return "all"
	}
	return "unknown"
}

// Invalidation is one event of a [Bus].
type Invalidation struct {
	Kind  InvalidationKind
	Value string // the key, prefix, tag or namespace; empty for InvalidateAll
}

// Bus broadcasts invalidations to every instance of a service, so each can
// evict what it keeps in its memory tier. backends/hoardredis.NewBus is one over
// Redis pub/sub.
//
// Pub/sub delivers at most once, so a Bus must tell its subscribers when
// messages may have been lost (a subscription that reconnected, a gap in a
// sender's sequence numbers, a handler that fell behind) by delivering an
// [InvalidateAll]: the receiver then flushes its memory tier, and serves no
// stale value afterwards.
type Bus interface {
	// Publish sends events to every other instance on the bus. An instance
	// does not receive its own events.
	Publish(ctx context.Context, events ...Invalidation) error

	// Subscribe calls fn with the events of other instances, in order,
	// from one goroutine of the bus. fn must be quick (evict, do not
	// load). The returned function unsubscribes fn.
	Subscribe(fn func(events []Invalidation)) (unsubscribe func())
}
