// Package roundtrips counts the Redis round trips and commands of each
// operation of hoard (issue 15, item 5): a hit, a miss with write-back, a
// GetMany, a write-through, a delete (a bus message), a tag invalidation,
// a namespace bump. Each is counted twice: by a go-redis hook on the
// instance's client (a pipeline is one round trip) and by the server's
// INFO commandstats before and after. The counts are set beside the least
// each operation could make, with the reason.
//
// The server's counts are only the operation's own on a server that no one
// else uses: [StartServer] starts a private redis-server for the run.
//
// Command: go -C bench run ./cmd/roundtrips (see its doc).
package roundtrips
