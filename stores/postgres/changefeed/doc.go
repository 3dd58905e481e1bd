// Package changefeed turns committed PostgreSQL changes into hoard
// invalidations, so a row changed from outside the application (psql, a
// migration, another service) stops being served by every instance.
//
// It reads the database's logical replication stream (the pgoutput plugin,
// through github.com/jackc/pglogrepl) from a replication slot over a
// publication of the tables an application names. Each committed row change
// is mapped, by a [Table] declared for its table, to [Invalidations] (ids of
// an Aside, tags, namespaces to bump) which a [Sink] applies: wire it to
// Aside.Delete, Invalidator.InvalidateTags and Invalidator.BumpNamespace,
// which delete in the shared tier and publish on the bus, so every instance
// hears them.
//
// Guarantees:
//
//   - At least once. The slot's confirmed position advances past a
//     transaction only after the Sink returned nil for it; a consumer that
//     dies between the two replays the transaction on the next start.
//   - Nothing missed while no instance listened: the slot keeps the changes
//     until they are confirmed.
//   - One consumer at a time: every instance may run [Feed.Run]; they queue
//     on a PostgreSQL advisory lock held on a dedicated connection, which
//     the server releases when that connection or its process dies, and the
//     next in line takes over. (The slot itself admits a single reader.)
//   - Bounded WAL: a slot retains WAL until confirmed; set the server's
//     max_slot_wal_keep_size. A consumer away longer than that finds its
//     slot invalidated (wal_status "lost"): the feed drops and recreates it,
//     calls Sink.Flush (everything cached may be stale: bump the
//     namespaces, or deliver an InvalidateAll) and resumes. The same flush
//     follows the slot's first creation, since changes made before it are
//     unknown.
//
// Retiring a feed: a slot retains WAL until it is dropped, so a service
// that stops caching the tables, or a test with a slot of its own, calls
// [Drop] once its feeds stopped.
//
// Keys of deleted rows: with REPLICA IDENTITY DEFAULT, a DELETE carries only
// the primary key columns of the old row, and an UPDATE the old key only
// when the key changed. Map rows from key columns, or run
// ALTER TABLE t REPLICA IDENTITY FULL when a mapping reads other columns
// (a tag from a "team" column, say) so the old row is complete.
package changefeed
