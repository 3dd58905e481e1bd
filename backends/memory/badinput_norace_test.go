//go:build !race

package memory_test

// raceEnabled reports a -race build: the race detector makes each Set
// ~10x slower, so the biggest loads shrink under it.
const raceEnabled = false
