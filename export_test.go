package hoard

import (
	"testing"
	"time"
)

// WaitForLoadWaiters blocks until n callers wait on the load of id's key
// running in a (for tests of package hoard_test that must know a Get has
// joined a load).
func WaitForLoadWaiters[V any](t *testing.T, a *Aside[V], id string, n int) {
	t.Helper()
	key := a.Key(id)
	deadline := time.Now().Add(30 * time.Second)
	for {
		a.flights.mu.Lock()
		got := 0
		if f := a.flights.flights[key]; f != nil {
			got = f.waiters
		}
		a.flights.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers wait on the load of %q; want %d", got, key, n)
		}
		time.Sleep(time.Millisecond)
	}
}
