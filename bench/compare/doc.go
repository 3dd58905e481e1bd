// Package compare runs hoard and its peer libraries side by side on the
// same workloads, against the same Redis, in one process, and reports each
// figure with its ratio to hoard and a verdict against hoard's targets
// (issue 9).
//
// The peers, each used as its documentation shows and configured the best
// reasonable way for the workload:
//
//   - github.com/go-redis/cache/v9: Cache.Once (singleflight per process)
//     over go-redis, with its TinyLFU local cache when an in-process tier is
//     on;
//   - github.com/viccon/sturdyc: GetOrFetch and GetOrFetchBatch, with its
//     early refreshes for the expiry storm and a DistributedStorage over
//     go-redis where instances share Redis;
//   - github.com/maypok86/otter/v2 used directly: Get with a Loader,
//     BulkGet, and refresh-after-write (RefreshCalculator);
//   - raw github.com/redis/go-redis/v9: GET, MGET and pipelines, decoding
//     the same JSON as hoard;
//   - naive: the cache-aside a user writes without a library (GET; on a
//     miss load and SET), on go-redis;
//   - for the hit ratio only, github.com/hashicorp/golang-lru/v2 as the LRU
//     reference.
//
// The workloads: hits from the in-process tier (1 goroutine and parallel),
// hits from Redis with the in-process tier off, batches of 100 keys, a
// stampede of 4 instances × 250 goroutines on one expired key, an expiry
// storm on a hot key, a Zipf read workload for the hit ratio, and the heap
// per cached entry. The micro workloads (1–3) are Go benchmark functions,
// run through testing.Benchmark by [Run] and by the package's benchmarks.
//
// Command: go -C bench run ./cmd/compare (see its doc).
package compare
