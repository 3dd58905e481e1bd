// Package scaling measures how the cost of hoard's operations grows
// (issue 15, item 4): a hit, a miss with write-back and a GetMany as the
// value grows from 100 B to 1 MB (with and without compression), a GetMany
// as the batch grows from 1 to 10,000 ids, a hit and the heap per entry as
// the memory tier holds from 10^3 to 10^7 entries, and the loader calls
// and Redis commands per second as 1 to 8 instances share one Redis under
// the same read load. Every figure sits beside a baseline measured in the
// same run (otter, raw go-redis, a naive cache-aside), as a ratio.
//
// Command: go -C bench run ./cmd/scaling (see its doc).
package scaling
